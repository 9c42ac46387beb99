import { describe, expect, it, vi } from "vitest";
import { ApiError, ChallengeClient, backoffMs, type FetchLike } from "../src/client";
import { TcurityError } from "../src/errors";

const SESSION = {
  session_id: "s1",
  state: "created",
  expires_at: "2030-01-01T00:00:00Z",
  phases: ["phase_a", "phase_b"],
  attempts_left: { phase: 3, session: 5 },
};

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

function client(fetch: FetchLike, extra: { retries?: number; timeoutMs?: number } = {}) {
  const sleeps: number[] = [];
  const made = new ChallengeClient({
    apiBase: "https://t.example/api",
    timeoutMs: extra.timeoutMs ?? 1000,
    retries: extra.retries ?? 2,
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
  });
  return { made, sleeps };
}

describe("ChallengeClient", () => {
  it("posts JSON to the documented path", async () => {
    const fetch = vi.fn<FetchLike>(async () => json(201, SESSION));
    const { made } = client(fetch);
    await expect(made.createSession("sitekey-12345", "booking")).resolves.toEqual(SESSION);
    const [url, init] = fetch.mock.calls[0] ?? [];
    expect(url).toBe("https://t.example/api/v1/challenge/sessions");
    expect(init?.method).toBe("POST");
    expect(JSON.parse(String(init?.body))).toEqual({ sitekey: "sitekey-12345", action: "booking" });
    expect(init?.credentials).toBe("omit");
  });

  it("escapes the session id into the path and sends no body to issue a task", async () => {
    const fetch = vi.fn<FetchLike>(async () => json(200, { state: "phase_a" }));
    await client(fetch).made.issuePhaseA("a/b");
    const [url, init] = fetch.mock.calls[0] ?? [];
    expect(url).toBe("https://t.example/api/v1/challenge/sessions/a%2Fb/phase-a");
    expect(init?.body).toBeNull();
  });

  it("retries network errors with growing backoff, then succeeds", async () => {
    let calls = 0;
    const fetch: FetchLike = async () => {
      calls++;
      if (calls < 3) throw new TypeError("Failed to fetch");
      return json(201, SESSION);
    };
    const { made, sleeps } = client(fetch);
    await expect(made.createSession("sitekey-12345", "")).resolves.toEqual(SESSION);
    expect(calls).toBe(3);
    expect(sleeps).toEqual([300, 600]);
  });

  it("gives up after the configured retries with network_error", async () => {
    const fetch = vi.fn<FetchLike>(async () => {
      throw new TypeError("Failed to fetch");
    });
    const { made, sleeps } = client(fetch, { retries: 1 });
    await expect(made.createSession("sitekey-12345", "")).rejects.toMatchObject({ code: "network_error" });
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(sleeps).toEqual([300]);
  });

  it("never retries an answer from the server", async () => {
    const fetch = vi.fn<FetchLike>(async () => json(503, { error: { code: "ai_unavailable", message: "down" } }));
    const { made } = client(fetch);
    const error = await made.issuePhaseB("s1").catch((e: unknown) => e);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: "unavailable", apiCode: "ai_unavailable", status: 503 });
  });

  it("maps backend codes onto the SDK's codes", async () => {
    const cases: [number, string, string][] = [
      [400, "invalid_sitekey", "invalid_sitekey"],
      [403, "origin_not_allowed", "origin_not_allowed"],
      [404, "session_not_found", "session_expired"],
      [409, "attempts_exhausted", "blocked"],
      [503, "ai_unavailable", "unavailable"],
      [503, "pool_empty", "unavailable"],
      [503, "service_not_ready", "not_ready"],
      [422, "too_few_points", "invalid_answer"],
      [422, "bad_subsamples", "invalid_answer"],
      [422, "unpaired_column", "invalid_answer"],
      [409, "task_expired", "session_expired"],
      [500, "internal_error", "server_error"],
    ];
    for (const [status, apiCode, code] of cases) {
      const fetch: FetchLike = async () => json(status, { error: { code: apiCode, message: "m" } });
      await expect(client(fetch).made.issuePhaseA("s1")).rejects.toMatchObject({ code, apiCode });
    }
  });

  it("reads a spent Phase B budget as a rate limit, with its Retry-After", async () => {
    const body = { error: { code: "solve_budget_exhausted", message: "m", details: { scope: "network" } } };
    const fetch: FetchLike = async () => json(429, body, { "Retry-After": "900" });
    await expect(client(fetch).made.issuePhaseB("s1")).rejects.toMatchObject({ code: "rate_limited", retryAfterS: 900 });
  });

  it("reads Retry-After on an empty Phase B pool", async () => {
    const fetch: FetchLike = async () => json(503, { error: { code: "pool_empty", message: "m" } }, { "Retry-After": "2" });
    await expect(client(fetch).made.issuePhaseB("s1")).rejects.toMatchObject({ code: "unavailable", apiCode: "pool_empty", retryAfterS: 2 });
  });

  it("reads Retry-After on rate limits", async () => {
    const fetch: FetchLike = async () => json(429, { error: { code: "rate_limited", message: "slow" } }, { "Retry-After": "17" });
    await expect(client(fetch).made.issuePhaseA("s1")).rejects.toMatchObject({ code: "rate_limited", retryAfterS: 17 });
  });

  it("treats a body that is not JSON as a server error", async () => {
    const fetch: FetchLike = async () => new Response("<html>bad gateway</html>", { status: 502 });
    await expect(client(fetch).made.issuePhaseA("s1")).rejects.toMatchObject({ code: "server_error", status: 502 });
  });

  it("aborts a request past its time limit with timeout, without retrying", async () => {
    vi.useFakeTimers();
    try {
      const fetch = vi.fn<FetchLike>(
        (_url, init) =>
          new Promise<Response>((_resolve, reject) => {
            init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
          }),
      );
      const pending = client(fetch, { timeoutMs: 2000 }).made.issuePhaseA("s1").catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(2000);
      const error = await pending;
      expect(error).toBeInstanceOf(TcurityError);
      expect(error).toMatchObject({ code: "timeout" });
      expect(fetch).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("backoffMs", () => {
  it("doubles from 300 ms up to 4 s, plus up to half again of jitter", () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffMs(n, () => 0))).toEqual([300, 600, 1200, 2400, 4000, 4000]);
    expect(backoffMs(0, () => 1)).toBe(450);
  });
});
