/**
 * Phase B: the 3×3 grid of numbered pictures (data URLs from the API), the class to find (in the page's
 * language), and a row of slots. The person drags the matching pictures into the slots in the order of their
 * numbers, or presses a picture and then a slot (tap-to-place, and the keyboard path: Enter on a picture, then
 * Enter on a slot). A placed picture can be dragged to another slot (the two swap), dragged out, or removed
 * with its × button; Confirm sends the tile ids in slot order with the trace.
 *
 * The grid area keeps the task's aspect ratio and every cell and slot sits at the task's normalised rectangle,
 * so the area's bounding box is the task area. The trace holds everything the pointer did over the area,
 * hovering included (the approaches are part of what the server scores). Keyboard placements add a synthetic
 * press from the picture's centre to the slot's centre, which drops the pointer signals from the whole trace.
 */

import { MAX_POINTS, TraceRecorder, currentViewport, type PointerSample } from "./capture";
import { FrameClock, environmentReport } from "./integrity";
import type { GridTask, ProblemView, Rect, Trace } from "./client";
import type { Lang } from "./config";
import type { Translate } from "./i18n";
import { el, type Tone } from "./ui";

/** Movement beyond which a press on a picture becomes a drag, in CSS pixels. */
const DRAG_THRESHOLD_PX = 6;

export interface GridCallbacks {
  /** Called whenever the slots change: whether every slot is filled. */
  onChange: (complete: boolean) => void;
  announce: (message: string, tone?: Tone) => void;
}

interface Drag {
  tileId: string;
  fromSlot: number | null;
  startX: number;
  startY: number;
  moved: boolean;
  ghost: HTMLElement | null;
}

function place(node: HTMLElement, rect: Rect): void {
  node.style.left = `${rect.x * 100}%`;
  node.style.top = `${rect.y * 100}%`;
  node.style.width = `${rect.w * 100}%`;
  node.style.height = `${rect.h * 100}%`;
}

function centre(rect: Rect): [number, number] {
  return [rect.x + rect.w / 2, rect.y + rect.h / 2];
}

/** The grid view of one Phase B problem. */
export class GridPhase {
  readonly element: HTMLElement;
  readonly area: HTMLElement;
  private readonly doc: Document;
  private readonly recorder: TraceRecorder;
  private readonly tiles = new Map<string, HTMLButtonElement>();
  private readonly positions = new Map<string, number>();
  private readonly images = new Map<string, string>();
  private readonly slotNodes: HTMLElement[] = [];
  private readonly slots: (string | null)[];
  private selected: string | null = null;
  private keyboardPress = false;
  private drag: Drag | null = null;

  constructor(
    doc: Document,
    private readonly task: GridTask,
    problem: ProblemView,
    lang: Lang,
    private readonly t: Translate,
    private readonly callbacks: GridCallbacks,
  ) {
    this.doc = doc;
    this.slots = task.slots.map(() => null);
    this.area = el(doc, "div", { class: "area", "data-phase": "b" });
    this.area.style.aspectRatio = `${task.area_px[0]} / ${task.area_px[1]}`;
    const win = doc.defaultView;
    const clock = new FrameClock(win, () => this.area.isConnected);
    clock.start();
    this.recorder = new TraceRecorder(() => this.area.getBoundingClientRect(), MAX_POINTS, () =>
      clock.since(win ? win.performance.now() : NaN),
    );
    for (const tile of problem.tiles) this.addTile(tile.tile_id, tile.position, tile.image);
    task.slots.forEach((rect, k) => this.addSlot(rect, k));
    const target = problem.target[lang];
    this.element = el(doc, "div", { class: "phase-b" }, [
      el(doc, "p", { class: "prompt" }, [problem.prompt[lang], " ", el(doc, "strong", { class: "target" }, [t("find", { target })])]),
      el(doc, "p", { class: "help", id: "tc-help" }, [t("gridHelp")]),
      this.area,
    ]);
    this.listen();
  }

  /** Whether every slot holds a picture. */
  get complete(): boolean {
    return this.slots.every((s) => s !== null);
  }

  /** The tile ids in slot order (only meaningful when {@link complete}). */
  answer(): string[] {
    return this.slots.filter((s): s is string => s !== null);
  }

  /** The trace of everything done over the grid (an unfinished keyboard press is cancelled first). */
  trace(): Trace {
    if (this.keyboardPress) this.endKeyboardPress("cancel", 0, true);
    return this.recorder.trace(this.task, currentViewport(this.doc.defaultView as Window), environmentReport(this.doc.defaultView?.navigator ?? {}));
  }

  /** Focuses the first picture. */
  focus(): void {
    this.tiles.values().next().value?.focus();
  }

  private addTile(tileId: string, position: number, image: string): void {
    const rect = this.task.cells[position];
    if (!rect) return;
    const button = el(this.doc, "button", {
      type: "button",
      class: "tile",
      "data-tile-id": tileId,
      "aria-pressed": "false",
      "aria-label": this.tileName(tileId, position),
    }, [el(this.doc, "img", { src: image, alt: "", draggable: "false" })]);
    place(button, rect);
    button.addEventListener("click", (e) => this.onTileClick(e, tileId));
    this.tiles.set(tileId, button);
    this.positions.set(tileId, position);
    this.images.set(tileId, image);
    this.area.append(button);
  }

  private addSlot(rect: Rect, k: number): void {
    const target = el(this.doc, "button", { type: "button", class: "slot-target", "aria-label": this.t("slotEmpty", { n: k + 1 }) }, [String(k + 1)]);
    target.addEventListener("click", (e) => this.onSlotClick(e, k));
    const node = el(this.doc, "div", { class: "slot", "data-slot": k }, [target]);
    place(node, rect);
    this.slotNodes.push(node);
    this.area.append(node);
  }

  private listen(): void {
    const area = this.area;
    area.addEventListener("pointerdown", (e) => this.onDown(e));
    area.addEventListener("pointermove", (e) => this.onMove(e));
    area.addEventListener("pointerup", (e) => this.onUp(e, "up"));
    area.addEventListener("pointercancel", (e) => this.onUp(e, "cancel"));
    area.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.selected !== null) {
        e.preventDefault();
        this.select(null);
      }
    });
  }

  // --- pointer ------------------------------------------------------------------------------------------------
  private onDown(event: PointerEvent): void {
    if (this.keyboardPress) this.endKeyboardPress("cancel", event.timeStamp, event.isTrusted);
    if (!this.recorder.down(event)) return;
    const tileId = this.tileAt(event.target);
    if (tileId === null || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    const fromSlot = this.slots.indexOf(tileId);
    this.drag = { tileId, fromSlot: fromSlot >= 0 ? fromSlot : null, startX: event.clientX, startY: event.clientY, moved: false, ghost: null };
  }

  private onMove(event: PointerEvent): void {
    this.recorder.move(event);
    const drag = this.drag;
    if (!drag) return;
    if (!drag.moved && Math.hypot(event.clientX - drag.startX, event.clientY - drag.startY) > DRAG_THRESHOLD_PX) {
      drag.moved = true;
      drag.ghost = this.makeGhost(drag.tileId);
      try {
        this.area.setPointerCapture(event.pointerId);
      } catch {
        // Without capture the drag still works while the pointer stays over the grid.
      }
    }
    if (drag.moved) this.moveGhost(drag, event);
  }

  private onUp(event: PointerEvent, kind: "up" | "cancel"): void {
    if (!this.recorder.end(event as PointerSample, kind)) return;
    const drag = this.drag;
    this.drag = null;
    drag?.ghost?.remove();
    this.highlight(null);
    if (kind === "cancel") return;
    const slot = this.slotAt(event.clientX, event.clientY);
    if (drag?.moved) {
      if (slot !== null) this.put(drag.tileId, slot);
      else if (drag.fromSlot !== null) this.empty(drag.fromSlot);
      return;
    }
    this.tap(event.target, slot);
  }

  /** A press that did not move: pick a picture, put the picked one into a slot, or press a × button. */
  private tap(target: EventTarget | null, slot: number | null): void {
    const node = target instanceof Element ? target : null;
    const remove = node?.closest<HTMLElement>(".remove");
    if (remove) {
      this.empty(Number(remove.dataset.slot));
      return;
    }
    const tileId = this.tileAt(target);
    if (tileId !== null && !this.slots.includes(tileId)) {
      this.select(this.selected === tileId ? null : tileId);
      return;
    }
    if (slot !== null && this.selected !== null) this.put(this.selected, slot);
  }

  // --- keyboard (clicks without a pointer: `detail === 0`) ---------------------------------------------------------
  private onTileClick(event: MouseEvent, tileId: string): void {
    if (event.detail !== 0 || this.slots.includes(tileId)) return;
    if (this.keyboardPress) this.endKeyboardPress("cancel", event.timeStamp, event.isTrusted);
    if (this.selected === tileId) {
      this.select(null);
      return;
    }
    this.select(tileId);
    const rect = this.task.cells[this.positions.get(tileId) ?? 0] as Rect;
    const [x, y] = centre(rect);
    this.keyboardPress = this.recorder.syntheticStep("down", x, y, event.timeStamp, event.isTrusted);
  }

  private onSlotClick(event: MouseEvent, k: number): void {
    if (event.detail !== 0 || this.selected === null) return;
    const tileId = this.selected;
    if (this.keyboardPress) this.endKeyboardPress("up", event.timeStamp, event.isTrusted, k);
    this.put(tileId, k);
  }

  private onRemoveClick(event: MouseEvent, k: number): void {
    if (event.detail === 0) this.empty(k);
  }

  private endKeyboardPress(kind: "up" | "cancel", timeStamp: number, trusted: boolean, slot?: number): void {
    const rect = slot === undefined ? null : this.task.slots[slot];
    const [x, y] = rect ? centre(rect) : this.lastPoint();
    if (rect) this.recorder.syntheticStep("move", x, y, timeStamp, trusted);
    this.recorder.syntheticStep(kind, x, y, timeStamp, trusted);
    this.keyboardPress = false;
  }

  private lastPoint(): [number, number] {
    const { x, y } = this.recorder.points();
    return [x[x.length - 1] ?? 0, y[y.length - 1] ?? 0];
  }

  // --- the answer -------------------------------------------------------------------------------------------------
  private select(tileId: string | null): void {
    if (this.selected !== null) this.tiles.get(this.selected)?.setAttribute("aria-pressed", "false");
    this.selected = tileId;
    if (tileId === null) return;
    this.tiles.get(tileId)?.setAttribute("aria-pressed", "true");
    this.callbacks.announce(this.t("picked", { tile: this.tileName(tileId) }));
  }

  /** Puts a picture into slot `k`; a picture already there goes back (or, on a move between slots, swaps). */
  private put(tileId: string, k: number): void {
    const from = this.slots.indexOf(tileId);
    const previous = this.slots[k] ?? null;
    if (from === k) return;
    if (from >= 0) this.slots[from] = previous;
    this.slots[k] = tileId;
    this.select(null);
    this.render();
    this.callbacks.announce(this.t("placed", { tile: this.tileName(tileId), slot: k + 1 }), "ok");
  }

  private empty(k: number): void {
    if (!(k >= 0 && k < this.slots.length) || this.slots[k] === null) return;
    this.slots[k] = null;
    this.render();
    this.callbacks.announce(this.t("emptied", { slot: k + 1 }));
    (this.slotNodes[k]?.querySelector(".slot-target") as HTMLElement | null)?.focus();
  }

  private render(): void {
    for (const [tileId, button] of this.tiles) {
      const slot = this.slots.indexOf(tileId);
      const tile = this.tileName(tileId);
      button.setAttribute("data-placed", String(slot >= 0));
      button.setAttribute("aria-label", slot >= 0 ? this.t("tileInSlot", { tile, slot: slot + 1 }) : tile);
      button.querySelector(".badge")?.remove();
      if (slot >= 0) button.append(el(this.doc, "span", { class: "badge", "aria-hidden": "true" }, [`→ ${slot + 1}`]));
    }
    this.slots.forEach((tileId, k) => this.renderSlot(k, tileId));
    this.callbacks.onChange(this.complete);
  }

  private renderSlot(k: number, tileId: string | null): void {
    const node = this.slotNodes[k] as HTMLElement;
    const target = node.querySelector(".slot-target") as HTMLElement;
    node.querySelectorAll("img, .remove").forEach((child) => child.remove());
    node.setAttribute("data-filled", String(tileId !== null));
    if (tileId === null) {
      target.setAttribute("aria-label", this.t("slotEmpty", { n: k + 1 }));
      return;
    }
    target.setAttribute("aria-label", this.t("slotFilled", { n: k + 1, tile: this.tileName(tileId) }));
    const remove = el(this.doc, "button", { type: "button", class: "remove", "data-slot": k, "aria-label": this.t("removeLabel", { n: k + 1 }) }, ["×"]);
    remove.addEventListener("click", (e) => this.onRemoveClick(e, k));
    node.append(el(this.doc, "img", { src: this.images.get(tileId) ?? "", alt: "", "data-tile-id": tileId, draggable: "false" }), remove);
  }

  // --- hit testing and the dragged picture ------------------------------------------------------------------------
  /** A picture's name by its place in the grid ("row 2, column 3"): the stamped numbers are the puzzle's. */
  private tileName(tileId: string, position = this.positions.get(tileId) ?? 0): string {
    return this.t("tileLabel", { r: Math.floor(position / 3) + 1, c: (position % 3) + 1 });
  }

  private tileAt(target: EventTarget | null): string | null {
    if (!(target instanceof Element) || target.closest(".remove")) return null;
    const node = target.closest<HTMLElement>("[data-tile-id]");
    const tileId = node?.dataset.tileId ?? null;
    if (tileId === null) {
      const slot = target.closest<HTMLElement>(".slot");
      return slot ? this.slots[Number(slot.dataset.slot)] ?? null : null;
    }
    return tileId;
  }

  /** The slot under a client position, by the task's own rectangles (the server checks the same ones). */
  private slotAt(clientX: number, clientY: number): number | null {
    const box = this.area.getBoundingClientRect();
    const x = (clientX - box.left) / (box.width || 1);
    const y = (clientY - box.top) / (box.height || 1);
    const k = this.task.slots.findIndex((r) => x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h);
    return k >= 0 ? k : null;
  }

  private makeGhost(tileId: string): HTMLElement {
    const rect = this.task.cells[this.positions.get(tileId) ?? 0] as Rect;
    const ghost = el(this.doc, "div", { class: "ghost", "aria-hidden": "true" }, [el(this.doc, "img", { src: this.images.get(tileId) ?? "", alt: "" })]);
    ghost.style.width = `${rect.w * 100}%`;
    ghost.style.height = `${rect.h * 100}%`;
    this.area.append(ghost);
    return ghost;
  }

  private moveGhost(drag: Drag, event: PointerEvent): void {
    const box = this.area.getBoundingClientRect();
    const ghost = drag.ghost as HTMLElement;
    const half = ghost.getBoundingClientRect();
    ghost.style.transform = `translate(${event.clientX - box.left - half.width / 2}px, ${event.clientY - box.top - half.height / 2}px)`;
    this.highlight(this.slotAt(event.clientX, event.clientY));
  }

  private highlight(k: number | null): void {
    this.slotNodes.forEach((node, i) => node.setAttribute("data-over", String(i === k)));
  }
}
