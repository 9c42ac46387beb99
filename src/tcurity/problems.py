"""Phase B's image challenge: a 3 × 3 grid of numbered tiles, "select every <target> in number order".

What the AI server calls to make problems. A problem asks for one target class (never ``other``) with 2–4
target tiles among distractors of other classes, never a class confusable with the target. Every cell shows
a fresh variation of a bank tile (:mod:`tcurity.images.render`) stamped with a number from a random
permutation of 1–9; the answer is the target tiles' ids in ascending number order. Tile ids are random per
problem, so the client view (:class:`ClientProblem`) says nothing about which tile is which class; the answer
(:class:`ProblemAnswer`) stays with the backend.

Before a problem is served, the classifier scores every served tile in one batch across all problems being
made: a distractor the model takes for the target, or a target it does not recognise, is replaced and
checked again. Torch is not imported here; the scorer is any :class:`TileScorer` (serving passes
:class:`tcurity.images.classifier.TileClassifier` on CUDA when present).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from tcurity.config import ProblemConfig
from tcurity.images.bank import BankTile, ImageBank
from tcurity.images.classes import DISPLAY_NAMES, TARGET_CLASSES, allowed_distractors
from tcurity.images.render import RenderedTile, render_tile

logger = logging.getLogger(__name__)

GRID_ROWS = 3
GRID_COLS = 3
CELLS = GRID_ROWS * GRID_COLS
PROMPT_EN = "Select all images with {name}, in the order of their numbers"
PROMPT_KO = "{name}{particle} 있는 이미지를 번호 순서대로 모두 선택하세요"


class TileScorer(Protocol):
    """Anything that scores tiles in one batched call (the classifier check)."""

    @property
    def classes(self) -> Sequence[str]:
        """Class names in the column order of :meth:`predict_proba`."""
        ...

    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Probabilities of shape ``(len(images), len(classes))``."""
        ...


@dataclass(frozen=True, slots=True)
class TargetClass:
    """The class a problem asks for, with its display names."""

    key: str
    en: str
    ko: str


@dataclass(frozen=True, slots=True)
class ClientTile:
    """One cell as the browser gets it: an opaque id, its grid position (row-major, 0–8) and the JPEG."""

    tile_id: str
    position: int
    jpeg: bytes

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form with the image as a data URL."""
        data = base64.b64encode(self.jpeg).decode("ascii")
        return {"tile_id": self.tile_id, "position": self.position, "image": f"data:image/jpeg;base64,{data}"}


@dataclass(frozen=True, slots=True)
class ClientProblem:
    """What the client may see: the question and the tiles, nothing of which tile is which."""

    problem_id: str
    target: TargetClass
    tiles: tuple[ClientTile, ...]
    rows: int = GRID_ROWS
    cols: int = GRID_COLS

    @property
    def prompt(self) -> dict[str, str]:
        """The instruction in English and Korean."""
        return {
            "en": PROMPT_EN.format(name=self.target.en),
            "ko": PROMPT_KO.format(name=self.target.ko, particle=subject_particle(self.target.ko)),
        }

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for the API response."""
        return {
            "problem_id": self.problem_id,
            # The display names only: the class key is a machine's label and stays on the server (review 8).
            "target": {"en": self.target.en, "ko": self.target.ko},
            "prompt": self.prompt,
            "grid": {"rows": self.rows, "cols": self.cols},
            "tiles": [t.to_dict() for t in self.tiles],
        }


@dataclass(frozen=True, slots=True)
class ProblemAnswer:
    """The backend's side of a problem; never sent to the client.

    Attributes:
        answer: target tile ids in ascending order of their stamped numbers (what a solver must submit).
        numbers: stamped number of every tile id.
        tile_classes: class of every tile id (for audits and the attacker evaluation).
        sources: bank path of every tile id.
    """

    problem_id: str
    target: str
    answer: tuple[str, ...]
    numbers: Mapping[str, int]
    tile_classes: Mapping[str, str]
    sources: Mapping[str, str]


def subject_particle(word: str) -> str:
    """The Korean subject particle for ``word``: 이 after a final consonant (신호등이), else 가 (버스가)."""
    last = ord(word[-1]) - 0xAC00
    has_final_consonant = 0 <= last < 11172 and last % 28 != 0
    return "이" if has_final_consonant else "가"


class ProblemGenerationError(RuntimeError):
    """The bank or the check leaves no way to build the problems asked for."""


@dataclass(slots=True)
class _Cell:
    label: str
    is_target: bool
    number: int
    source: BankTile
    rendered: RenderedTile | None = None
    checked: bool = False


@dataclass(slots=True)
class _Draft:
    target: str
    cells: list[_Cell]
    used: set[str] = field(default_factory=set)
    failed: bool = False


class ProblemGenerator:
    """Makes checked problems from an :class:`~tcurity.images.bank.ImageBank`.

    Args:
        bank: the curated tiles.
        scorer: the classifier check; ``None`` skips it (tests of composition only — serving must pass one).
        config: composition, variation and check settings.
        seed: makes the composition, the variation and the numbers reproducible (tests, evaluation); ``None``
            draws from the OS's entropy, as serving must. Problem and tile ids are random either way.

    Safe to share between threads (a lock serialises generation); for parallel generation use one per worker.
    """

    def __init__(
        self,
        bank: ImageBank,
        scorer: TileScorer | None,
        config: ProblemConfig | None = None,
        seed: int | None = None,
    ) -> None:
        self.bank = bank
        self.scorer = scorer
        self.config = config or ProblemConfig()
        self._rng: random.Random = random.Random(seed) if seed is not None else random.SystemRandom()
        self._recent: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        self._targets = self._eligible_targets()

    def _eligible_targets(self) -> tuple[str, ...]:
        targets = tuple(
            c
            for c in TARGET_CLASSES
            if len(self.bank.tiles_of(c)) > self.config.max_targets
            and any(self.bank.tiles_of(d) for d in allowed_distractors(c, self.bank.classes))
        )
        if not targets:
            raise ProblemGenerationError(f"no class has enough tiles in the bank: {self.bank.sizes()}")
        if self.scorer is not None:
            missing = [c for c in self.bank.classes if c not in self.scorer.classes]
            if missing:
                raise ProblemGenerationError(f"the scorer does not know classes {missing}")
        return targets

    def generate(self) -> tuple[ClientProblem, ProblemAnswer]:
        """One checked problem: the client view and the backend's answer."""
        return self.generate_batch(1)[0]

    def generate_batch(self, n: int) -> list[tuple[ClientProblem, ProblemAnswer]]:
        """``n`` checked problems, their tiles scored together (one classifier batch per check round).

        Raises:
            ProblemGenerationError: when too many drafts fail the check (a bank or a model out of order).
        """
        with self._lock:
            done: list[_Draft] = []
            attempts = 0
            while len(done) < n:
                missing = n - len(done)
                attempts += missing
                if attempts > 4 * n + 8:
                    raise ProblemGenerationError(
                        f"{attempts} drafts for {n} problems: the check rejects too many"
                    )
                drafts = [self._draft() for _ in range(missing)]
                self._check(drafts)
                done += [d for d in drafts if not d.failed]
            return [self._finish(d) for d in done]

    def _draft(self) -> _Draft:
        rng = self._rng
        target = rng.choice(self._targets)
        n_targets = rng.randint(self.config.min_targets, self.config.max_targets)
        target_cells = set(rng.sample(range(CELLS), n_targets))
        numbers = rng.sample(range(1, CELLS + 1), CELLS)
        draft = _Draft(target=target, cells=[])
        for position in range(CELLS):
            cell = self._new_cell(draft, position in target_cells, numbers[position])
            if cell is None:
                raise ProblemGenerationError(
                    f"the bank cannot fill a grid for {target!r}: {self.bank.sizes()}"
                )
            draft.cells.append(cell)
        for cell in draft.cells:
            cell.rendered = self._render(cell)
        return draft

    def _new_cell(self, draft: _Draft, is_target: bool, number: int) -> _Cell | None:
        """A cell with an unused source tile: of the target, or of an allowed distractor class."""
        labels = [draft.target] if is_target else self._distractor_labels(draft)
        for label in labels:
            source = self._pick_source(draft, label)
            if source is not None:
                return _Cell(label, is_target, number, source)
        return None

    def _distractor_labels(self, draft: _Draft) -> list[str]:
        """Allowed distractor classes in random order (the first with an unused tile is taken)."""
        labels = [c for c in allowed_distractors(draft.target, self.bank.classes) if self.bank.tiles_of(c)]
        self._rng.shuffle(labels)
        return labels

    def _pick_source(self, draft: _Draft, label: str) -> BankTile | None:
        """A bank tile of ``label`` not yet used in this problem (the same photo twice is a giveaway)."""
        tiles = self.bank.tiles_of(label)
        for _ in range(16):
            tile = tiles[self._rng.randrange(len(tiles))]
            if tile.path not in draft.used:
                draft.used.add(tile.path)
                return tile
        unused = [t for t in tiles if t.path not in draft.used]
        if not unused:
            return None
        tile = self._rng.choice(unused)
        draft.used.add(tile.path)
        return tile

    def _render(self, cell: _Cell) -> RenderedTile:
        """A fresh variation whose bytes were never served before (re-drawn in the rare case they were)."""
        source = self.bank.image(cell.source)
        for _ in range(8):
            rendered = render_tile(source, cell.number, self._rng, self.config.variation)
            digest = hashlib.sha256(rendered.jpeg).digest()
            if digest not in self._recent:
                self._remember(digest)
                return rendered
        raise ProblemGenerationError(f"cannot vary {cell.source.path} into unseen bytes")

    def _remember(self, digest: bytes) -> None:
        if self.config.recent_digests == 0:
            return
        self._recent[digest] = None
        if len(self._recent) > self.config.recent_digests:
            self._recent.popitem(last=False)

    def _check(self, drafts: list[_Draft]) -> None:
        """Scores unchecked cells of all drafts in one batch per round; replaces cells that fail."""
        if self.scorer is None:
            return
        classes = list(self.scorer.classes)
        for _ in range(self.config.check_rounds):
            pending = [(d, c) for d in drafts if not d.failed for c in d.cells if not c.checked]
            if not pending:
                return
            probs = self.scorer.predict_proba([_image(c) for _, c in pending])
            for (draft, cell), row in zip(pending, probs, strict=True):
                if self._passes(cell, row, classes.index(draft.target)):
                    cell.checked = True
                else:
                    self._replace(draft, cell)
        for draft in drafts:
            draft.failed = draft.failed or any(not c.checked for c in draft.cells)
            if draft.failed:
                logger.debug("dropped a %s draft that kept failing the check", draft.target)

    def _passes(self, cell: _Cell, row: np.ndarray, target_index: int) -> bool:
        p_target = float(row[target_index])
        if cell.is_target:
            return p_target >= self.config.min_target_prob
        return p_target < self.config.max_distractor_target_prob and int(np.argmax(row)) != target_index

    def _replace(self, draft: _Draft, cell: _Cell) -> None:
        """Puts a new source tile (for a distractor, maybe of another class) into a failed cell."""
        fresh = self._new_cell(draft, cell.is_target, cell.number)
        if fresh is None:
            draft.failed = True  # the bank has no unused tile left for this cell
            return
        fresh.rendered = self._render(fresh)
        draft.cells[next(i for i, c in enumerate(draft.cells) if c is cell)] = fresh

    def _finish(self, draft: _Draft) -> tuple[ClientProblem, ProblemAnswer]:
        problem_id = secrets.token_urlsafe(16)
        ids = _unique_ids(len(draft.cells))
        display = DISPLAY_NAMES[draft.target]
        tiles = tuple(
            ClientTile(tile_id=tile_id, position=position, jpeg=_rendered(cell).jpeg)
            for position, (tile_id, cell) in enumerate(zip(ids, draft.cells, strict=True))
        )
        targets = sorted((c.number, i) for i, c in zip(ids, draft.cells, strict=True) if c.is_target)
        client = ClientProblem(problem_id, TargetClass(draft.target, display.en, display.ko), tiles)
        answer = ProblemAnswer(
            problem_id=problem_id,
            target=draft.target,
            answer=tuple(tile_id for _, tile_id in targets),
            numbers={i: c.number for i, c in zip(ids, draft.cells, strict=True)},
            tile_classes={i: c.label for i, c in zip(ids, draft.cells, strict=True)},
            sources={i: c.source.path for i, c in zip(ids, draft.cells, strict=True)},
        )
        return client, answer


def _rendered(cell: _Cell) -> RenderedTile:
    if cell.rendered is None:
        raise AssertionError("every cell is rendered when drafted")
    return cell.rendered


def _image(cell: _Cell) -> Image.Image:
    return _rendered(cell).image


def _unique_ids(n: int) -> list[str]:
    """``n`` distinct opaque ids (96 random bits each: a collision is all but impossible, still refused)."""
    ids: list[str] = []
    while len(ids) < n:
        candidate = secrets.token_urlsafe(12)
        if candidate not in ids:
            ids.append(candidate)
    return ids
