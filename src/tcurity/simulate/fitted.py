"""The fitted bot families' models: fitted together on attacker-source people, stored and loaded together.

:func:`fit_bot_models` is what the DVC stage ``fit_bot_models`` runs (``pipelines/fit_bot_models.py``); the stages
that simulate bots (``simulate_bots``, ``prepare_phase_b``, ``feature_separation``) read the models back with
:func:`load_bot_models` and hand each fitted family its own (``Family.move(..., model=...)``). Every fit goes
through :func:`tcurity.simulate.model_io.attacker_strokes_only`, which refuses strokes of any other user.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from tcurity.simulate import FAMILIES
from tcurity.simulate.learned import LearnedModel, fit_learned
from tcurity.simulate.model_io import UserStroke, attacker_strokes_only
from tcurity.simulate.sigma_lognormal import SigmaLognormalModel, fit_population

logger = logging.getLogger(__name__)

BotModel = LearnedModel | SigmaLognormalModel


def fit_bot_models(
    strokes: Sequence[UserStroke], attacker_users: Collection[str], max_sigma_strokes: int, seed: int
) -> dict[str, BotModel]:
    """Every fitted family's model, keyed by family name, learned from ``strokes`` of ``attacker_users`` only.

    The learned generator takes every stroke (its fit is one SVD); the sigma-lognormal fit costs a least-squares
    problem per stroke, so it takes at most ``max_sigma_strokes`` of them, drawn without replacement (``seed``).

    Raises:
        ValueError: for a stroke of a user outside ``attacker_users`` (nothing is fitted then).
    """
    kept = attacker_strokes_only(strokes, attacker_users)
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(kept), size=min(max_sigma_strokes, len(kept)), replace=False))
    return {
        "learned_pca": fit_learned(kept, attacker_users),
        "sigma_lognormal": fit_population([kept[i] for i in chosen], attacker_users),
    }


def save_bot_models(models: Mapping[str, BotModel], out_dir: Path) -> None:
    """Writes each model's arrays and facts under ``out_dir`` (:mod:`tcurity.simulate.model_io`)."""
    for model in models.values():
        model.save(out_dir)
    logger.info("saved bot models %s to %s", sorted(models), out_dir)


def load_bot_models(in_dir: Path) -> dict[str, BotModel]:
    """The models :func:`save_bot_models` wrote, keyed by family name.

    Raises:
        FileNotFoundError: when a fitted family's files are missing (run the ``fit_bot_models`` stage).
    """
    models: dict[str, BotModel] = {
        "learned_pca": LearnedModel.load(in_dir),
        "sigma_lognormal": SigmaLognormalModel.load(in_dir),
    }
    missing = {name for name, f in FAMILIES.items() if f.fitted} - set(models)
    if missing:
        raise FileNotFoundError(f"no fitted model for families {sorted(missing)} under {in_dir}")
    return models
