/**
 * Input-integrity evidence beside the points (docs/integrity.md): where each event falls in the animation frame,
 * and a small report of what the browser says about its own automation. Nothing here names a person: the
 * report holds one flag, one derived yes/no and the brand names every request already sends in `Sec-CH-UA`.
 */

/** What the browser says about itself (the trace schema's `EnvReport`). */
export interface EnvReport {
  /** `navigator.webdriver` (`null` where the browser lacks it). */
  webdriver: boolean | null;
  /** Whether the user agent string names a headless browser. */
  headless: boolean;
  /** `navigator.userAgentData.brands` names (`null` where the browser lacks the API). */
  brands: string[] | null;
}

const MAX_BRANDS = 10;
const MAX_BRAND_CHARS = 64;

interface BrandsLike {
  brands?: { brand?: unknown }[];
}

/** The environment report of `nav` (tests pass plain objects). */
export function environmentReport(nav: Partial<Pick<Navigator, "webdriver" | "userAgent">> & {
  userAgentData?: BrandsLike;
}): EnvReport {
  const data = nav.userAgentData;
  const brands = Array.isArray(data?.brands)
    ? data.brands
        .map((b) => (typeof b?.brand === "string" ? b.brand.slice(0, MAX_BRAND_CHARS) : ""))
        .slice(0, MAX_BRANDS)
    : null;
  return {
    webdriver: typeof nav.webdriver === "boolean" ? nav.webdriver : null,
    headless: /Headless/.test(nav.userAgent ?? ""),
    brands,
  };
}

/** The schema's limit on `frame_ms`. */
const MAX_FRAME_MS = 1_000;

/**
 * Keeps the start time of the latest animation frame, so each event can say how long after it the handler ran
 * (`frame_ms`). Follows frames from {@link FrameClock.start} until {@link FrameClock.stop}, or until `alive`,
 * once true, turns false (the phase's element left the page); without `requestAnimationFrame` it stays silent.
 */
export class FrameClock {
  private last: number | undefined;
  private handle: number | undefined;
  private seen = false;

  constructor(
    private readonly win: Partial<Pick<Window, "requestAnimationFrame" | "cancelAnimationFrame">> | null,
    private readonly alive: () => boolean = () => true,
  ) {}

  /** Starts following frames (idempotent). */
  start(): void {
    const raf = this.win?.requestAnimationFrame;
    if (this.handle !== undefined || typeof raf !== "function") return;
    const tick = (ts: number): void => {
      const alive = this.alive();
      if (this.seen && !alive) return this.stop();
      this.seen ||= alive;
      this.last = ts;
      this.handle = raf.call(this.win, tick);
    };
    this.handle = raf.call(this.win, tick);
  }

  /** Stops following frames. */
  stop(): void {
    if (this.handle !== undefined) this.win?.cancelAnimationFrame?.(this.handle);
    this.handle = undefined;
    this.last = undefined;
  }

  /** Milliseconds from the latest frame's start to `now` (`undefined` before the first frame). */
  since(now: number): number | undefined {
    if (this.last === undefined || !Number.isFinite(now)) return undefined;
    return Math.min(MAX_FRAME_MS, Math.max(0, now - this.last));
  }
}
