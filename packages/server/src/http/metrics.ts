const BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Request counts and latencies in the Prometheus text format (SPEC §7: counts and latencies only,
 * labelled by method, route pattern and status — never a path with names in it).
 */
export class Metrics {
  readonly #counts = new Map<string, number>();
  readonly #histograms = new Map<string, { buckets: number[]; sum: number; count: number }>();

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = `method="${method}",route="${escapeLabel(route)}",status="${status}"`;
    this.#counts.set(labels, (this.#counts.get(labels) ?? 0) + 1);
    const key = `method="${method}",route="${escapeLabel(route)}"`;
    let histogram = this.#histograms.get(key);
    if (!histogram) {
      histogram = { buckets: BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 };
      this.#histograms.set(key, histogram);
    }
    BUCKETS_SECONDS.forEach((bound, i) => {
      if (seconds <= bound && histogram) histogram.buckets[i] = (histogram.buckets[i] ?? 0) + 1;
    });
    histogram.sum += seconds;
    histogram.count++;
  }

  render(): string {
    const lines = [
      "# HELP lockbox_http_requests_total HTTP requests by method, route and status.",
      "# TYPE lockbox_http_requests_total counter",
    ];
    for (const [labels, count] of this.#counts) lines.push(`lockbox_http_requests_total{${labels}} ${count}`);
    lines.push(
      "# HELP lockbox_http_request_duration_seconds HTTP request latency.",
      "# TYPE lockbox_http_request_duration_seconds histogram",
    );
    for (const [labels, h] of this.#histograms) {
      BUCKETS_SECONDS.forEach((bound, i) => {
        lines.push(
          `lockbox_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${h.buckets[i] ?? 0}`,
        );
      });
      lines.push(`lockbox_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`lockbox_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`lockbox_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    return `${lines.join("\n")}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
