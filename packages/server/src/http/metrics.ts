import type { HistogramState } from "../delivery/delivery-metrics.js";

const BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * One route's counts and latencies. Created once per route when it is registered, so observing a
 * request builds no strings and allocates nothing (it runs on the hot path).
 */
export class RouteMetrics {
  readonly statusCounts = new Map<number, number>();
  readonly buckets = BUCKETS_SECONDS.map(() => 0);
  sum = 0;
  count = 0;

  constructor(readonly labels: string) {}

  observe(status: number, seconds: number): void {
    this.statusCounts.set(status, (this.statusCounts.get(status) ?? 0) + 1);
    for (let i = 0; i < BUCKETS_SECONDS.length; i++) {
      if (seconds <= (BUCKETS_SECONDS[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1;
        break;
      }
    }
    this.sum += seconds;
    this.count++;
  }
}

/**
 * Request counts and latencies in the Prometheus text format (SPEC §7: counts and latencies only,
 * labelled by method, route pattern and status — never a path with names in it).
 */
export class Metrics {
  readonly #routes = new Map<string, RouteMetrics>();
  readonly #gauges: Array<{ name: string; help: string; type: "gauge" | "counter"; read: () => number }> = [];
  readonly #histograms: Array<{ name: string; help: string; read: () => HistogramState }> = [];

  /** A gauge read when the metrics are rendered (nothing is counted on the request path). */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.push({ name, help, type: "gauge", read });
  }

  /** A counter (only ever grows; `name` ends in `_total`) read when the metrics are rendered. */
  counter(name: string, help: string, read: () => number): void {
    this.#gauges.push({ name, help, type: "counter", read });
  }

  /** A histogram kept elsewhere (its bounds in seconds), read when the metrics are rendered. */
  histogram(name: string, help: string, read: () => HistogramState): void {
    this.#histograms.push({ name, help, read });
  }

  /** The metrics of one route (method and URL pattern), created on first use. */
  route(method: string, url: string): RouteMetrics {
    const labels = `method="${escapeLabel(method)}",route="${escapeLabel(url)}"`;
    let metrics = this.#routes.get(labels);
    if (!metrics) {
      metrics = new RouteMetrics(labels);
      this.#routes.set(labels, metrics);
    }
    return metrics;
  }

  render(): string {
    const lines = [
      "# HELP lockbox_http_requests_total HTTP requests by method, route and status.",
      "# TYPE lockbox_http_requests_total counter",
    ];
    for (const route of this.#routes.values()) {
      for (const [status, count] of route.statusCounts) {
        lines.push(`lockbox_http_requests_total{${route.labels},status="${status}"} ${count}`);
      }
    }
    lines.push(
      "# HELP lockbox_http_request_duration_seconds HTTP request latency.",
      "# TYPE lockbox_http_request_duration_seconds histogram",
    );
    for (const route of this.#routes.values()) {
      if (route.count === 0) continue;
      let cumulative = 0;
      BUCKETS_SECONDS.forEach((bound, i) => {
        cumulative += route.buckets[i] ?? 0;
        lines.push(
          `lockbox_http_request_duration_seconds_bucket{${route.labels},le="${bound}"} ${cumulative}`,
        );
      });
      lines.push(`lockbox_http_request_duration_seconds_bucket{${route.labels},le="+Inf"} ${route.count}`);
      lines.push(`lockbox_http_request_duration_seconds_sum{${route.labels}} ${route.sum}`);
      lines.push(`lockbox_http_request_duration_seconds_count{${route.labels}} ${route.count}`);
    }
    for (const gauge of this.#gauges) {
      lines.push(
        `# HELP ${gauge.name} ${gauge.help}`,
        `# TYPE ${gauge.name} ${gauge.type}`,
        `${gauge.name} ${gauge.read()}`,
      );
    }
    for (const histogram of this.#histograms) {
      const { bounds, counts, sum, count } = histogram.read();
      lines.push(`# HELP ${histogram.name} ${histogram.help}`, `# TYPE ${histogram.name} histogram`);
      let cumulative = 0;
      bounds.forEach((bound, i) => {
        cumulative += counts[i] ?? 0;
        lines.push(`${histogram.name}_bucket{le="${bound}"} ${cumulative}`);
      });
      lines.push(
        `${histogram.name}_bucket{le="+Inf"} ${count}`,
        `${histogram.name}_sum ${sum}`,
        `${histogram.name}_count ${count}`,
      );
    }
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
