import { describe, expect, it } from "vitest";
import { MAX_POINTS, MAX_SUBSAMPLES, TraceRecorder, normalise, type PointerSample } from "../src/capture";
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

describe("integrity evidence", () => {
  const mouse = (x: number, y: number, t: number, extra: Partial<PointerSample> = {}): PointerSample =>
    sample(x, y, t, { screenX: x + 40, screenY: y + 86, movementX: 0, movementY: 0, ...extra });

  it("records screen offsets, movement and the frame phase of each mouse event", () => {
    const frames = [15.24, 16.01, 0.44];
    const rec = new TraceRecorder(() => BOX, MAX_POINTS, () => frames.shift());
    rec.down(mouse(484, 76, 1000));
    rec.move(mouse(487, 75, 1016, { movementX: 3, movementY: -1 }));
    rec.end(mouse(487, 75, 1032));
    const points = rec.points();
    expect(points.screen_dx).toEqual([40, 40, 40]);
    expect(points.screen_dy).toEqual([86, 86, 86]);
    expect(points.movement_x).toEqual([0, 3, 0]);
    expect(points.movement_y).toEqual([0, -1, 0]);
    expect(points.frame_ms).toEqual([15.2, 16, 0.4]);
    expect(points.pressure).toBeUndefined(); // a mouse's pressure says nothing
    expect(points.sub).toBeUndefined();
  });

  it("adds pressure, contact size and tilt to traces with a pen or touch event", () => {
    const rec = new TraceRecorder(() => BOX);
    const pen = { pointerType: "pen", pressure: 0.4567, width: 1.5, height: 2, tiltX: 30, tiltY: -95 };
    rec.down(mouse(484, 76, 1000, pen));
    rec.end(mouse(484, 80, 1010, { ...pen, pressure: 0 }));
    const points = rec.points();
    expect(points.pressure).toEqual([0.457, 0]);
    expect(points.contact_w).toEqual([1.5, 1.5]);
    expect(points.contact_h).toEqual([2, 2]);
    expect(points.tilt_x).toEqual([30, 30]);
    expect(points.tilt_y).toEqual([-90, -90]); // clamped to the schema's range
  });

  it("sends a column only when every event has it, and pairs together", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.down(mouse(484, 76, 1000));
    rec.move(mouse(485, 76, 1016, { movementY: undefined, screenX: undefined }));
    rec.end(mouse(486, 76, 1032));
    const points = rec.points();
    expect(points.movement_x).toBeUndefined();
    expect(points.movement_y).toBeUndefined();
    expect(points.screen_dx).toBeUndefined();
    expect(points.screen_dy).toBeUndefined();
    expect(points.frame_ms).toBeUndefined(); // no frame clock
  });

  it("keeps the last coalesced sub-events of events that had two or more, timed within their interval", () => {
    const rec = new TraceRecorder(() => BOX);
    const co = (n: number, t0: number) => () =>
      Array.from({ length: n }, (_, i) => ({ clientX: 100 + i * 64, clientY: 50, timeStamp: t0 + i }));
    rec.down(mouse(100, 50, 1000));
    rec.move(mouse(164, 50, 1016, { getCoalescedEvents: co(1, 1016) }));
    rec.move(mouse(740, 50, 1032, { getCoalescedEvents: co(10, 1010) }));
    rec.end(mouse(740, 50, 1040));
    const points = rec.points();
    expect(points.coalesced).toEqual([0, 1, 10, 0]);
    expect(points.sub?.index).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    expect(points.sub?.x).toEqual([0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    // 1012..1019, but never before the previous event (1016)
    expect(points.sub?.t_ms).toEqual([1016, 1016, 1016, 1016, 1016, 1017, 1018, 1019]);
  });

  it("caps the sub-events of a whole trace", () => {
    const rec = new TraceRecorder(() => BOX);
    const many = () => Array.from({ length: 8 }, () => ({ clientX: 200, clientY: 60, timeStamp: 5 }));
    rec.down(mouse(200, 60, 5));
    for (let i = 0; i < MAX_SUBSAMPLES / 8 + 5; i++) rec.move(mouse(200, 60, 5, { getCoalescedEvents: many }));
    rec.end(mouse(200, 60, 5));
    expect(rec.points().sub?.index.length).toBe(MAX_SUBSAMPLES);
  });

  it("ignores coalesced entries that are not events", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.down(mouse(100, 50, 1));
    rec.move(mouse(100, 50, 2, { getCoalescedEvents: () => [1, null, { clientX: "a" }] }));
    rec.end(mouse(100, 50, 3));
    expect(rec.points().coalesced).toEqual([0, 3, 0]);
    expect(rec.points().sub).toBeUndefined();
  });

  it("sends no pointer evidence with keyboard steps", () => {
    const rec = new TraceRecorder(() => BOX, MAX_POINTS, () => 5);
    rec.syntheticStep("down", 0.6, 0.1, 1, true);
    rec.syntheticStep("up", 0.6, 0.9, 2, true);
    const points = rec.points();
    expect(Object.keys(points).sort()).toEqual(["event", "t_ms", "trusted", "x", "y"]);
  });

  it("puts the environment report beside the points", () => {
    const rec = new TraceRecorder(() => BOX);
    rec.down(mouse(100, 50, 1));
    rec.end(mouse(100, 50, 3));
    const env = { webdriver: false, headless: false, brands: ["Chromium"] };
    const viewport = { width_px: 1280, height_px: 800, device_pixel_ratio: 1 };
    expect(rec.trace(TASK, viewport, env).env).toEqual(env);
    expect("env" in rec.trace(TASK, viewport)).toBe(false);
  });
});
