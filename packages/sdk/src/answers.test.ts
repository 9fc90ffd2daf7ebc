import { describe, expect, it } from "vitest";
import { AnswerTooLarge, isRedirect, readAnswerText } from "./answers.js";

/** A response whose body arrives in `chunks`, without a Content-Length, as a stream does. */
function streamed(chunks: readonly string[]): { response: Response; pulled: () => number } {
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(chunk));
    },
  });
  return { response: new Response(body), pulled: () => next };
}

describe("readAnswerText", () => {
  it("reads a body as Response.text() does, a leading byte order mark dropped", async () => {
    expect(await readAnswerText(streamed(['\uFEFF{"a":', '"é"}']).response)).toBe('{"a":"é"}');
    expect(await readAnswerText(new Response(null))).toBe("");
  });

  it("stops reading past its limit, streamed or declared", async () => {
    const endless = streamed(Array.from({ length: 1000 }, () => "x".repeat(10)));
    await expect(readAnswerText(endless.response, 25)).rejects.toBeInstanceOf(AnswerTooLarge);
    expect(endless.pulled()).toBeLessThan(10);
    const declared = new Response("x", { headers: { "content-length": "26" } });
    await expect(readAnswerText(declared, 25)).rejects.toThrow("larger than");
    expect(await readAnswerText(streamed(["x".repeat(25)]).response, 25)).toBe("x".repeat(25));
  });
});

describe("isRedirect", () => {
  it("is a Location to follow, not any 3xx (304 is an answer)", () => {
    for (const status of [301, 302, 303, 307, 308]) expect(isRedirect({ status })).toBe(true);
    for (const status of [200, 300, 304, 400]) expect(isRedirect({ status })).toBe(false);
    expect(isRedirect({ status: 0, type: "opaqueredirect" })).toBe(true);
  });
});
