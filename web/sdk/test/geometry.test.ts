import { describe, expect, it } from "vitest";
import type { PerforationTask } from "../src/client";
import { bezier, checkFollow, polyline, project } from "../src/geometry";
import { pointAt } from "../src/phase-a";

// A vertical perforation 200 px long in a 400 × 200 area: x = 200 px, y from 0 to 200 px.
const STRAIGHT: PerforationTask = {
  kind: "perforation",
  area_px: [400, 200],
  start: { x: 0.5, y: 0 },
  end: { x: 0.5, y: 1 },
  bend: 0,
  band: 0.1,
};

describe("perforation geometry", () => {
  it("bows the midpoint bend × length towards the normal (-dy, dx)", () => {
    const bent = { ...STRAIGHT, bend: 0.1 };
    const line = polyline(bent, 2);
    // direction (0, 1) → normal (-1, 0): the midpoint moves 20 px to the left
    expect(line[1]?.[0]).toBeCloseTo(180);
    expect(line[1]?.[1]).toBeCloseTo(100);
    expect(bezier(bent).length).toBeCloseTo(200);
  });

  it("projects points onto the line", () => {
    const where = project(polyline(STRAIGHT), [210, 50]);
    expect(where.along).toBeCloseTo(0.25);
    expect(where.offsetPx).toBeCloseTo(10);
  });

  it("walks the line by arc length", () => {
    expect(pointAt(polyline(STRAIGHT), 0.5)).toEqual([200, 100]);
  });
});

describe("checkFollow (the server's geometry gate)", () => {
  const ys = Array.from({ length: 21 }, (_, i) => i / 20);

  it("passes a tear from start to end on the line", () => {
    expect(checkFollow(STRAIGHT, ys.map(() => 0.5), ys)).toEqual({ passed: true, reason: null, coverage: 1, insideShare: 1 });
  });

  it("refuses a tear that stops half way", () => {
    const half = ys.filter((y) => y <= 0.5);
    expect(checkFollow(STRAIGHT, half.map(() => 0.5), half).reason).toBe("low_coverage");
  });

  it("refuses a tear that starts far from the start", () => {
    const late = ys.filter((y) => y >= 0.35);
    expect(checkFollow(STRAIGHT, late.map(() => 0.5), late).reason).toBe("off_start");
  });

  it("refuses an empty press as no press", () => {
    expect(checkFollow(STRAIGHT, [], []).reason).toBe("no_press");
  });

  it("refuses a tear that wanders off the band", () => {
    // 30 px off (band 20 px) for a quarter of the points
    const xs = ys.map((_, i) => (i % 4 === 1 ? 0.575 : 0.5));
    expect(checkFollow(STRAIGHT, xs, ys).reason).toBe("off_band");
  });
});
