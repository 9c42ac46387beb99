import { afterEach, describe, expect, it, vi } from "vitest";
import type { FetchLike } from "../src/client";
import { Widget } from "../src/widget";

const TASK = { kind: "perforation", area_px: [640, 260], start: { x: 0.6, y: 0.1 }, end: { x: 0.62, y: 0.9 }, bend: 0.02, band: 0.1 };
const ATTEMPTS = { phase: 2, session: 4 };

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** A backend double for a Phase-A-only site; `answer` decides each Phase A answer. */
function backend(answer: (body: { trace: { points: Record<string, unknown[]>; task: unknown } }) => Response) {
  const calls: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    const path = url.replace("/api", "");
    calls.push(path);
    if (path === "/v1/challenge/sessions") {
      return json(201, { session_id: "sid", state: "created", expires_at: "2030-01-01T00:00:00Z", phases: ["phase_a"], attempts_left: ATTEMPTS });
    }
    if (path.endsWith("/phase-a")) {
      return json(200, { state: "phase_a", task: TASK, time_limit_ms: 30000, expires_at: "2030-01-01T00:00:00Z", attempts_left: ATTEMPTS });
    }
    return answer(JSON.parse(String(init.body)));
  };
  return { fetch, calls };
}

function dialogRoot(): ShadowRoot {
  const host = document.querySelector("[data-tcurity-dialog]");
  if (!host?.shadowRoot) throw new Error("no dialog");
  return host.shadowRoot;
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error("condition never held");
}

function pressArrows(root: ShadowRoot, times: number): void {
  const handle = root.querySelector('[data-role="handle"]') as SVGGElement;
  for (let i = 0; i < times; i++) handle.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
}

afterEach(() => {
  document.body.replaceChildren();
});

describe("Widget", () => {
  it("passes Phase A by keyboard: the token lands in the form and in onSuccess", async () => {
    let sent: { points: Record<string, unknown[]>; task: unknown } | undefined;
    const { fetch } = backend((body) => {
      sent = body.trace;
      return json(200, { outcome: "passed", state: "passed", attempts_left: ATTEMPTS, token: "tok.en", token_expires_at: "2030-01-01T00:00:00Z" });
    });
    const form = document.createElement("form");
    const container = document.createElement("div");
    form.append(container);
    document.body.append(form);
    const onSuccess = vi.fn();
    const widget = new Widget(container, { sitekey: "sitekey-1234", apiBase: "/api", onSuccess }, { fetch });

    const token = widget.execute();
    await until(() => dialogRoot().querySelector('[data-role="handle"]') !== null);
    const root = dialogRoot();
    expect(root.querySelector('[role="dialog"]')?.getAttribute("aria-modal")).toBe("true");
    pressArrows(root, 10);

    await expect(token).resolves.toBe("tok.en");
    expect(onSuccess).toHaveBeenCalledWith("tok.en");
    expect(new FormData(form).get("tcurity-response")).toBe("tok.en");
    expect(document.querySelector("[data-tcurity-dialog]")).toBeNull();
    expect(sent?.task).toEqual(TASK);
    expect(sent?.points.event?.[0]).toBe("down");
    expect(sent?.points.event?.at(-1)).toBe("up");
    expect(sent?.points.pointer_type).toBeUndefined();
    widget.remove();
  });

  it("asks for a new task on retry, and ends with blocked", async () => {
    const outcomes = ["retry", "blocked"];
    const { fetch, calls } = backend(() => json(200, { outcome: outcomes.shift(), state: "phase_a", attempts_left: ATTEMPTS }));
    const container = document.createElement("div");
    document.body.append(container);
    const onError = vi.fn();
    const widget = new Widget(container, { sitekey: "sitekey-1234", onError }, { fetch });
    const token = widget.execute().catch((e: unknown) => e);

    await until(() => dialogRoot().querySelector('[data-role="handle"]') !== null);
    pressArrows(dialogRoot(), 10);
    await until(() => calls.filter((c) => c.endsWith("/phase-a")).length === 2);
    await until(() => dialogRoot().querySelector('[data-role="handle"]') !== null);
    pressArrows(dialogRoot(), 10);
    await until(() => onError.mock.calls.length === 1);
    expect(onError).toHaveBeenCalledWith("blocked");
    expect(dialogRoot().querySelector("[data-error]")?.textContent).toContain("Too many attempts");

    (dialogRoot().querySelector('[data-action="dismiss"]') as HTMLButtonElement).click();
    await expect(token).resolves.toMatchObject({ code: "blocked" });
  });

  it("closes on Escape, rejects with cancelled and gives focus back", async () => {
    const { fetch } = backend(() => json(500, {}));
    const container = document.createElement("div");
    document.body.append(container);
    const widget = new Widget(container, { sitekey: "sitekey-1234", lang: "ko" }, { fetch });
    const button = container.querySelector("[data-tcurity-widget]")?.shadowRoot?.querySelector("button") as HTMLButtonElement;
    expect(button.textContent).toContain("사람인지 확인하기");
    button.focus();
    const token = widget.execute().catch((e: unknown) => e);
    await until(() => dialogRoot().querySelector('[data-role="handle"]') !== null);
    expect(dialogRoot().querySelector("h2")?.textContent).toBe("보안 확인");

    dialogRoot().querySelector('[role="dialog"]')?.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, composed: true }));
    await expect(token).resolves.toMatchObject({ code: "cancelled" });
    expect(document.querySelector("[data-tcurity-dialog]")).toBeNull();
    expect(document.activeElement).toBe(container.querySelector("[data-tcurity-widget]"));
    expect(document.activeElement?.shadowRoot?.activeElement).toBe(button);
  });

  it.each([
    ["en", "service_not_ready", "not_ready", "not ready on this site yet"],
    ["ko", "service_not_ready", "not_ready", "아직 준비되지 않았습니다"],
    ["en", "ai_unavailable", "unavailable", "busy"],
    ["ko", "ai_unavailable", "unavailable", "바쁩니다"],
    ["en", "pool_empty", "unavailable", "busy"],
    ["ko", "pool_empty", "unavailable", "바쁩니다"],
  ] as const)("tells a missing model from a busy service (%s, %s), and says it once", async (lang, apiCode, code, words) => {
    const { fetch } = backend(() => json(503, { error: { code: apiCode, message: "from the backend" } }));
    const container = document.createElement("div");
    document.body.append(container);
    const onError = vi.fn();
    const widget = new Widget(container, { sitekey: "sitekey-1234", lang, onError }, { fetch });
    const token = widget.execute().catch((e: unknown) => e);
    await until(() => dialogRoot().querySelector('[data-role="handle"]') !== null);
    pressArrows(dialogRoot(), 10);
    await until(() => onError.mock.calls.length === 1);
    expect(onError).toHaveBeenCalledWith(code);
    const root = dialogRoot();
    const shown = root.querySelector("[data-error]");
    expect(shown?.getAttribute("data-error")).toBe(code);
    expect(shown?.textContent).toContain(words);
    const dialogText = root.querySelector('[role="dialog"]')?.textContent ?? "";
    expect(dialogText.split(shown?.textContent ?? "").length - 1).toBe(1);
    (root.querySelector('[data-action="dismiss"]') as HTMLButtonElement).click();
    await expect(token).resolves.toMatchObject({ code });
  });

  it("refuses a malformed sitekey", () => {
    const container = document.createElement("div");
    expect(() => new Widget(container, { sitekey: "bad key" })).toThrow(/sitekey/);
  });
});

describe("Widget, one more Phase B round (a site's integrity policy: escalate)", () => {
  const cells = Array.from({ length: 9 }, (_, i) => ({ x: (i % 3) / 3, y: Math.floor(i / 3) / 4, w: 0.3, h: 0.2 }));
  const GRID = { kind: "grid", area_px: [420, 560], cells, slots: [{ x: 0.1, y: 0.8, w: 0.2, h: 0.15 }] };
  const PROBLEM = {
    problem_id: "p1",
    target: { key: "palm_tree", en: "palm trees", ko: "야자수" },
    prompt: { en: "Select all images with palm trees", ko: "야자수가 있는 그림을 모두 고르세요" },
    grid: { rows: 3, cols: 3 },
    tiles: cells.map((_, i) => ({ tile_id: `t${i}`, position: i, image: "data:image/png;base64,iVBORw0KGgo=" })),
  };

  it("asks the next problem after a Phase B pass answered next_phase, saying it passed", async () => {
    const calls: string[] = [];
    const answersB = ["next_phase", "passed"];
    const fetch: FetchLike = async (url) => {
      const path = url.replace("/api", "");
      calls.push(path);
      if (path === "/v1/challenge/sessions") {
        return json(201, { session_id: "sid", state: "created", expires_at: "2030-01-01T00:00:00Z", phases: ["phase_a"], attempts_left: ATTEMPTS });
      }
      if (path.endsWith("/phase-a")) {
        return json(200, { state: "phase_a", task: TASK, time_limit_ms: 30000, expires_at: "2030-01-01T00:00:00Z", attempts_left: ATTEMPTS });
      }
      if (path.endsWith("/phase-a/answer")) return json(200, { outcome: "next_phase", state: "phase_b", attempts_left: ATTEMPTS });
      if (path.endsWith("/phase-b")) {
        return json(200, { state: "phase_b", problem: PROBLEM, task: GRID, time_limit_ms: 90000, expires_at: "2030-01-01T00:00:00Z", attempts_left: ATTEMPTS });
      }
      const outcome = answersB.shift();
      const token = outcome === "passed" ? { token: "tok.en", token_expires_at: "2030-01-01T00:00:00Z" } : {};
      return json(200, { outcome, state: outcome === "passed" ? "passed" : "phase_b", attempts_left: ATTEMPTS, ...token });
    };
    const container = document.createElement("div");
    document.body.append(container);
    const widget = new Widget(container, { sitekey: "sitekey-1234", apiBase: "/api" }, { fetch });
    const token = widget.execute();
    await until(() => dialogRoot().querySelector('[data-role="handle"]') !== null);
    pressArrows(dialogRoot(), 10);

    const answerGrid = async (round: number): Promise<void> => {
      await until(() => calls.filter((c) => c.endsWith("/phase-b")).length === round && dialogRoot().querySelector(".tile") !== null);
      const root = dialogRoot();
      (root.querySelector('[data-tile-id="t4"]') as HTMLButtonElement).click();
      (root.querySelector('[data-slot="0"] .slot-target') as HTMLButtonElement).click();
      (root.querySelector('[data-action="confirm"]') as HTMLButtonElement).click();
    };
    await answerGrid(1);
    await until(() => calls.filter((c) => c.endsWith("/phase-b")).length === 2);
    await until(() => dialogRoot().querySelector(".status")?.textContent === "Passed. One more, please: here are new pictures.");
    expect(dialogRoot().querySelector(".status")?.getAttribute("data-tone")).toBe("ok");
    await answerGrid(2);
    await expect(token).resolves.toBe("tok.en");
    expect(calls.filter((c) => c.endsWith("/phase-b/answer"))).toHaveLength(2);
    widget.remove();
  });
});
