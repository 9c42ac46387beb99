import { describe, expect, it } from "vitest";
import type { PerforationTask } from "../src/client";
import { checkFollow } from "../src/geometry";
import { FOLLOW_REASONS, type FollowReason } from "../src/vocabulary";
import vectors from "../../../tests/fixtures/task_checks/follow.json";

/** One shared vector: a task, one press's points, and the verdict `tcurity.task_checks.check_follow` gives. */
interface FollowCase {
  name: string;
  task: PerforationTask;
  x: number[];
  y: number[];
  expect: { passed: boolean; reason: FollowReason | null; coverage: number; inside_share: number };
}

// JSON gives `area_px` as number[]; the file holds tasks of the trace schema.
const CASES = vectors.cases as unknown as FollowCase[];

describe("checkFollow on the vectors shared with the server (tests/fixtures/task_checks/follow.json)", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const result = checkFollow(c.task, c.x, c.y);
    expect({ passed: result.passed, reason: result.reason }).toEqual({ passed: c.expect.passed, reason: c.expect.reason });
    expect(result.coverage).toBeCloseTo(c.expect.coverage, 8);
    expect(result.insideShare).toBeCloseTo(c.expect.inside_share, 8);
  });

  it("covers a pass and every reason a press can get", () => {
    const seen = new Set(CASES.map((c) => c.expect.reason));
    expect(seen).toEqual(new Set([null, ...FOLLOW_REASONS.filter((r) => r !== "no_press")]));
  });
});
