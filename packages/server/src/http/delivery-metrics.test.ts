import { describe, expect, it } from "vitest";
import { createTestApp } from "../testing/test-app.js";
import { sqliteTestDatabase } from "../testing/test-databases.js";
import { Metrics } from "./metrics.js";

/** The value of an unlabelled sample (or a labelled one, given with its labels) in `/metrics`. */
function sample(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} is not in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe("delivery metrics on /metrics", () => {
  it("counts runtime cache hits and misses, its bytes, cold resolutions, org snapshots and NOTIFY lag", async () => {
    const database = sqliteTestDatabase();
    const t = await createTestApp(database);
    try {
      const admin = { token: t.adminToken };
      await t.call("POST", "/v1/orgs", { ...admin, body: { name: "org-m" } });
      await t.call("POST", "/v1/sites", { ...admin, body: { name: "site-m", org: "org-m" } });
      await t.call("PUT", "/v1/orgs/org-m/secrets/SHARED", { ...admin, body: { value: "v", scopes: "web" } });
      const token = (
        await t.call("POST", "/v1/tokens", {
          ...admin,
          body: { kind: "runtime", site: "site-m", env: "live" },
        })
      ).json.token as string;
      const metrics = async () => (await t.call("GET", "/metrics")).body;

      const before = await metrics();
      expect(before).toContain("# TYPE lockbox_runtime_cache_hits_total counter");
      expect(before).toContain("# TYPE lockbox_cold_resolution_seconds histogram");
      expect(sample(before, "lockbox_runtime_cache_bytes")).toBe(0);
      expect(sample(before, "lockbox_runtime_cache_evictions_total")).toBe(0);

      const body = (await t.call("GET", "/site/secrets", { token })).body;
      await t.call("GET", "/site/secrets", { token });
      await t.call("GET", "/site/secrets", { token });
      const after = await metrics();
      expect(sample(after, "lockbox_runtime_cache_misses_total")).toBe(1);
      expect(sample(after, "lockbox_runtime_cache_hits_total")).toBe(2);
      expect(sample(after, "lockbox_runtime_cache_sets")).toBe(1);
      expect(sample(after, "lockbox_runtime_cache_bytes")).toBe(Buffer.byteLength(body));
      expect(sample(after, "lockbox_cold_resolution_seconds_count")).toBe(1);
      expect(sample(after, 'lockbox_cold_resolution_seconds_bucket{le="+Inf"}')).toBe(1);
      expect(sample(after, "lockbox_cold_resolution_seconds_sum")).toBeGreaterThan(0);
      expect(sample(after, "lockbox_org_snapshot_misses_total")).toBe(1);
      expect(sample(after, "lockbox_org_snapshot_bytes")).toBeGreaterThan(0);
      expect(sample(after, "lockbox_site_rows_bytes")).toBeGreaterThan(0);
      expect(after).not.toContain("SHARED");

      // An org change: the snapshot and the set go; the next read resolves again.
      await t.call("PUT", "/v1/orgs/org-m/secrets/SHARED", { ...admin, body: { value: "w" } });
      await t.call("GET", "/site/secrets", { token });
      const changed = await metrics();
      expect(sample(changed, "lockbox_runtime_cache_misses_total")).toBe(2);
      expect(sample(changed, "lockbox_cold_resolution_seconds_count")).toBe(2);
      expect(sample(changed, "lockbox_org_snapshot_misses_total")).toBe(2);

      // NOTIFY lag: a notification's commit time (SQLite has none; PostgreSQL's listener passes it).
      expect(sample(changed, "lockbox_notify_lag_seconds_count")).toBe(0);
      t.lockbox.delivery.applyChange({ kind: "token", id: "none" }, Date.now() - 30);
      const lagged = await metrics();
      expect(sample(lagged, "lockbox_notify_lag_seconds_count")).toBe(1);
      expect(sample(lagged, 'lockbox_notify_lag_seconds_bucket{le="0.025"}')).toBe(0);
      expect(sample(lagged, 'lockbox_notify_lag_seconds_bucket{le="0.05"}')).toBe(1);
      expect(sample(lagged, "lockbox_notify_lag_seconds_sum")).toBeGreaterThanOrEqual(0.03);
    } finally {
      await t.close();
      await database.drop();
    }
  });

  it("renders counters and histograms kept elsewhere in the Prometheus text format", () => {
    const metrics = new Metrics();
    metrics.counter("x_total", "X.", () => 3);
    metrics.histogram("y_seconds", "Y.", () => ({ bounds: [0.1, 1], counts: [1, 2], sum: 1.5, count: 4 }));
    expect(metrics.render()).toContain(
      [
        "# HELP x_total X.",
        "# TYPE x_total counter",
        "x_total 3",
        "# HELP y_seconds Y.",
        "# TYPE y_seconds histogram",
        'y_seconds_bucket{le="0.1"} 1',
        'y_seconds_bucket{le="1"} 3',
        'y_seconds_bucket{le="+Inf"} 4',
        "y_seconds_sum 1.5",
        "y_seconds_count 4",
      ].join("\n"),
    );
  });
});
