"""Figures of Phase B's image model (confusion matrices, training curves), for MLflow and DVC."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def confusion_figure(matrix: np.ndarray, classes: Sequence[str], title: str) -> Figure:
    """A row-normalised confusion matrix (rows: true class) with the raw counts written in each cell."""
    counts = np.asarray(matrix, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(classes)), labels=list(classes), rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), labels=list(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for (row, col), count in np.ndenumerate(counts):
        colour = "white" if rates[row, col] > 0.5 else "black"
        ax.text(col, row, f"{int(count)}", ha="center", va="center", fontsize=8, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def history_figure(epochs: Sequence[int], series: dict[str, Sequence[float]], title: str) -> Figure:
    """One line per named series over epochs (losses and accuracies of a training run)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for name, values in series.items():
        ax.plot(list(epochs), list(values), marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
