"""Plots of the pipeline's reports: readable pictures of what the numbers say."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tcurity.sampling import Path2


def score_distributions(
    human: NDArray[np.float64], bots: Mapping[str, NDArray[np.float64]], threshold: float, title: str
) -> Figure:
    """Histogram of human scores against each bot family's, with the decision threshold."""
    fig, ax = plt.subplots(figsize=(9, 5))
    bins = np.linspace(min(np.min(human), *(np.min(b) for b in bots.values())), np.max(human), 60).tolist()
    ax.hist(
        human, bins=bins, density=True, alpha=0.55, color="black", label=f"held-out humans ({len(human)})"
    )
    for name, scores in bots.items():
        ax.hist(scores, bins=bins, density=True, histtype="step", linewidth=1.4, label=name)
    ax.axvline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("human-likeness score (higher = more human)")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def block_rates(rates: Mapping[str, float], kinds: Mapping[str, str], title: str) -> Figure:
    """Horizontal bars of each bot family's block rate, coloured by naive/humanised."""
    names = sorted(rates, key=lambda n: (kinds.get(n, ""), n))
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(names) + 1.5))
    colours = ["#4477aa" if kinds.get(n) == "naive" else "#ee6677" for n in names]
    ax.barh(names, [rates[n] for n in names], color=colours)
    for i, n in enumerate(names):
        ax.text(min(rates[n], 0.98), i, f"{rates[n]:.3f}", va="center", ha="right", color="white", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share blocked (blue: naive, red: humanised)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def trajectories(paths: Mapping[str, list[Path2]], title: str) -> Figure:
    """Paths of several sources side by side, each drawn in its own panel."""
    fig, axes = plt.subplots(1, len(paths), figsize=(2.6 * len(paths), 4), sharex=True, sharey=True)
    for ax, (name, group) in zip(np.atleast_1d(axes), paths.items(), strict=True):
        for path in group:
            ax.plot(path.x, path.y, marker=".", markersize=2, linewidth=0.8, alpha=0.7)
        ax.set_title(name, fontsize=9)
        ax.invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def speed_profiles(profiles: Mapping[str, list[tuple[NDArray[np.float64], NDArray[np.float64]]]]) -> Figure:
    """Speed against normalised time for each source (one panel each)."""
    fig, axes = plt.subplots(1, len(profiles), figsize=(2.6 * len(profiles), 3), sharey=True)
    for ax, (name, group) in zip(np.atleast_1d(axes), profiles.items(), strict=True):
        for t, v in group:
            ax.plot(t, v, linewidth=0.8, alpha=0.6)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("time / duration")
    np.atleast_1d(axes)[0].set_ylabel("speed (lengths/s)")
    fig.tight_layout()
    return fig
