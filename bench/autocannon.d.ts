/**
 * The part of autocannon 8's API that `runtime.ts` uses (the package ships no types, and
 * `@types/autocannon` is not a dependency). Latencies are in milliseconds (whole milliseconds in the
 * percentiles: autocannon's histogram does not resolve below 1 ms), request rates per second.
 */
declare module "autocannon" {
  export interface Options {
    url: string;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Seconds before a request counts as a timeout. */
    timeout?: number;
    method?: string;
    headers?: Record<string, string>;
    /** Responses whose body differs count as `mismatches`. */
    expectBody?: string;
  }

  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p99: number;
  }

  export interface Result {
    requests: Histogram;
    latency: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    resets: number;
    "2xx": number;
    statusCodeStats: Record<string, { count: number }>;
    duration: number;
  }

  export default function autocannon(options: Options): Promise<Result>;
}
