import { describe, expect, it, vi } from "vitest";
import type { GridTask, ProblemView } from "../src/client";
import { translator } from "../src/i18n";
import { GridPhase } from "../src/phase-b";

const cells = Array.from({ length: 9 }, (_, i) => ({ x: (i % 3) / 3, y: Math.floor(i / 3) / 4, w: 0.3, h: 0.2 }));
const TASK: GridTask = {
  kind: "grid",
  area_px: [420, 560],
  cells,
  slots: [
    { x: 0.1, y: 0.8, w: 0.2, h: 0.15 },
    { x: 0.4, y: 0.8, w: 0.2, h: 0.15 },
  ],
};
const PNG = "data:image/png;base64,iVBORw0KGgo=";
const PROBLEM: ProblemView = {
  problem_id: "p1",
  target: { en: "palm trees", ko: "야자수" },
  prompt: { en: "Select all images with palm trees", ko: "야자수가 있는 그림을 모두 고르세요" },
  grid: { rows: 3, cols: 3 },
  tiles: cells.map((_, i) => ({ tile_id: `t${i}`, position: i, image: PNG })),
};

function make() {
  const onChange = vi.fn();
  const announce = vi.fn();
  const grid = new GridPhase(document, TASK, PROBLEM, "ko", translator("ko"), { onChange, announce });
  document.body.replaceChildren(grid.element);
  const tile = (id: string) => grid.element.querySelector(`[data-tile-id="${id}"]`) as HTMLButtonElement;
  const slot = (k: number) => grid.element.querySelector(`[data-slot="${k}"] .slot-target`) as HTMLButtonElement;
  return { grid, onChange, announce, tile, slot };
}

describe("GridPhase (keyboard: Enter on a picture, then on a slot)", () => {
  it("shows the class to find in the page's language and every picture", () => {
    const { grid } = make();
    expect(grid.element.querySelector(".target")?.textContent).toBe("찾을 것: 야자수");
    expect(grid.element.innerHTML).not.toContain("palm_tree"); // no class key in the page (review 8)
    expect(grid.element.querySelectorAll(".tile")).toHaveLength(9);
    expect(grid.element.querySelector('[data-tile-id="t5"]')?.getAttribute("aria-label")).toBe("2행 3열 그림");
  });

  it("places pictures into slots and answers in slot order with a synthetic press per placement", () => {
    const { grid, onChange, tile, slot } = make();
    tile("t4").click();
    expect(tile("t4").getAttribute("aria-pressed")).toBe("true");
    slot(1).click();
    tile("t0").click();
    slot(0).click();
    expect(grid.complete).toBe(true);
    expect(onChange).toHaveBeenLastCalledWith(true);
    expect(grid.answer()).toEqual(["t0", "t4"]);
    expect(tile("t4").getAttribute("aria-label")).toBe("2행 2열 그림, 2번 칸에 있음");
    const points = grid.trace().points;
    expect(points.event).toEqual(["down", "move", "up", "down", "move", "up"]);
    expect(points.pointer_type).toBeUndefined();
    // the first press starts on cell 4's centre and ends on slot 1's centre
    expect(points.x[0]).toBeCloseTo(1 / 3 + 0.15);
    expect(points.y[0]).toBeCloseTo(0.25 + 0.1);
    expect(points.x[2]).toBeCloseTo(0.5);
    expect(points.y[2]).toBeCloseTo(0.875);
  });

  it("removes a picture from its slot with its × button", () => {
    const { grid, tile, slot, onChange } = make();
    tile("t2").click();
    slot(0).click();
    const remove = grid.element.querySelector('[data-slot="0"] .remove') as HTMLButtonElement;
    expect(remove.getAttribute("aria-label")).toBe("1번 칸에서 그림 빼기");
    remove.click();
    expect(grid.complete).toBe(false);
    expect(onChange).toHaveBeenLastCalledWith(false);
    expect(tile("t2").getAttribute("data-placed")).toBe("false");
  });

  it("puts a replaced picture back into the grid", () => {
    const { grid, tile, slot } = make();
    tile("t1").click();
    slot(0).click();
    tile("t3").click();
    slot(0).click();
    expect(grid.answer()).toEqual(["t3"]);
    expect(tile("t1").getAttribute("data-placed")).toBe("false");
  });

  it("cancels an unfinished keyboard press in the trace", () => {
    const { grid, tile } = make();
    tile("t1").click();
    expect(grid.trace().points.event).toEqual(["down", "cancel"]);
  });
});
