"""Plots of the pipeline's reports: readable pictures of what the numbers say."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
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


def _panels(n: int, cols: int, size: tuple[float, float], share: bool = False) -> tuple[Figure, list[Axes]]:
    """A grid of ``n`` panels, ``cols`` wide (axes shared when ``share``); unused panels hidden."""
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False, sharex=share, sharey=share
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def trajectories(paths: Mapping[str, list[Path2]], title: str) -> Figure:
    """Paths of several sources, each in its own panel (same scale, screen orientation)."""
    fig, axes = _panels(len(paths), 6, (2.4, 2.6), share=True)
    for ax, (name, group) in zip(axes, paths.items(), strict=True):
        for path in group:
            ax.plot(path.x, path.y, marker=".", markersize=2, linewidth=0.8, alpha=0.7)
        ax.set_title(name, fontsize=9)
    axes[0].invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def speed_profiles(profiles: Mapping[str, list[tuple[NDArray[np.float64], NDArray[np.float64]]]]) -> Figure:
    """Speed against normalised time for each source (one panel each, its own speed scale)."""
    fig, axes = _panels(len(profiles), 6, (2.4, 2.2))
    for ax, (name, group) in zip(axes, profiles.items(), strict=True):
        for t, v in group:
            ax.plot(t, v, marker=".", markersize=3, linewidth=0.8, alpha=0.6)
        ax.set_title(name, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_xlabel("time / duration", fontsize=8)
    axes[0].set_ylabel("speed (lengths/s)")
    fig.tight_layout()
    return fig


def feature_distributions(
    groups: Mapping[str, Mapping[str, NDArray[np.float64]]], features: list[str]
) -> Figure:
    """Box plots of each feature (one panel each) across sources (``groups[source][feature]``)."""
    cols = 4
    rows = (len(features) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows))
    names = list(groups)
    for ax, feature in zip(np.ravel(axes), features, strict=False):
        ax.boxplot([groups[n][feature] for n in names], showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=60, ha="right", fontsize=7)
        ax.set_title(feature, fontsize=9)
    for ax in np.ravel(axes)[len(features) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
