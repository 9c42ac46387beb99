"""Hand-made forests for tests whose expected scores are worked out by hand."""

from __future__ import annotations

import numpy as np

from tcurity.scoring import ForestArrays


def one_split(feature: int, threshold: float, values: list[float]) -> ForestArrays:
    """One tree: node 0 splits ``feature`` at ``threshold``; leaves 1 (left) and 2 (right); ``values`` are the
    bot-class shares of nodes 0, 1, 2."""
    return ForestArrays(
        left=np.array([[1, -1, -1]], dtype=np.int32),
        right=np.array([[2, -1, -1]], dtype=np.int32),
        feature=np.array([[feature, -1, -1]], dtype=np.int32),
        threshold=np.array([[threshold, 0.0, 0.0]]),
        value=np.array([values]),
        max_depth=2,
    )
