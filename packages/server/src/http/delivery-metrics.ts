import type { Delivery } from "../delivery/delivery.js";
import type { Metrics } from "./metrics.js";

/**
 * The delivery area's figures on `/metrics` (issue 10): the runtime cache (hits, misses, evictions,
 * bytes, sets), the org snapshots of the cold path, cold resolutions of runtime sets and their
 * duration, and NOTIFY lag. Everything is read when `/metrics` is rendered; nothing here runs on
 * the request path. Counts only: no name, id or value of a secret.
 */
export function registerDeliveryMetrics(metrics: Metrics, delivery: Delivery): void {
  const cache = delivery.runtimeCache;
  metrics.counter(
    "lockbox_runtime_cache_hits_total",
    "Runtime set requests served from the cache.",
    () => cache.hits,
  );
  metrics.counter(
    "lockbox_runtime_cache_misses_total",
    "Runtime set requests the cache could not serve (resolved from the store).",
    () => cache.misses,
  );
  metrics.counter(
    "lockbox_runtime_cache_evictions_total",
    "Runtime sets dropped from the cache to stay within its byte budget.",
    () => cache.evictions,
  );
  metrics.gauge("lockbox_runtime_cache_bytes", "Bytes of the runtime sets cached now.", () => cache.bytes);
  metrics.gauge("lockbox_runtime_cache_sets", "Runtime sets cached now.", () => cache.size);
  const snapshots = delivery.orgSnapshots;
  if (snapshots) {
    metrics.counter(
      "lockbox_org_snapshot_hits_total",
      "Cold resolutions that found their org's snapshot in memory.",
      () => snapshots.stats.hits,
    );
    metrics.counter(
      "lockbox_org_snapshot_misses_total",
      "Cold resolutions that read their org's secrets from the store.",
      () => snapshots.stats.misses,
    );
    metrics.counter(
      "lockbox_org_snapshot_evictions_total",
      "Org snapshots dropped to stay within their byte budget.",
      () => snapshots.stats.evictions,
    );
    metrics.gauge(
      "lockbox_org_snapshot_bytes",
      "Bytes of the org snapshots held now (sealed bytes counted twice).",
      () => snapshots.stats.bytes,
    );
    metrics.gauge(
      "lockbox_site_rows_bytes",
      "Bytes of sites' own secret rows held now (sealed), so an org change reads no site from the store.",
      () => snapshots.stats.siteRowsBytes,
    );
  }
  metrics.histogram(
    "lockbox_cold_resolution_seconds",
    "Runtime sets resolved from the store (cache misses): how long each took, not counting time queued.",
    () => delivery.metrics.coldResolutions,
  );
  metrics.histogram(
    "lockbox_notify_lag_seconds",
    "From a write's commit (the writer's clock) to this server receiving its change notification (PostgreSQL).",
    () => delivery.metrics.notifyLag,
  );
}
