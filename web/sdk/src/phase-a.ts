/**
 * Phase A: a ticket drawn in SVG from the issued task, with its dotted perforation and a round handle at the
 * perforation's start. The person tears the stub off by dragging the handle along the line (mouse, pen or touch,
 * through Pointer Events with pointer capture), or steps along it with the arrow keys.
 *
 * The SVG's viewBox is the task area (`area_px`) and the element keeps that aspect ratio, so the element's
 * bounding box *is* the task area: points are normalised against it. A tear that cannot pass the server's
 * geometry check (too short, off the line, not started at the handle) is not sent: the person tries again on
 * the same task, and the recorder starts afresh (the server reads the first press of the trace).
 *
 * Before the press, the hovering pointer's way to the grip is recorded too (a page-wide `pointermove` listener,
 * mouse and pen only), from the last rest of {@link APPROACH_REST_MS} up to the press: the trace's moves before its
 * `down`, which the server scores as the approach (docs/architecture.md, "Phase A").
 */

import { MAX_POINTS, TraceRecorder, currentViewport, type PointerSample } from "./capture";
import { FrameClock, environmentReport } from "./integrity";
import { TRACE_LIMITS } from "./vocabulary";
import type { PerforationTask, Trace } from "./client";
import { arcLength, bezier, checkFollow, polyline, project, svgPath, type Vec } from "./geometry";
import type { StringKey, Translate } from "./i18n";
import { el, prefersReducedMotion, svgEl, type Tone } from "./ui";
import type { FollowReason } from "./vocabulary";

/** How far from the handle's centre a press still grabs it, in task pixels. */
const GRAB_RADIUS_PX = 36;
/**
 * The approach to the grip (docs/architecture.md, "Phase A"): the hovering pointer is recorded from the moment the
 * ticket shows until the press, as moves before the trace's `down`. The server judges the movement after the last
 * rest, so a rest longer than this starts the recording afresh (`params.yaml: featurize.approach.max_pause_ms`),
 * as does the pointer leaving the area a trace may describe (the schema's coordinate range) or the recording
 * growing past {@link APPROACH_MAX_POINTS} moves.
 */
const APPROACH_REST_MS = 400;
const APPROACH_MAX_POINTS = TRACE_LIMITS.maxApproachPoints;
/** One arrow-key step, as a share of the line. */
const KEY_STEP = 0.1;
const TEAR_MS = 450;
/** What the widget tells a person whose tear the follow check refused, for each of its reasons. */
export const FOLLOW_MESSAGES: Record<FollowReason, StringKey> = {
  no_press: "incomplete",
  off_start: "startAtHandle",
  low_coverage: "incomplete",
  off_band: "offLine",
};

let instances = 0;

export interface TearCallbacks {
  /** A tear that passed the local check: the trace to send. */
  onTrace: (trace: Trace) => void;
  /** A message for the live region. */
  announce: (message: string, tone?: Tone) => void;
}

/** The point at a share `s` of a polyline's length. */
export function pointAt(line: Vec[], s: number): Vec {
  const total = arcLength(line);
  let target = Math.min(1, Math.max(0, s)) * total;
  for (let i = 1; i < line.length; i++) {
    const a = line[i - 1] as Vec;
    const b = line[i] as Vec;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (target <= len || i === line.length - 1) {
      const u = len > 0 ? Math.min(1, target / len) : 0;
      return [a[0] + u * (b[0] - a[0]), a[1] + u * (b[1] - a[1])];
    }
    target -= len;
  }
  return line[line.length - 1] as Vec;
}

/** The ticket view of one Phase A task. */
export class TearPhase {
  readonly element: HTMLElement;
  readonly svg: SVGSVGElement;
  private readonly doc: Document;
  private readonly task: PerforationTask;
  private readonly line: Vec[];
  private readonly lengthPx: number;
  private readonly recorder: TraceRecorder;
  private readonly handle: SVGGElement;
  private readonly torn: SVGPathElement;
  private readonly stub: SVGGElement;
  private progress = 0;
  private off = false;
  private done = false;
  /** Whether the ticket has been on the page (the page-wide hover listener goes once it leaves). */
  private started = false;
  private lastHoverMs = -Infinity;
  private hoverType = "";

  constructor(
    doc: Document,
    task: PerforationTask,
    private readonly t: Translate,
    private readonly callbacks: TearCallbacks,
  ) {
    this.doc = doc;
    this.task = task;
    this.line = polyline(task);
    this.lengthPx = arcLength(this.line);
    const [w, h] = task.area_px;
    const id = `tc-${++instances}`;
    this.svg = svgEl(doc, "svg", {
      class: "ticket-svg",
      viewBox: `0 0 ${w} ${h}`,
      role: "group",
      "aria-label": t("tearTitle"),
      "data-phase": "a",
    });
    this.svg.style.aspectRatio = `${w} / ${h}`;
    const win = doc.defaultView;
    const clock = new FrameClock(win, () => this.svg.isConnected);
    clock.start();
    this.recorder = new TraceRecorder(() => this.svg.getBoundingClientRect(), MAX_POINTS, () =>
      clock.since(win ? win.performance.now() : NaN),
    );
    this.stub = svgEl(doc, "g", { "clip-path": `url(#${id}-right)` });
    this.torn = svgEl(doc, "path", { class: "torn", d: svgPath(task), pathLength: 1, "stroke-dasharray": "1 1", "stroke-dashoffset": 1 });
    this.handle = this.buildHandle();
    this.draw(id);
    this.element = el(doc, "div", { class: "phase-a" }, [
      el(doc, "p", { class: "help", id: "tc-help" }, [t("tearHelp")]),
      el(doc, "p", { class: "kbd" }, [t("tearKeyboard")]),
      this.svg,
    ]);
    this.listen();
  }

  /** Focuses the handle (the keyboard path starts there). */
  focus(): void {
    (this.handle as unknown as HTMLElement).focus();
  }

  /** Lets the person tear again on the same task (after a refusal that kept the task open). */
  rearm(): void {
    this.done = false;
    this.resetTear();
  }

  /** The stub comes off (a short animation; none when reduced motion is asked for). */
  async playTorn(): Promise<void> {
    const win = this.doc.defaultView;
    this.svg.setAttribute("data-torn", "true");
    const [w] = this.task.area_px;
    const keyframes = [{ transform: "translate(0px, 0px) rotate(0deg)" }, { transform: `translate(${w * 0.05}px, 6px) rotate(5deg)`, opacity: 0.9 }];
    if (prefersReducedMotion(win) || typeof this.stub.animate !== "function") {
      this.stub.setAttribute("transform", `translate(${w * 0.05} 6) rotate(5)`);
      return;
    }
    this.stub.style.transformBox = "fill-box";
    this.stub.style.transformOrigin = "0% 100%";
    await this.stub.animate(keyframes, { duration: TEAR_MS, easing: "cubic-bezier(.3,.7,.4,1)", fill: "forwards" }).finished.catch(() => undefined);
  }

  private draw(id: string): void {
    const doc = this.doc;
    const [w, h] = this.task.area_px;
    const { start, control, end } = bezier(this.task);
    const f = (v: number) => v.toFixed(1);
    const left = `M0 0L${f(start[0])} 0L${f(start[0])} ${f(start[1])}Q${f(control[0])} ${f(control[1])} ${f(end[0])} ${f(end[1])}L${f(end[0])} ${h}L0 ${h}Z`;
    const right = `M${f(start[0])} 0L${w} 0L${w} ${h}L${f(end[0])} ${h}L${f(end[0])} ${f(end[1])}Q${f(control[0])} ${f(control[1])} ${f(start[0])} ${f(start[1])}Z`;
    const defs = svgEl(doc, "defs", {}, [
      svgEl(doc, "clipPath", { id: `${id}-left` }, [svgEl(doc, "path", { d: left })]),
      svgEl(doc, "clipPath", { id: `${id}-right` }, [svgEl(doc, "path", { d: right })]),
    ]);
    const main = svgEl(doc, "g", { "clip-path": `url(#${id}-left)` }, [this.ticketBody(), ...this.mainText()]);
    this.stub.append(this.ticketBody(), ...this.stubText(start[0]));
    const band = svgEl(doc, "path", { class: "band", d: svgPath(this.task), "stroke-width": f(2 * (this.task.band ?? 0.1) * this.lengthPx) });
    const perf = svgEl(doc, "path", { class: "perf", d: svgPath(this.task) });
    const endMark = svgEl(doc, "circle", { class: "end-mark", cx: f(end[0]), cy: f(end[1]), r: 9 });
    const notches = [
      svgEl(doc, "circle", { class: "notch", cx: f(start[0]), cy: 4, r: 10 }),
      svgEl(doc, "circle", { class: "notch", cx: f(end[0]), cy: h - 4, r: 10 }),
    ];
    this.svg.append(defs, main, this.stub, ...notches, band, perf, this.torn, endMark, this.handle);
    this.moveHandle(start);
  }

  private ticketBody(): SVGRectElement {
    const [w, h] = this.task.area_px;
    return svgEl(this.doc, "rect", { class: "ticket-body", x: 3, y: 3, width: w - 6, height: h - 6, rx: 16 });
  }

  private mainText(): SVGTextElement[] {
    const [, h] = this.task.area_px;
    const text = (y: number, size: number, content: string, weight = 400) =>
      svgEl(this.doc, "text", { class: "ticket-text", x: 28, y, "font-size": size, "font-weight": weight }, [this.doc.createTextNode(content)]);
    return [text(h * 0.27, 15, "T-CURITY LIVE", 700), text(h * 0.5, 30, "ADMIT ONE", 800), text(h * 0.7, 14, "GATE 3 · ROW F · SEAT 12")];
  }

  private stubText(x: number): SVGTextElement[] {
    const [w, h] = this.task.area_px;
    const cx = (x + w) / 2;
    const text = (y: number, size: number, content: string) =>
      svgEl(this.doc, "text", { class: "ticket-text", x: cx, y, "font-size": size, "text-anchor": "middle", "font-weight": 700 }, [this.doc.createTextNode(content)]);
    return [text(h * 0.45, 16, "STUB"), text(h * 0.62, 13, "No. 0042")];
  }

  private buildHandle(): SVGGElement {
    const doc = this.doc;
    const handle = svgEl(doc, "g", {
      class: "handle",
      tabindex: 0,
      role: "slider",
      "aria-label": this.t("handleLabel"),
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": 0,
      "aria-valuetext": "0%",
      "data-role": "handle",
    });
    handle.append(
      svgEl(doc, "circle", { class: "ring", r: 24 }),
      svgEl(doc, "circle", { class: "knob", r: 18 }),
      svgEl(doc, "path", { class: "grip", d: "M-6 -4H6M-6 0H6M-6 4H6" }),
    );
    return handle;
  }

  private listen(): void {
    const svg = this.svg;
    const win = this.doc.defaultView;
    if (win) {
      const hover = (e: PointerEvent): void => {
        if (!svg.isConnected && this.started) win.removeEventListener("pointermove", hover);
        else this.onHover(e);
      };
      win.addEventListener("pointermove", hover);
    }
    svg.addEventListener("pointerdown", (e) => this.onDown(e));
    svg.addEventListener("pointermove", (e) => this.onMove(e));
    svg.addEventListener("pointerup", (e) => this.onEnd(e, "up"));
    svg.addEventListener("pointercancel", (e) => this.onEnd(e, "cancel"));
    this.handle.addEventListener("keydown", (e) => this.onKey(e));
  }

  private toTaskPx(sample: { clientX: number; clientY: number }): Vec {
    const box = this.svg.getBoundingClientRect();
    const [w, h] = this.task.area_px;
    return [((sample.clientX - box.left) / (box.width || 1)) * w, ((sample.clientY - box.top) / (box.height || 1)) * h];
  }

  /** A hovering move anywhere on the page: part of the approach to the grip (mouse and pen only: touch has no hover). */
  private onHover(event: PointerEvent): void {
    if (this.svg.isConnected) this.started = true;
    if (this.done || this.recorder.pressed || this.recorder.hasSynthetic) return;
    if (event.pointerType !== "mouse" && event.pointerType !== "pen") return;
    const box = this.svg.getBoundingClientRect();
    const x = (event.clientX - box.left) / (box.width || 1);
    const y = (event.clientY - box.top) / (box.height || 1);
    const inside = x >= -1 && x <= 2 && y >= -1 && y <= 2;
    const last = this.lastHoverMs;
    this.lastHoverMs = event.timeStamp;
    if (!inside || event.timeStamp - last > APPROACH_REST_MS || this.recorder.length >= APPROACH_MAX_POINTS) {
      this.recorder.clear();
    }
    if (inside && this.recorder.move(event)) this.hoverType = event.pointerType;
  }

  private onDown(event: PointerEvent): void {
    if (this.done || this.recorder.pressed || (event.pointerType === "mouse" && event.button !== 0)) return;
    const point = this.toTaskPx(event);
    const start = this.line[0] as Vec;
    if (Math.hypot(point[0] - start[0], point[1] - start[1]) > GRAB_RADIUS_PX) {
      this.callbacks.announce(this.t("startAtHandle"), "error");
      return;
    }
    event.preventDefault();
    try {
      this.svg.setPointerCapture(event.pointerId);
    } catch {
      // A pointer that is already gone cannot be captured; its events still arrive while over the ticket.
    }
    // The approach recorded so far stays in front of the press; a press with another pointer type starts afresh
    // (a trace's presses each have one type, and an approach is the pressing pointer's).
    if (this.recorder.length > 0 && this.hoverType !== event.pointerType) this.recorder.clear();
    this.recorder.down(event);
    this.svg.setAttribute("data-dragging", "true");
    this.callbacks.announce("");
  }

  private onMove(event: PointerEvent): void {
    if (!this.recorder.pressed || this.recorder.hasSynthetic) return;
    this.recorder.move(event);
    this.follow(this.toTaskPx(event));
  }

  private onEnd(event: PointerEvent, kind: "up" | "cancel"): void {
    if (!this.recorder.pressed || this.recorder.hasSynthetic) return;
    this.recorder.end(event as PointerSample, kind);
    this.svg.removeAttribute("data-dragging");
    if (kind === "cancel") {
      this.resetTear();
      return;
    }
    this.finish();
  }

  /** Live feedback: the torn part of the line, the handle on the line, a warning off the line. */
  private follow(point: Vec): void {
    const where = project(this.line, point);
    const off = where.offsetPx / this.lengthPx > (this.task.band ?? 0.1);
    if (!off) this.setProgress(Math.max(this.progress, where.along));
    this.moveHandle(off ? point : where.nearest);
    if (off !== this.off) {
      this.off = off;
      this.svg.setAttribute("data-off", String(off));
      this.callbacks.announce(off ? this.t("offLine") : "", off ? "error" : "info");
    }
  }

  private onKey(event: KeyboardEvent): void {
    if (this.done) return;
    const forward = event.key === "ArrowDown" || event.key === "ArrowRight";
    const back = event.key === "ArrowUp" || event.key === "ArrowLeft";
    if (!forward && !back) return;
    event.preventDefault();
    if (this.recorder.pressed && !this.recorder.hasSynthetic) return;
    const [w, h] = this.task.area_px;
    const step = (kind: "down" | "move" | "up", s: number) => {
      const [px, py] = pointAt(this.line, s);
      this.recorder.syntheticStep(kind, px / w, py / h, event.timeStamp, event.isTrusted);
    };
    if (!this.recorder.pressed) {
      this.recorder.clear();
      this.setProgress(0);
      step("down", 0);
    }
    const next = Math.min(1, Math.max(0, Math.round((this.progress + (forward ? KEY_STEP : -KEY_STEP)) * 1000) / 1000));
    step("move", next);
    this.setProgress(next, true);
    this.moveHandle(pointAt(this.line, next));
    if (next >= 1) {
      step("up", 1);
      this.finish();
    }
  }

  private finish(): void {
    const { x, y, event } = this.recorder.points();
    const press = Math.max(0, event.indexOf("down"));
    const result = checkFollow(this.task, x.slice(press), y.slice(press));
    if (!result.passed) {
      this.callbacks.announce(this.t(FOLLOW_MESSAGES[result.reason ?? "no_press"]), "error");
      this.resetTear();
      return;
    }
    this.done = true;
    this.callbacks.announce(this.t("torn"), "ok");
    this.callbacks.onTrace(this.recorder.trace(this.task, currentViewport(this.doc.defaultView as Window), environmentReport(this.doc.defaultView?.navigator ?? {})));
  }

  private resetTear(): void {
    this.recorder.clear();
    this.off = false;
    this.svg.removeAttribute("data-off");
    this.svg.removeAttribute("data-dragging");
    this.setProgress(0, true);
    this.moveHandle(this.line[0] as Vec);
  }

  private setProgress(value: number, exact = false): void {
    this.progress = exact ? value : Math.max(0, Math.min(1, value));
    this.torn.setAttribute("stroke-dashoffset", (1 - this.progress).toFixed(4));
    const percent = Math.round(this.progress * 100);
    this.handle.setAttribute("aria-valuenow", String(percent));
    this.handle.setAttribute("aria-valuetext", `${percent}%`);
  }

  private moveHandle(point: Vec): void {
    this.handle.setAttribute("transform", `translate(${point[0].toFixed(1)} ${point[1].toFixed(1)})`);
  }
}
