/**
 * The perforation's geometry, as `tcurity.geometry` defines it on the server: a quadratic Bézier from `start`
 * to `end` whose midpoint lies `bend × length` beside the chord, towards the normal (-dy, dx). Everything here
 * is in task-area pixels (`area_px`), so lengths are isotropic.
 *
 * The widget uses it to draw the dotted line, to give live feedback, and to check a tear before sending it
 * (the server's follow check, `tcurity.task_checks.check_follow`, with its thresholds from the generated
 * `vocabulary.ts`, so an attempt is not spent on a tear that cannot pass). The vectors of
 * `tests/fixtures/task_checks/follow.json` hold the two to the same verdicts.
 */

import type { PerforationTask } from "./client";
import { FOLLOW, type FollowReason } from "./vocabulary";

export type Vec = [number, number];

const SEGMENTS = 64;

/** Start, control and end points of the curve in pixels. */
export function bezier(task: PerforationTask): { start: Vec; control: Vec; end: Vec; length: number } {
  const [w, h] = task.area_px;
  const start: Vec = [task.start.x * w, task.start.y * h];
  const end: Vec = [task.end.x * w, task.end.y * h];
  const dx = end[0] - start[0];
  const dy = end[1] - start[1];
  const length = Math.hypot(dx, dy);
  const nx = -dy / length;
  const ny = dx / length;
  const bend = task.bend ?? 0;
  const control: Vec = [
    (start[0] + end[0]) / 2 + 2 * bend * length * nx,
    (start[1] + end[1]) / 2 + 2 * bend * length * ny,
  ];
  return { start, control, end, length };
}

/** `SEGMENTS + 1` points along the curve, from start to end. */
export function polyline(task: PerforationTask, segments: number = SEGMENTS): Vec[] {
  const { start, control, end } = bezier(task);
  const points: Vec[] = [];
  for (let i = 0; i <= segments; i++) {
    const s = i / segments;
    const a = (1 - s) ** 2;
    const b = 2 * s * (1 - s);
    const c = s ** 2;
    points.push([a * start[0] + b * control[0] + c * end[0], a * start[1] + b * control[1] + c * end[1]]);
  }
  return points;
}

/** The SVG path of the curve (`M … Q …`). */
export function svgPath(task: PerforationTask): string {
  const { start, control, end } = bezier(task);
  const f = (v: number) => v.toFixed(2);
  return `M${f(start[0])} ${f(start[1])}Q${f(control[0])} ${f(control[1])} ${f(end[0])} ${f(end[1])}`;
}

/** Where a point projects onto a polyline. */
export interface Projection {
  /** Position along the line as a fraction of its length (0 at the start, 1 at the end). */
  along: number;
  /** Distance from the line in pixels. */
  offsetPx: number;
  /** The nearest point on the line. */
  nearest: Vec;
}

/** Projects a pixel point onto a polyline. */
export function project(line: Vec[], point: Vec): Projection {
  let total = 0;
  const lengths: number[] = [];
  for (let i = 1; i < line.length; i++) {
    const a = line[i - 1] as Vec;
    const b = line[i] as Vec;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    lengths.push(len);
    total += len;
  }
  let best: Projection = { along: 0, offsetPx: Infinity, nearest: line[0] as Vec };
  let cum = 0;
  for (let i = 1; i < line.length; i++) {
    const a = line[i - 1] as Vec;
    const b = line[i] as Vec;
    const len = lengths[i - 1] as number;
    const sx = b[0] - a[0];
    const sy = b[1] - a[1];
    const u = Math.min(1, Math.max(0, ((point[0] - a[0]) * sx + (point[1] - a[1]) * sy) / Math.max(len * len, 1e-12)));
    const nearest: Vec = [a[0] + u * sx, a[1] + u * sy];
    const dist = Math.hypot(point[0] - nearest[0], point[1] - nearest[1]);
    if (dist < best.offsetPx) best = { along: (cum + u * len) / total, offsetPx: dist, nearest };
    cum += len;
  }
  return best;
}

/** The length of a polyline in pixels. */
export function arcLength(line: Vec[]): number {
  let total = 0;
  for (let i = 1; i < line.length; i++) {
    const a = line[i - 1] as Vec;
    const b = line[i] as Vec;
    total += Math.hypot(b[0] - a[0], b[1] - a[1]);
  }
  return total;
}

/** The outcome of the local follow check. */
export interface FollowResult {
  passed: boolean;
  reason: FollowReason | null;
  /** Share of the line's length the press travelled along inside the band, 0..1. */
  coverage: number;
  /** Share of the press's points inside the band. */
  insideShare: number;
}

/**
 * The server's follow check on one press given in task-normalised points: starts near the start (within
 * `FOLLOW.maxStartBands` band widths), covers at least `FOLLOW.minCoverage` of the line inside the band, and keeps
 * `FOLLOW.minInsideShare` of its points in the band.
 */
export function checkFollow(task: PerforationTask, xs: number[], ys: number[]): FollowResult {
  if (xs.length === 0) return { passed: false, reason: "no_press", coverage: 0, insideShare: 0 };
  const [w, h] = task.area_px;
  const line = polyline(task);
  const length = arcLength(line);
  const band = task.band ?? 0.1;
  const projections = xs.map((x, i) => project(line, [x * w, (ys[i] as number) * h]));
  const first = line[0] as Vec;
  const startOffset = Math.hypot((xs[0] as number) * w - first[0], (ys[0] as number) * h - first[1]) / length;
  const inside = projections.map((p) => p.offsetPx / length <= band);
  const insideCount = inside.filter(Boolean).length;
  const furthest = Math.max(0, ...projections.map((p, i) => (inside[i] ? p.along : 0)));
  const coverage = insideCount > 0 ? Math.max(0, furthest - Math.min((projections[0] as Projection).along, 1)) : 0;
  const insideShare = insideCount / xs.length;
  let reason: FollowResult["reason"] = null;
  if (startOffset > FOLLOW.maxStartBands * band) reason = "off_start";
  else if (coverage < FOLLOW.minCoverage) reason = "low_coverage";
  else if (insideShare < FOLLOW.minInsideShare) reason = "off_band";
  return { passed: reason === null, reason, coverage, insideShare };
}
