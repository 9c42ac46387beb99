import { describe, expect, it } from "vitest";
import type { PerforationTask, Trace } from "../src/client";
import { translator } from "../src/i18n";
import { TearPhase } from "../src/phase-a";

const TASK: PerforationTask = { kind: "perforation", area_px: [640, 260], start: { x: 0.6, y: 0.1 }, end: { x: 0.62, y: 0.9 }, bend: 0, band: 0.1 };

/** A pointer event as the tear handler reads it (jsdom has no PointerEvent; the area's box is 1 × 1 there). */
function pointer(type: string, x: number, y: number, timeStamp: number): Event {
  const event = new MouseEvent(type, { clientX: x, clientY: y, bubbles: true, button: 0 });
  Object.defineProperty(event, "pointerId", { value: 1 });
  Object.defineProperty(event, "pointerType", { value: "mouse" });
  Object.defineProperty(event, "timeStamp", { value: timeStamp });
  return event;
}

function drag(svg: Element, until: number, t0: number): void {
  svg.dispatchEvent(pointer("pointerdown", 0.6, 0.1, t0));
  for (let i = 1; i <= 20; i++) {
    const s = (i / 20) * until;
    svg.dispatchEvent(pointer("pointermove", 0.6 + 0.02 * s, 0.1 + 0.8 * s, t0 + 20 * i));
  }
  svg.dispatchEvent(pointer("pointerup", 0.6 + 0.02 * until, 0.1 + 0.8 * until, t0 + 420));
}

describe("TearPhase", () => {
  it("sends one press: a let-go before the end starts the recording afresh", () => {
    const sent: Trace[] = [];
    const phase = new TearPhase(document, TASK, translator("en"), { onTrace: (t) => sent.push(t), announce: () => undefined });
    document.body.append(phase.element);
    drag(phase.svg, 0.3, 0); // let go at 30 %: refused locally, nothing sent
    expect(sent).toHaveLength(0);
    drag(phase.svg, 1, 1000); // the whole tear
    expect(sent).toHaveLength(1);
    const events = sent[0]?.points.event ?? [];
    expect(events.filter((e) => e === "down")).toHaveLength(1);
    expect(events[0]).toBe("down");
    expect(events.at(-1)).toBe("up");
    expect(sent[0]?.points.t_ms[0]).toBe(1000);
  });

  describe("the approach to the grip", () => {
    function tearAfter(hover: [number, number, number][]): Trace {
      const sent: Trace[] = [];
      const phase = new TearPhase(document, TASK, translator("en"), { onTrace: (t) => sent.push(t), announce: () => undefined });
      document.body.append(phase.element);
      for (const [x, y, t] of hover) window.dispatchEvent(pointer("pointermove", x, y, t));
      drag(phase.svg, 1, 1000);
      phase.element.remove();
      expect(sent).toHaveLength(1);
      return sent[0] as Trace;
    }

    it("sends the hovering moves before the press, as moves in front of its down", () => {
      const trace = tearAfter([
        [0.1, 0.5, 700],
        [0.3, 0.3, 780],
        [0.5, 0.15, 860],
        [0.6, 0.1, 940],
      ]);
      const { event, x, t_ms } = trace.points;
      expect(event.slice(0, 5)).toEqual(["move", "move", "move", "move", "down"]);
      expect(x.slice(0, 4)).toEqual([0.1, 0.3, 0.5, 0.6]);
      expect(t_ms[0]).toBe(700);
      expect(event.filter((e) => e === "down")).toHaveLength(1);
    });

    it("keeps only the movement after the last rest longer than 400 ms", () => {
      const trace = tearAfter([
        [0.1, 0.5, 100],
        [0.2, 0.4, 150],
        [0.4, 0.2, 700],
        [0.6, 0.1, 760],
      ]);
      expect(trace.points.x.slice(0, 2)).toEqual([0.4, 0.6]);
      expect(trace.points.event[2]).toBe("down");
    });

    it("starts afresh when the pointer leaves the area a trace may describe", () => {
      const trace = tearAfter([
        [0.3, 0.5, 700],
        [-1.5, 0.5, 750],
        [0.5, 0.2, 800],
        [0.6, 0.1, 850],
      ]);
      expect(trace.points.x.slice(0, 2)).toEqual([0.5, 0.6]);
      expect(trace.points.event[2]).toBe("down");
    });
  });
});
