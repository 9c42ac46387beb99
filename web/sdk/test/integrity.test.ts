import { describe, expect, it } from "vitest";
import { FrameClock, environmentReport } from "../src/integrity";

describe("environmentReport", () => {
  it("reads webdriver, a headless user agent and the brand names", () => {
    const nav = {
      webdriver: true,
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0.0.0 Safari/537.36",
      userAgentData: { brands: [{ brand: "Not:A-Brand" }, { brand: "Chromium" }] },
    };
    expect(environmentReport(nav)).toEqual({ webdriver: true, headless: true, brands: ["Not:A-Brand", "Chromium"] });
  });

  it("says null where an old browser lacks the APIs", () => {
    expect(environmentReport({ userAgent: "Mozilla/5.0 Firefox/115.0" })).toEqual({
      webdriver: null,
      headless: false,
      brands: null,
    });
  });

  it("keeps within the schema's limits", () => {
    const brands = Array.from({ length: 12 }, (_, i) => ({ brand: `${"b".repeat(70)}${i}` }));
    const report = environmentReport({ webdriver: false, userAgent: "", userAgentData: { brands } });
    expect(report.brands).toHaveLength(10);
    expect(report.brands?.every((b) => b.length === 64)).toBe(true);
  });
});

describe("FrameClock", () => {
  function fakeWindow() {
    const callbacks = new Map<number, (ts: number) => void>();
    let next = 1;
    return {
      requestAnimationFrame: (cb: (ts: number) => void) => {
        callbacks.set(next, cb);
        return next++;
      },
      cancelAnimationFrame: (id: number) => void callbacks.delete(id),
      frame(ts: number) {
        const pending = [...callbacks.values()];
        callbacks.clear();
        pending.forEach((cb) => cb(ts));
      },
      get pending() {
        return callbacks.size;
      },
    };
  }

  it("measures from the latest frame's start, within 0..1000 ms", () => {
    const win = fakeWindow();
    const clock = new FrameClock(win);
    expect(clock.since(10)).toBeUndefined();
    clock.start();
    win.frame(100);
    expect(clock.since(115.5)).toBe(15.5);
    win.frame(116.7);
    expect(clock.since(117)).toBeCloseTo(0.3);
    expect(clock.since(90)).toBe(0);
    expect(clock.since(5000)).toBe(1000);
    clock.stop();
    expect(clock.since(120)).toBeUndefined();
    expect(win.pending).toBe(0);
  });

  it("stops by itself once its element has left the page", () => {
    const win = fakeWindow();
    let connected = false;
    const clock = new FrameClock(win, () => connected);
    clock.start();
    win.frame(1); // not yet on the page: keeps waiting
    expect(win.pending).toBe(1);
    connected = true;
    win.frame(2);
    connected = false;
    win.frame(3);
    expect(win.pending).toBe(0);
  });

  it("stays silent without requestAnimationFrame", () => {
    const clock = new FrameClock({});
    clock.start();
    expect(clock.since(1)).toBeUndefined();
  });
});
