import { describe, expect, it } from "vitest";
import { MAX_POINTS, TraceRecorder, normalise, type PointerSample } from "../src/capture";
import type { PerforationTask } from "../src/client";

const BOX = { left: 100, top: 50, width: 640, height: 260 };
const TASK: PerforationTask = {
  kind: "perforation",
  area_px: [640, 260],
  start: { x: 0.6, y: 0.1 },
  end: { x: 0.6, y: 0.9 },
  bend: 0,
  band: 0.1,
};

function sample(clientX: number, clientY: number, timeStamp: number, extra: Partial<PointerSample> = {}): PointerSample {
  return { clientX, clientY, timeStamp, isTrusted: true, pointerType: "mouse", pointerId: 1, ...extra };
}

describe("normalise", () => {
  it("maps the box's corners to 0 and 1", () => {
    expect(normalise(BOX, 100, 50)).toEqual([0, 0]);
    expect(normalise(BOX, 740, 310)).toEqual([1, 1]);
    expect(normalise(BOX, 420, 180)).toEqual([0.5, 0.5]);
  });

  it("clamps far-away points into the schema's range", () => {
    expect(normalise(BOX, -5000, 5000)).toEqual([-1, 2]);
  });

  it("survives an empty box", () => {
    expect(normalise({ left: 0, top: 0, width: 0, height: 0 }, 3, 4)).toEqual([2, 2]);
  });
});

describe("TraceRecorder", () => {
  it("records one press in task units with the browser's signals", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.down(sample(484, 76, 1000));
    rec.move(sample(484, 180, 1016, { getCoalescedEvents: () => [1, 2, 3] }));
    rec.end(sample(484, 284, 1032));
    const trace = rec.trace(TASK, { width_px: 1280, height_px: 800, device_pixel_ratio: 2 });
    expect(trace.points.x).toEqual([0.6, 0.6, 0.6]);
    expect(trace.points.y).toEqual([0.1, 0.5, 0.9]);
    expect(trace.points.t_ms).toEqual([1000, 1016, 1032]);
    expect(trace.points.event).toEqual(["down", "move", "up"]);
    expect(trace.points.pointer_type).toEqual(["mouse", "mouse", "mouse"]);
    expect(trace.points.trusted).toEqual([true, true, true]);
    expect(trace.points.coalesced).toEqual([0, 3, 0]);
    expect(trace.task).toBe(TASK);
    expect(trace.viewport.device_pixel_ratio).toBe(2);
  });

  it("rounds to a tenth of a pixel of a 10,000 px area and to 0.01 ms", () => {
    const rec = new TraceRecorder(() => ({ left: 0, top: 0, width: 3, height: 7 }));
    rec.down(sample(1, 1, 1000.123456));
    rec.end(sample(2, 3, 1000.125));
    expect(rec.points().x).toEqual([0.33333, 0.66667]);
    expect(rec.points().y).toEqual([0.14286, 0.42857]);
    expect(rec.points().t_ms).toEqual([1000.12, 1000.13]);
  });

  it("keeps time non-decreasing", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.down(sample(100, 50, 500));
    rec.move(sample(110, 50, 490));
    rec.end(sample(120, 50, 505));
    expect(rec.points().t_ms).toEqual([500, 500, 505]);
  });

  it("ignores a second press and other pointers while pressed", () => {
    const rec = new TraceRecorder(() => BOX);
    expect(rec.down(sample(100, 50, 1))).toBe(true);
    expect(rec.down(sample(100, 50, 2))).toBe(false);
    expect(rec.move(sample(100, 50, 3, { pointerId: 7 }))).toBe(false);
    expect(rec.end(sample(100, 50, 4, { pointerId: 7 }))).toBe(false);
    expect(rec.end(sample(100, 50, 5))).toBe(true);
    expect(rec.points().event).toEqual(["down", "up"]);
  });

  it("caps the trace and still lets the press end", () => {
    const rec = new TraceRecorder(() => BOX, 5);
    rec.down(sample(100, 50, 0));
    for (let i = 1; i <= 10; i++) rec.move(sample(100 + i, 50, i));
    expect(rec.length).toBe(4);
    expect(rec.end(sample(120, 50, 11))).toBe(true);
    expect(rec.length).toBe(5);
    expect(rec.points().event).toEqual(["down", "move", "move", "move", "up"]);
    expect(rec.down(sample(100, 50, 12))).toBe(false);
  });

  it("caps at the schema's limit by default", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.down(sample(100, 50, 0));
    for (let i = 1; i <= MAX_POINTS + 50; i++) rec.move(sample(100, 50, i));
    rec.end(sample(100, 50, MAX_POINTS + 60));
    expect(rec.length).toBe(MAX_POINTS);
    expect(rec.points().event.at(-1)).toBe("up");
  });

  it("drops the pointer signals from a trace with keyboard steps", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.syntheticStep("down", 0.6, 0.1, 10, true);
    rec.syntheticStep("move", 0.6, 0.5, 20, true);
    rec.syntheticStep("up", 0.6, 0.9, 30, false);
    const points = rec.points();
    expect(points.pointer_type).toBeUndefined();
    expect(points.coalesced).toBeUndefined();
    expect(points.trusted).toEqual([true, true, false]);
    expect(points.event).toEqual(["down", "move", "up"]);
  });

  it("drops the pointer signals when the browser reports an unknown pointer type", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.down(sample(100, 50, 0, { pointerType: "" }));
    rec.end(sample(100, 50, 1, { pointerType: "" }));
    expect(rec.points().pointer_type).toBeUndefined();
  });

  it("records hovering between presses and counts presses", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.move(sample(100, 50, 0));
    rec.down(sample(100, 50, 1));
    rec.end(sample(100, 50, 2, { pointerType: "touch" }));
    rec.move(sample(110, 50, 3));
    expect(rec.presses).toBe(1);
    expect(rec.points().pointer_type).toEqual(["mouse", "mouse", "touch", "mouse"]);
  });

  it("starts afresh after clear", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.syntheticStep("down", 0, 0, 1, true);
    rec.clear();
    expect(rec.length).toBe(0);
    expect(rec.pressed).toBe(false);
    expect(rec.hasSynthetic).toBe(false);
  });
});
