/**
 * Pointer capture: records what a person's pointer did over a task area, in the trace schema the server checks
 * (`tcurity.traces.Trace`).
 *
 * - One point per dispatched pointer event: `x`, `y` normalised to the task area (x / width, y / height of its
 *   bounding box), `t_ms` = `event.timeStamp` (made non-decreasing), the event kind, and the browser's signals
 *   `pointerType`, `isTrusted` and `getCoalescedEvents().length`.
 * - Capped at {@link MAX_POINTS}: once full, moves are dropped but a press in progress can still end, so the
 *   trace always stays well-formed (every `down` closed by `up` or `cancel`).
 * - Integrity evidence (docs/integrity.md), per pointer event: `screenX/Y - clientX/Y`, `movementX/Y`, the time since
 *   the animation frame began, and, in traces with a pen or touch event, pressure, contact size and tilt. Coalesced
 *   sub-events only of events that had two or more (the last {@link MAX_SUB_PER_EVENT}, at most
 *   {@link MAX_SUBSAMPLES} in all). A column is sent only when every event has it (an old browser sends less).
 * - Steps made with the keyboard are recorded as *synthetic* points. A trace holding any of them carries no
 *   `pointer_type` and no `coalesced` at all: the server sees honestly that it did not come from a pointer alone
 *   and can treat it by its own policy.
 */

import type { PerforationTask, GridTask, Trace } from "./client";
import type { EnvReport } from "./integrity";
import { TRACE_LIMITS } from "./vocabulary";

export const MAX_POINTS = TRACE_LIMITS.maxPoints;
/** The schema's coordinate range: a pointer may leave the task area, but not by much. */
const COORD_MIN = TRACE_LIMITS.coordMin;
const COORD_MAX = TRACE_LIMITS.coordMax;
const MAX_COALESCED = 1_000;
export const MAX_SUB_PER_EVENT = TRACE_LIMITS.maxSubPerEvent;
export const MAX_SUBSAMPLES = TRACE_LIMITS.maxSubsamples;
/**
 * Precision on the wire: 1e-5 of the task area (a tenth of a pixel on a 10,000 px area) and 0.01 ms. A full
 * trace's JSON is then about half the size of one with every float's 17 digits.
 */
const COORD_DECIMALS = 5;
const TIME_DECIMALS = 2;

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

type EventName = "down" | "move" | "up" | "cancel";
type PointerKind = "mouse" | "pen" | "touch";

/** The part of a PointerEvent the recorder reads (tests build plain objects of this shape). */
export interface PointerSample {
  clientX: number;
  clientY: number;
  timeStamp: number;
  isTrusted: boolean;
  pointerType: string;
  pointerId?: number;
  getCoalescedEvents?: () => unknown[];
  screenX?: number;
  screenY?: number;
  movementX?: number;
  movementY?: number;
  pressure?: number;
  width?: number;
  height?: number;
  tiltX?: number;
  tiltY?: number;
}

/** A value within the schema's range, rounded; `undefined` when the browser gave none. */
function num(value: unknown, limit: number, decimals: number, low: number = -limit): number | undefined {
  return typeof value === "number" && Number.isFinite(value)
    ? round(Math.min(limit, Math.max(low, value)), decimals)
    : undefined;
}

type Column = (number | undefined)[];

/** The column when every event has a value (the schema takes whole columns only). */
function whole(column: Column): number[] | undefined {
  return column.every((v) => v !== undefined) ? (column as number[]) : undefined;
}

/** Per-event evidence columns, in the schema's names. */
const EVIDENCE = ["screen_dx", "screen_dy", "movement_x", "movement_y", "frame_ms"] as const;
const CONTACT = ["pressure", "contact_w", "contact_h", "tilt_x", "tilt_y"] as const;
type EvidenceName = (typeof EVIDENCE)[number] | (typeof CONTACT)[number];
const PAIRS: [EvidenceName, EvidenceName][] = [
  ["screen_dx", "screen_dy"],
  ["movement_x", "movement_y"],
  ["contact_w", "contact_h"],
];

function evidence(s: PointerSample | undefined, frame: number | undefined): Record<EvidenceName, number | undefined> {
  const sdx = s?.screenX === undefined ? undefined : s.screenX - s.clientX;
  const sdy = s?.screenY === undefined ? undefined : s.screenY - s.clientY;
  return {
    screen_dx: num(sdx, 1e5, 2),
    screen_dy: num(sdy, 1e5, 2),
    movement_x: num(s?.movementX, 1e4, 2),
    movement_y: num(s?.movementY, 1e4, 2),
    frame_ms: num(frame, 1e3, 1, 0),
    pressure: num(s?.pressure, 1, 3, 0),
    contact_w: num(s?.width, 1e4, 2, 0),
    contact_h: num(s?.height, 1e4, 2, 0),
    tilt_x: num(s?.tiltX, 90, 1),
    tilt_y: num(s?.tiltY, 90, 1),
  };
}

/** A coalesced sub-event's position and time, when it has them. */
function subSample(value: unknown): [number, number, number] | undefined {
  const v = value as Partial<PointerSample> | null;
  const ok = typeof v === "object" && v !== null && [v.clientX, v.clientY, v.timeStamp].every(Number.isFinite);
  return ok ? [v.clientX as number, v.clientY as number, v.timeStamp as number] : undefined;
}

/** The box points are normalised to (a `DOMRect` works). */
export interface AreaBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface ViewportInfo {
  width_px: number;
  height_px: number;
  device_pixel_ratio: number;
}

function clampCoord(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(COORD_MAX, Math.max(COORD_MIN, value));
}

function pointerKind(type: string): PointerKind | undefined {
  return type === "mouse" || type === "pen" || type === "touch" ? type : undefined;
}

/** Normalises a client position to a box: (0, 0) its top-left corner, (1, 1) its bottom-right. */
export function normalise(box: AreaBox, clientX: number, clientY: number): [number, number] {
  const w = box.width > 0 ? box.width : 1;
  const h = box.height > 0 ? box.height : 1;
  return [clampCoord((clientX - box.left) / w), clampCoord((clientY - box.top) / h)];
}

/** Records one task's events. */
export class TraceRecorder {
  private readonly box: () => AreaBox;
  private readonly maxPoints: number;
  private x: number[] = [];
  private y: number[] = [];
  private t: number[] = [];
  private events: EventName[] = [];
  private kinds: (PointerKind | undefined)[] = [];
  private trusted: boolean[] = [];
  private coalesced: number[] = [];
  private columns = new Map<EvidenceName, Column>();
  private sub = { index: [] as number[], x: [] as number[], y: [] as number[], t_ms: [] as number[] };
  private synthetic = false;
  private pressedId: number | null = null;

  /**
   * @param box the task area's current bounding box (read on every event, so scrolling is accounted for)
   * @param maxPoints the cap (default {@link MAX_POINTS})
   * @param frame milliseconds since the current animation frame began (see `FrameClock`), read at each event
   */
  constructor(
    box: () => AreaBox,
    maxPoints: number = MAX_POINTS,
    private readonly frame: () => number | undefined = () => undefined,
  ) {
    this.box = box;
    this.maxPoints = Math.max(3, maxPoints);
  }

  /** Number of points recorded. */
  get length(): number {
    return this.x.length;
  }

  /** Whether a press is in progress. */
  get pressed(): boolean {
    return this.pressedId !== null;
  }

  /** Whether the trace holds keyboard steps. */
  get hasSynthetic(): boolean {
    return this.synthetic;
  }

  /** Number of completed presses so far. */
  get presses(): number {
    return this.events.filter((e) => e === "up" || e === "cancel").length;
  }

  /** A pointer press; ignored while another press is in progress or when the trace is full. */
  down(sample: PointerSample): boolean {
    if (this.pressedId !== null || this.length > this.maxPoints - 2) return false;
    this.pressedId = sample.pointerId ?? 1;
    this.push(sample, "down");
    return true;
  }

  /** A pointer move (pressed or hovering); dropped when the trace is full. */
  move(sample: PointerSample): boolean {
    if (!this.samePointer(sample)) return false;
    const reserved = this.pressedId === null ? 0 : 1;
    if (this.length >= this.maxPoints - reserved) return false;
    this.push(sample, "move");
    return true;
  }

  /** The end of the press in progress (`up`, or `cancel` when the browser took the pointer away). */
  end(sample: PointerSample, kind: "up" | "cancel" = "up"): boolean {
    if (this.pressedId === null || !this.samePointer(sample)) return false;
    this.push(sample, kind);
    this.pressedId = null;
    return true;
  }

  /**
   * A keyboard step at a task-normalised position (`x`, `y` in task units already).
   *
   * @param trusted the key event's `isTrusted`
   */
  syntheticStep(kind: EventName, x: number, y: number, timeStamp: number, trusted: boolean): boolean {
    if (kind === "down" && (this.pressedId !== null || this.length > this.maxPoints - 2)) return false;
    if ((kind === "up" || kind === "cancel") && this.pressedId === null) return false;
    if (kind === "move" && this.length >= this.maxPoints - (this.pressedId === null ? 0 : 1)) return false;
    this.synthetic = true;
    this.append(clampCoord(x), clampCoord(y), timeStamp, kind, undefined, trusted, 0, undefined);
    if (kind === "down") this.pressedId = -1;
    if (kind === "up" || kind === "cancel") this.pressedId = null;
    return true;
  }

  /** Forgets everything (a fresh attempt at the same task). */
  clear(): void {
    this.x = [];
    this.y = [];
    this.t = [];
    this.events = [];
    this.kinds = [];
    this.trusted = [];
    this.coalesced = [];
    this.columns = new Map();
    this.sub = { index: [], x: [], y: [], t_ms: [] };
    this.synthetic = false;
    this.pressedId = null;
  }

  /** The points as the schema's columns (pointer signals only when every point has them). */
  points(): Trace["points"] {
    const points: Trace["points"] = {
      x: [...this.x],
      y: [...this.y],
      t_ms: [...this.t],
      event: [...this.events],
      trusted: [...this.trusted],
    };
    const kinds = this.kinds;
    if (!this.synthetic && kinds.every((k): k is PointerKind => k !== undefined)) {
      points.pointer_type = [...kinds];
      points.coalesced = [...this.coalesced];
      const names = kinds.some((k) => k !== "mouse") ? [...EVIDENCE, ...CONTACT] : EVIDENCE;
      const out = points as Record<string, unknown>;
      for (const name of names) {
        const column = whole(this.columns.get(name) ?? []);
        if (column) out[name] = [...column];
      }
      // Pairs travel together or not at all (the schema's `unpaired_column`).
      for (const [a, b] of PAIRS) {
        if ((out[a] === undefined) !== (out[b] === undefined)) {
          delete out[a];
          delete out[b];
        }
      }
      if (this.sub.index.length > 0) {
        points.sub = { index: [...this.sub.index], x: [...this.sub.x], y: [...this.sub.y], t_ms: [...this.sub.t_ms] };
      }
    }
    return points;
  }

  /** The whole trace for a task (the task is echoed exactly as the server issued it). */
  trace(task: PerforationTask | GridTask, viewport: ViewportInfo, env?: EnvReport): Trace {
    return env ? { points: this.points(), viewport, task, env } : { points: this.points(), viewport, task };
  }

  private samePointer(sample: PointerSample): boolean {
    return this.pressedId === null || sample.pointerId === undefined || sample.pointerId === this.pressedId;
  }

  private push(sample: PointerSample, kind: EventName): void {
    const [x, y] = normalise(this.box(), sample.clientX, sample.clientY);
    const list = typeof sample.getCoalescedEvents === "function" ? sample.getCoalescedEvents() : [];
    const previous = this.t.length > 0 ? (this.t[this.t.length - 1] as number) : undefined;
    this.append(
      x,
      y,
      sample.timeStamp,
      kind,
      pointerKind(sample.pointerType),
      sample.isTrusted,
      Math.min(MAX_COALESCED, list.length),
      sample,
    );
    if (list.length >= 2) this.pushSub(list.slice(-MAX_SUB_PER_EVENT), previous);
  }

  /** Keeps an event's coalesced sub-events, timed between the previous event and this one. */
  private pushSub(list: unknown[], previous: number | undefined): void {
    const box = this.box();
    const index = this.t.length - 1;
    const t = this.t[index] as number;
    const earliest = previous ?? t - 1_000;
    for (const item of list) {
      const s = subSample(item);
      if (s === undefined || this.sub.index.length >= MAX_SUBSAMPLES) continue;
      const [x, y] = normalise(box, s[0], s[1]);
      this.sub.index.push(index);
      this.sub.x.push(round(x, COORD_DECIMALS));
      this.sub.y.push(round(y, COORD_DECIMALS));
      this.sub.t_ms.push(round(Math.min(t, Math.max(earliest, s[2])), TIME_DECIMALS));
    }
  }

  private append(
    x: number,
    y: number,
    timeStamp: number,
    kind: EventName,
    pointer: PointerKind | undefined,
    trusted: boolean,
    coalesced: number,
    sample: PointerSample | undefined,
  ): void {
    const last = this.t.length > 0 ? (this.t[this.t.length - 1] as number) : 0;
    const t = Number.isFinite(timeStamp) ? round(Math.max(0, timeStamp), TIME_DECIMALS) : last;
    this.x.push(round(x, COORD_DECIMALS));
    this.y.push(round(y, COORD_DECIMALS));
    this.t.push(Math.max(last, t));
    this.events.push(kind);
    this.kinds.push(pointer);
    this.trusted.push(trusted);
    this.coalesced.push(coalesced);
    const found = evidence(sample, sample ? this.frame() : undefined);
    for (const name of [...EVIDENCE, ...CONTACT]) {
      const column = this.columns.get(name) ?? [];
      column.push(found[name]);
      this.columns.set(name, column);
    }
  }
}

const MAX_VIEWPORT_PX = 20_000;

function clampPx(value: number): number {
  return Math.min(MAX_VIEWPORT_PX, Math.max(1, Math.round(value || 1)));
}

/** The viewport the trace was recorded in (CSS pixels). */
export function currentViewport(win: Window): ViewportInfo {
  const doc = win.document.documentElement;
  return {
    width_px: clampPx(win.innerWidth || doc.clientWidth),
    height_px: clampPx(win.innerHeight || doc.clientHeight),
    device_pixel_ratio: win.devicePixelRatio > 0 ? Math.min(10, win.devicePixelRatio) : 1,
  };
}
