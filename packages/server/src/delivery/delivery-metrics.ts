/** A histogram's state, as `/metrics` renders it: counts per upper bound (not cumulative). */
export interface HistogramState {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** A Prometheus-style histogram of seconds: observing allocates nothing. */
export class Histogram implements HistogramState {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(seconds: number): void {
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= (this.bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        break;
      }
    }
    this.sum += seconds;
    this.count++;
  }
}

/** Bounds for cold resolutions: from 100 µs (the target is under a millisecond) to a second. */
export const RESOLUTION_BOUNDS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

/** Bounds for NOTIFY lag: from a millisecond (loopback) to 10 s. */
export const LAG_BOUNDS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * What the delivery area measures for `/metrics` besides its caches' counters: how long cold
 * resolutions of runtime sets take, and how late change notifications from the database arrive.
 */
export class DeliveryMetrics {
  /** Runtime sets resolved from the store (cache misses), in seconds, excluding time queued. */
  readonly coldResolutions = new Histogram(RESOLUTION_BOUNDS_SECONDS);
  /**
   * From a write's commit (the writer's clock, carried in the notification) to this server
   * receiving its notification, in seconds; clocks of different machines can disagree, so a
   * negative lag counts as 0.
   */
  readonly notifyLag = new Histogram(LAG_BOUNDS_SECONDS);
}
