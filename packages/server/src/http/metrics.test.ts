import { describe, expect, it } from "vitest";
import { createTestApp } from "../testing/test-app.js";
import { sqliteTestDatabase } from "../testing/test-databases.js";
import { Metrics } from "./metrics.js";

describe("metrics", () => {
  it("renders counts by route pattern and status, and cumulative latency buckets", () => {
    const metrics = new Metrics();
    const route = metrics.route("GET", "/v1/sites/:site");
    route.observe(200, 0.002);
    route.observe(200, 0.02);
    route.observe(404, 3);
    const text = metrics.render();
    expect(text).toContain(
      'lockbox_http_requests_total{method="GET",route="/v1/sites/:site",status="200"} 2',
    );
    expect(text).toContain(
      'lockbox_http_requests_total{method="GET",route="/v1/sites/:site",status="404"} 1',
    );
    expect(text).toContain(
      'lockbox_http_request_duration_seconds_bucket{method="GET",route="/v1/sites/:site",le="0.0025"} 1',
    );
    expect(text).toContain(
      'lockbox_http_request_duration_seconds_bucket{method="GET",route="/v1/sites/:site",le="0.025"} 2',
    );
    expect(text).toContain(
      'lockbox_http_request_duration_seconds_bucket{method="GET",route="/v1/sites/:site",le="+Inf"} 3',
    );
  });

  it("counts real requests by route pattern, never by a path with names in it", async () => {
    const database = sqliteTestDatabase();
    const t = await createTestApp(database);
    try {
      await t.call("GET", "/v1/sites/secret-project-name", { token: t.adminToken });
      await t.call("GET", "/site/secrets", { token: "lbr_nope" });
      const text = (await t.call("GET", "/metrics")).body;
      expect(text).toContain('route="/v1/sites/:site",status="404"} 1');
      expect(text).toContain('route="/site/secrets",status="401"} 1');
      expect(text).not.toContain("secret-project-name");
    } finally {
      await t.close();
      await database.drop();
    }
  });
});
