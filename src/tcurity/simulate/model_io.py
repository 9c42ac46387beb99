"""Storage and provenance of the fitted bot models: arrays in ``.npz``, facts in ``.json``, never pickle.

A fitted family (:mod:`tcurity.simulate.learned`, :mod:`tcurity.simulate.sigma_lognormal`) learns from recorded
people, and only from the *attacker-source* users (``params.yaml: sapimouse_split.attacker_users``), whom no model
ever trains or is evaluated on as humans. :func:`attacker_strokes_only` is the one gate every fit goes through: it
refuses any stroke of another user, so a caller that forgot to filter fails loudly instead of leaking training or
test people into a bot. Models are written as ``<name>.npz`` (numeric arrays, loaded with ``allow_pickle=False``)
beside ``<name>.json`` (scalars, the users fitted on, the procedure's constants), small enough to be a DVC output
and read by a person.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from tcurity.sampling import Path2


class UserStroke(Protocol):
    """A recorded movement and whose it is (:class:`tcurity.data.strokes.Stroke` is one).

    The simulators need only these two fields, so they do not depend on how strokes are read or cut.
    """

    @property
    def user(self) -> str: ...

    @property
    def path(self) -> Path2: ...


def attacker_strokes_only(strokes: Sequence[UserStroke], attacker_users: Collection[str]) -> list[UserStroke]:
    """``strokes`` unchanged when every one belongs to ``attacker_users``.

    Raises:
        ValueError: when a stroke belongs to another user (named in the message), or there is no stroke at all.
    """
    allowed = set(attacker_users)
    outsiders = sorted({s.user for s in strokes if s.user not in allowed})
    if outsiders:
        raise ValueError(f"bot models learn from attacker-source users only; refused strokes of {outsiders}")
    if not strokes:
        raise ValueError("a bot model needs at least one attacker stroke to learn from")
    return list(strokes)


def save_model(
    out_dir: Path, name: str, arrays: Mapping[str, NDArray[np.float64]], meta: Mapping[str, Any]
) -> None:
    """Writes ``out_dir/<name>.npz`` (the arrays) and ``out_dir/<name>.json`` (``meta``, pretty-printed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    named = {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}
    # numpy's stubs type **kwds like its allow_pickle keyword; the arrays are plain float64, never objects.
    np.savez(out_dir / f"{name}.npz", **named)  # type: ignore[arg-type]
    (out_dir / f"{name}.json").write_text(json.dumps(dict(meta), indent=2, sort_keys=True) + "\n")


def load_model(in_dir: Path, name: str) -> tuple[dict[str, NDArray[np.float64]], dict[str, Any]]:
    """The arrays and facts :func:`save_model` wrote (object arrays are refused: no pickle is ever loaded)."""
    with np.load(in_dir / f"{name}.npz", allow_pickle=False) as npz:
        arrays = {k: np.asarray(npz[k], dtype=np.float64) for k in npz.files}
    meta: dict[str, Any] = json.loads((in_dir / f"{name}.json").read_text())
    return arrays, meta
