"""Fast, dependency-light scoring of the behaviour models, and the bundle they are shipped in.

Sklearn forests spend ~0.15 ms of Python per tree on one row; a 300-tree Isolation Forest would cost ~45 ms a
trace. :class:`ForestArrays` flattens the fitted trees into padded numpy arrays and walks all trees level by
level at once, which gives sklearn's exact numbers in tens of microseconds. The serving path needs only numpy
and this module.

A :class:`ModelBundle` is what training logs to MLflow (inside a pyfunc, :class:`BundlePyfunc`): the flattened
forest, the feature names and their quantile transform, the decision threshold, the human reference ranges used for reason codes,
and the canonical sampling grid the features were computed on. The pyfunc keeps the bundle's two files under
``artifacts/bundle/`` of the model folder (:data:`PYFUNC_BUNDLE_DIR`); serving reads those with ``json`` and
``numpy`` (``allow_pickle=False``) and never unpickles the pyfunc (security review finding 7).

A bundle may hold a second, supervised layer (:class:`SupervisedLayer`: a Random Forest of people against training
bots, on the same features) beside its primary one. The two are combined by a named rule (:data:`COMBINATION_RULES`);
``both_pass`` lets a trace through only when each layer scores it at or above its own threshold. Everything is stored
as JSON and numpy arrays (``bundle.json``, ``forest.npz``), never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

BundleKind = Literal["isolation_forest", "random_forest"]
BUNDLE_FILE = "bundle.json"
ARRAYS_FILE = "forest.npz"
PYFUNC_BUNDLE_DIR = Path("artifacts") / "bundle"  # where the pyfunc's ``bundle`` artefact lands in its folder
_ARRAY_KINDS = {"left": "i", "right": "i", "feature": "i", "threshold": "f", "value": "f", "max_depth": "i"}
SUPERVISED_PREFIX = "supervised_"
APPROACH_DIR = "approach"  # the approach layers' own bundle, inside a Phase A bundle's folder
_LEAF = -1


def average_path_length(n: NDArray[np.float64]) -> NDArray[np.float64]:
    """Expected path length of an unsuccessful search in a binary search tree of ``n`` points (Liu et al.)."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


@dataclass(frozen=True)
class ForestArrays:
    """Trees as padded arrays of shape ``(n_trees, max_nodes)``; ``value`` holds each node's leaf output.

    For an Isolation Forest a leaf's value is its depth plus the average path length of the samples it holds;
    for a Random Forest it is the leaf's share of the positive class.
    """

    left: NDArray[np.int32]
    right: NDArray[np.int32]
    feature: NDArray[np.int32]
    threshold: NDArray[np.float64]
    value: NDArray[np.float64]
    max_depth: int

    def leaf_values(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The value of the leaf each row reaches in each tree, shape ``(n_rows, n_trees)``."""
        # sklearn compares float32 features against its thresholds; do the same to reach the same leaves.
        x = np.atleast_2d(np.asarray(x, dtype=np.float32)).astype(np.float64)
        walk = self._walk
        n_rows, n_trees = x.shape[0], len(walk.roots)
        if n_rows == 1:  # serving's case: one trace, everything one-dimensional
            node = walk.roots.copy()
            flat_x = x[0]
            for _ in range(self.max_depth):
                go_left = flat_x[walk.feature[node]] <= walk.threshold[node]
                node = walk.children[node + go_left * walk.size]
            return np.asarray(walk.value[node], dtype=np.float64).reshape(1, n_trees)
        node = np.broadcast_to(walk.roots, (n_rows, n_trees)).copy()
        flat_x = x.ravel()
        offset = np.arange(n_rows)[:, None] * x.shape[1]
        for _ in range(self.max_depth):
            go_left = flat_x[walk.feature[node] + offset] <= walk.threshold[node]
            node = walk.children[node + go_left * walk.size]
        return np.asarray(walk.value[node], dtype=np.float64)

    @cached_property
    def _walk(self) -> _FlatWalk:
        return _FlatWalk.of(self)

    def contributions(self, x: NDArray[np.float64], n_features: int) -> NDArray[np.float64]:
        """How much each feature moved one row's mean leaf value, summed over its splits (Saabas' attribution).

        Walking a tree from the root, every split changes the node value from the parent's to the child's; the
        change is credited to the split's feature. Summed over the path it is ``leaf - root``, so the result, averaged
        over the trees, adds up to the row's mean leaf value minus the mean root value. Meaningful only when
        internal nodes hold values (``flatten_random_forest(..., node_values=True)``); shape ``(n_features,)``.
        """
        row = np.asarray(x, dtype=np.float32).astype(np.float64).ravel()
        walk = self._walk
        node = walk.roots.copy()
        out = np.zeros(n_features, dtype=np.float64)
        for _ in range(self.max_depth):
            go_left = row[walk.feature[node]] <= walk.threshold[node]
            child = walk.children[node + go_left * walk.size]
            np.add.at(out, walk.feature[node], walk.value[child] - walk.value[node])  # a leaf adds 0
            node = child
        return out / len(walk.roots)

    def to_arrays(self, prefix: str = "") -> dict[str, NDArray[Any]]:
        """The forest as named arrays (keys prefixed with ``prefix``), what :meth:`save` writes."""
        return {
            f"{prefix}left": self.left,
            f"{prefix}right": self.right,
            f"{prefix}feature": self.feature,
            f"{prefix}threshold": self.threshold,
            f"{prefix}value": self.value,
            f"{prefix}max_depth": np.array(self.max_depth),
        }

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str = "") -> ForestArrays:
        """The forest back from named arrays (a mapping or an open ``.npz``) written by :meth:`to_arrays`: plain
        numeric arrays only, never pickled objects.

        Raises:
            ValueError: a missing array, an object or otherwise non-numeric array, or mismatched shapes.
        """
        found = {}
        for key, kind in _ARRAY_KINDS.items():
            name = f"{prefix}{key}"
            if name not in arrays:
                raise ValueError(f"the forest has no array {name!r}")
            array = np.asarray(arrays[name])
            if array.dtype.kind != kind:
                raise ValueError(f"the forest's {name} has dtype {array.dtype}, expected kind {kind!r}")
            found[key] = array
        shape = found["left"].shape
        if len(shape) != 2 or any(
            found[k].shape != shape for k in ("right", "feature", "threshold", "value")
        ):
            raise ValueError(f"the forest's {prefix or ''}tree arrays must share one 2-D shape")
        return cls(
            left=found["left"],
            right=found["right"],
            feature=found["feature"],
            threshold=found["threshold"],
            value=found["value"],
            max_depth=int(found["max_depth"]),
        )

    def save(self, path: Path) -> None:
        np.savez_compressed(path, **self.to_arrays())  # type: ignore[arg-type]  # keys are array names

    @classmethod
    def load(cls, path: Path) -> ForestArrays:
        with np.load(path, allow_pickle=False) as z:
            return cls.from_arrays(z)


@dataclass(frozen=True)
class _FlatWalk:
    """The trees as flat arrays indexed by ``tree * max_nodes + node``, children as flat indices too.

    ``children`` holds every node's right child, then (``size`` further on) every node's left child, so a
    row's comparison result picks the next node in one gather. A leaf points to itself on both sides (feature
    0, threshold ``+inf``), so every row takes exactly ``max_depth`` steps with no test for having arrived,
    which keeps scoring a single answer to tens of microseconds.
    """

    roots: NDArray[np.intp]
    feature: NDArray[np.intp]
    threshold: NDArray[np.float64]
    children: NDArray[np.intp]  # right children of all nodes, then left children
    value: NDArray[np.float64]

    @property
    def size(self) -> int:
        """Nodes in all trees together (``n_trees * max_nodes``)."""
        return len(self.feature)

    @classmethod
    def of(cls, forest: ForestArrays) -> _FlatWalk:
        n_trees, width = forest.left.shape
        base = (np.arange(n_trees, dtype=np.intp) * width)[:, None]
        here = base + np.arange(width, dtype=np.intp)[None, :]
        leaf = forest.feature == _LEAF
        left = np.where(leaf, here, base + forest.left).ravel()
        right = np.where(leaf, here, base + forest.right).ravel()
        return cls(
            roots=base[:, 0].copy(),
            feature=np.where(leaf, 0, forest.feature).astype(np.intp).ravel(),
            threshold=np.where(leaf, np.inf, forest.threshold).ravel(),
            children=np.concatenate([right, left]),
            value=forest.value.ravel().astype(np.float64),
        )


def _pad(arrays: list[NDArray[Any]], fill: float, dtype: Any) -> NDArray[Any]:
    width = max(len(a) for a in arrays)
    out = np.full((len(arrays), width), fill, dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return out


def _node_depths(left: NDArray[np.intp], right: NDArray[np.intp]) -> NDArray[np.float64]:
    depth = np.zeros(len(left), dtype=np.float64)
    for node in range(len(left)):  # sklearn numbers children after their parent
        if left[node] != _LEAF:
            depth[left[node]] = depth[right[node]] = depth[node] + 1
    return depth


def flatten_isolation_forest(model: Any) -> ForestArrays:
    """Flattens a fitted ``sklearn.ensemble.IsolationForest`` (its feature subsets mapped back)."""
    lefts, rights, feats, thresholds, values = [], [], [], [], []
    for tree, subset in zip(model.estimators_, model.estimators_features_, strict=True):
        t = tree.tree_
        leaf = t.children_left == _LEAF
        depth = _node_depths(t.children_left, t.children_right)
        lefts.append(t.children_left)
        rights.append(t.children_right)
        feats.append(np.where(leaf, _LEAF, np.asarray(subset)[np.maximum(t.feature, 0)]))
        thresholds.append(t.threshold)
        values.append(np.where(leaf, depth + average_path_length(t.n_node_samples.astype(np.float64)), 0.0))
    return _stack(lefts, rights, feats, thresholds, values)


def flatten_random_forest(model: Any, positive_class: int = 1, node_values: bool = False) -> ForestArrays:
    """Flattens a fitted ``sklearn.ensemble.RandomForestClassifier`` to the positive class's leaf shares.

    With ``node_values`` every internal node keeps its own share too (scoring reads leaves only, so scores are
    the same); :meth:`ForestArrays.contributions` needs them to say which feature decided.
    """
    column = list(model.classes_).index(positive_class)
    lefts, rights, feats, thresholds, values = [], [], [], [], []
    for tree in model.estimators_:
        t = tree.tree_
        leaf = t.children_left == _LEAF
        share = t.value[:, 0, :] / np.maximum(t.value[:, 0, :].sum(axis=1, keepdims=True), 1e-12)
        lefts.append(t.children_left)
        rights.append(t.children_right)
        feats.append(np.where(leaf, _LEAF, t.feature))
        thresholds.append(t.threshold)
        values.append(share[:, column] if node_values else np.where(leaf, share[:, column], 0.0))
    return _stack(lefts, rights, feats, thresholds, values)


def _stack(
    lefts: list[Any], rights: list[Any], feats: list[Any], thresholds: list[Any], values: list[Any]
) -> ForestArrays:
    max_depth = max(int(_node_depths(lft, rgt).max()) for lft, rgt in zip(lefts, rights, strict=True)) + 1
    return ForestArrays(
        left=_pad(lefts, 0, np.int32),
        right=_pad(rights, 0, np.int32),
        feature=_pad(feats, _LEAF, np.int32),
        threshold=_pad(thresholds, 0.0, np.float64),
        value=_pad(values, 0.0, np.float64),
        max_depth=max_depth,
    )


@dataclass(frozen=True)
class QuantileNormal:
    """Maps each feature through the human training data's quantiles onto a standard normal scale.

    Human values become standard-normal; values beyond the human range land on ``±5.2`` (the normal score of
    ``1e-7``). The Isolation Forest splits uniformly between a node's extremes, so this keeps heavy human tails
    from hiding machine-like values. Same numbers as sklearn's ``QuantileTransformer(output_distribution=
    "normal")``, without its per-call overhead.
    """

    quantiles: NDArray[np.float64]  # (n_quantiles, n_features), increasing down each column

    _CLIP = 1e-7

    @classmethod
    def fit(cls, x: NDArray[np.float64], n_quantiles: int = 200) -> QuantileNormal:
        levels = np.linspace(0.0, 1.0, n_quantiles)
        return cls(quantiles=np.maximum.accumulate(np.quantile(x, levels, axis=0), axis=0))

    def apply(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Transforms rows of features; ties in the quantiles map to the middle of their run."""
        levels = np.linspace(0.0, 1.0, self.quantiles.shape[0])
        out = np.empty_like(x, dtype=np.float64)
        for j in range(x.shape[1]):
            q = self.quantiles[:, j]
            up = np.interp(x[:, j], q, levels)
            down = -np.interp(-x[:, j], -q[::-1], -levels[::-1])
            u = 0.5 * (up + down)
            u[x[:, j] <= q[0]] = 0.0
            u[x[:, j] >= q[-1]] = 1.0
            out[:, j] = ndtri(np.clip(u, self._CLIP, 1.0 - self._CLIP))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"quantiles": self.quantiles.tolist()}

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> QuantileNormal:
        return cls(quantiles=np.asarray(payload["quantiles"], dtype=np.float64))


COMBINATION_RULES: tuple[str, ...] = ("both_pass",)
"""How a bundle's two layers decide together. ``both_pass``: a trace passes only when the primary (one-class)
layer *and* the supervised layer each score it at or above their own threshold, each set on calibration people at
its own false-reject budget; the bundle's false-reject rate is then at most the sum of the two budgets."""


@dataclass(frozen=True)
class Verdict:
    """One scored trace: a human-likeness score (higher is more human), the decision and its reasons.

    ``score`` is the primary layer's; ``layers`` gives each layer's score, threshold and decision (one entry per
    layer the bundle holds).
    """

    score: float
    passed: bool
    reasons: list[str]
    layers: dict[str, dict[str, float | bool]] = field(default_factory=dict)


@dataclass(frozen=True)
class SupervisedLayer:
    """A bundle's second layer: a Random Forest of people (class 0) against training bots (class 1).

    It reads the raw features (a forest's splits do not care about monotone transforms), scores the human-class
    probability, and passes a trace at ``score >= threshold``. ``forest`` keeps internal-node values, so the feature
    that pushed a trace furthest towards the bots can be named (:meth:`ForestArrays.contributions`);
    ``reference_median`` (the training people's median of each feature) says whether it was high or low.
    ``scale`` is the spread of the calibration people's scores, the unit of :meth:`ModelBundle.margins`.
    """

    forest: ForestArrays
    threshold: float
    reference_median: NDArray[np.float64]
    scale: float = 1.0
    rule: str = "both_pass"

    def scores(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Human-class probabilities of feature rows (the share of trees' leaf votes for people)."""
        leaves = self.forest.leaf_values(x)
        return np.asarray(1.0 - np.add.reduce(leaves, axis=1) / leaves.shape[1], dtype=np.float64)

    def deciding(self, features: NDArray[np.float64], feature_names: list[str], limit: int) -> list[str]:
        """``<feature>_high``/``_low`` for the features that pushed this row furthest towards the bots (largest
        positive contribution to the bot-class share), high or low against the people's median."""
        push = self.forest.contributions(features, len(feature_names))
        order = [i for i in np.argsort(-push, kind="stable") if push[i] > 0][:limit]
        return [
            f"{feature_names[i]}_{'high' if features[i] > self.reference_median[i] else 'low'}" for i in order
        ]


@dataclass
class ModelBundle:
    """A behaviour model as serving uses it: features in, a human-likeness score and reasons out.

    ``score`` is ``sklearn``'s ``score_samples`` for an Isolation Forest (in ``[-1, 0]``) and the human-class
    probability for a Random Forest (in ``[0, 1]``); a trace passes when ``score >= threshold`` and, when the bundle
    holds a ``supervised`` layer, that layer passes it too (rule ``both_pass``, :data:`COMBINATION_RULES`).
    """

    kind: BundleKind
    feature_names: list[str]
    forest: ForestArrays
    threshold: float
    transform: QuantileNormal | None
    reference_low: NDArray[np.float64]  # human 0.5 % quantile of each feature (reason codes)
    reference_high: NDArray[np.float64]  # human 99.5 % quantile
    grid_ms: float
    max_samples: int = 256  # Isolation Forest: the sub-sample size (normalises path lengths)
    meta: dict[str, Any] = field(default_factory=dict)
    supervised: SupervisedLayer | None = None
    scale: float = 1.0  # spread of the calibration people's primary scores (the unit of margins)
    # Phase A: the layers that judge the approach to the grip (tcurity.features.approach), a bundle of their own
    # with ``approach_…`` features; a trace passes when these pass too, where its approach is judged.
    approach: ModelBundle | None = None

    def scores(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """Primary-layer human-likeness scores of a batch of feature rows."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        z = self.transform.apply(x) if self.transform is not None else x
        leaves = self.forest.leaf_values(z)
        if self.kind == "isolation_forest":
            norm = float(average_path_length(np.array([float(self.max_samples)]))[0])
            return np.asarray(-(2.0 ** (-leaves.mean(axis=1) / norm)), dtype=np.float64)
        return np.asarray(1.0 - np.add.reduce(leaves, axis=1) / leaves.shape[1], dtype=np.float64)

    def supervised_scores(self, features: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """The supervised layer's human-class probabilities of a batch of rows (``None`` without that layer)."""
        if self.supervised is None:
            return None
        return self.supervised.scores(np.atleast_2d(np.asarray(features, dtype=np.float64)))

    def margins(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """The combined decision as one number per row: ``>= 0`` exactly when the row passes.

        Each layer's margin is ``(score - threshold) / scale`` (``scale``: the spread of the calibration people's
        scores, so both layers are in comparable units); under ``both_pass`` the row's margin is the smaller of
        the two. Without a supervised layer it is the primary layer's margin. Evaluation ranks traces by it (ROC).
        """
        primary = (self.scores(features) - self.threshold) / self.scale
        layer = self.supervised
        if layer is None:
            return np.asarray(primary, dtype=np.float64)
        second = self.supervised_scores(features)
        assert second is not None
        return np.asarray(np.minimum(primary, (second - layer.threshold) / layer.scale), dtype=np.float64)

    def passes(self, features: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether each row passes every layer (the served decision, geometry and signals aside)."""
        return np.asarray(self.margins(features) >= 0.0, dtype=np.bool_)

    def with_approach_margins(
        self, features: NDArray[np.float64], approach: NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        """Margins of whole Phase A traces: the tear's (:meth:`margins`) and, for rows whose approach is judged
        (a row of ``approach`` without ``NaN``), the smaller of it and the approach layers' margin. Without an
        approach bundle, or without ``approach`` rows, the tear's alone."""
        tear = self.margins(features)
        if self.approach is None or approach is None:
            return tear
        judged = ~np.any(np.isnan(approach), axis=1)
        out = tear.copy()
        if np.any(judged):
            out[judged] = np.minimum(tear[judged], self.approach.margins(approach[judged]))
        return out

    def reasons(self, features: NDArray[np.float64], limit: int = 3) -> list[str]:
        """The features furthest outside the human reference range, as ``<feature>_high``/``_low`` codes."""
        span = np.maximum(self.reference_high - self.reference_low, 1e-9)
        high = (features - self.reference_high) / span
        low = (self.reference_low - features) / span
        worst = np.maximum(high, low)
        order = [i for i in np.argsort(-worst) if worst[i] > 0][:limit]
        return [f"{self.feature_names[i]}_{'high' if high[i] > low[i] else 'low'}" for i in order]

    def verdict(self, features: NDArray[np.float64], limit: int = 3) -> Verdict:
        """Scores one feature row and explains the decision.

        A row refused by the primary layer gets the reference-range codes (:meth:`reasons`); one refused by the
        supervised layer gets the features that pushed it towards the bots (:meth:`SupervisedLayer.deciding`),
        after those, without repeats, at most ``limit`` in all.
        """
        row = np.asarray(features, dtype=np.float64).ravel()
        score = float(self.scores(row)[0])
        primary_ok = score >= self.threshold
        layers: dict[str, dict[str, float | bool]] = {
            self.kind: {"score": score, "threshold": self.threshold, "passed": primary_ok}
        }
        reasons = [] if primary_ok else self.reasons(row, limit)
        passed = primary_ok
        if self.supervised is not None:
            second = float(self.supervised.scores(row[None, :])[0])
            second_ok = second >= self.supervised.threshold
            layers["supervised"] = {
                "score": second,
                "threshold": self.supervised.threshold,
                "passed": second_ok,
            }
            if not second_ok:
                extra = self.supervised.deciding(row, self.feature_names, limit)
                reasons += [r for r in extra if r not in reasons]
            passed = primary_ok and second_ok
        return Verdict(score=score, passed=passed, reasons=reasons[:limit], layers=layers)

    def save(self, directory: Path) -> None:
        """Writes ``bundle.json`` and ``forest.npz`` into ``directory`` (the supervised layer's arrays, when there is
        one, go into the same ``forest.npz`` under ``supervised_`` keys; the approach layers, when there are some, into
        the sub-folder ``approach/`` as a bundle of their own; nothing is pickled)."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = self.forest.to_arrays()
        payload: dict[str, Any] = {
            "kind": self.kind,
            "feature_names": self.feature_names,
            "threshold": self.threshold,
            "transform": self.transform.to_dict() if self.transform is not None else None,
            "reference_low": self.reference_low.tolist(),
            "reference_high": self.reference_high.tolist(),
            "grid_ms": self.grid_ms,
            "max_samples": self.max_samples,
            "scale": self.scale,
            "meta": self.meta,
        }
        if self.supervised is not None:
            arrays.update(self.supervised.forest.to_arrays(SUPERVISED_PREFIX))
            payload["supervised"] = {
                "rule": self.supervised.rule,
                "threshold": self.supervised.threshold,
                "scale": self.supervised.scale,
                "reference_median": self.supervised.reference_median.tolist(),
            }
        if self.approach is not None:
            self.approach.save(directory / APPROACH_DIR)
            payload["approach"] = APPROACH_DIR
        np.savez_compressed(directory / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]  # keys are array names
        (directory / BUNDLE_FILE).write_text(json.dumps(payload, indent=2))

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        """Reads a bundle written by :meth:`save` (older bundles, without ``scale`` or a supervised layer, too).

        Raises:
            ValueError: when the bundle names a combination rule this code does not know (it would otherwise
                be applied as some other rule).
        """
        payload = json.loads((directory / BUNDLE_FILE).read_text())
        supervised = None
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as z:
            forest = ForestArrays.from_arrays(z)
            if payload.get("supervised"):
                layer = payload["supervised"]
                if layer["rule"] not in COMBINATION_RULES:
                    raise ValueError(
                        f"unknown combination rule {layer['rule']!r}; known: {COMBINATION_RULES}"
                    )
                supervised = SupervisedLayer(
                    forest=ForestArrays.from_arrays(z, SUPERVISED_PREFIX),
                    threshold=float(layer["threshold"]),
                    reference_median=np.asarray(layer["reference_median"], dtype=np.float64),
                    scale=float(layer["scale"]),
                    rule=str(layer["rule"]),
                )
        return cls(
            kind=payload["kind"],
            feature_names=list(payload["feature_names"]),
            forest=forest,
            threshold=float(payload["threshold"]),
            transform=QuantileNormal.from_dict(payload["transform"]) if payload["transform"] else None,
            reference_low=np.asarray(payload["reference_low"], dtype=np.float64),
            reference_high=np.asarray(payload["reference_high"], dtype=np.float64),
            grid_ms=float(payload["grid_ms"]),
            max_samples=int(payload["max_samples"]),
            meta=dict(payload.get("meta", {})),
            supervised=supervised,
            scale=float(payload.get("scale", 1.0)),
            approach=cls._load_approach(directory, payload.get("approach")),
        )

    @classmethod
    def _load_approach(cls, directory: Path, named: object) -> ModelBundle | None:
        """The approach layers' bundle a Phase A bundle names (``None`` when it names none).

        Raises:
            ValueError: when it names any folder but :data:`APPROACH_DIR` (nothing outside the bundle is read).
        """
        if named is None:
            return None
        if named != APPROACH_DIR:
            raise ValueError(f"a bundle's approach layers live in {APPROACH_DIR!r}, not {named!r}")
        return cls.load(directory / APPROACH_DIR)


try:  # The pyfunc wrapper needs MLflow (and so pandas); the scorer itself does not.
    import pandas as pd
    from mlflow.pyfunc import PythonModel

    class BundlePyfunc(PythonModel):
        """MLflow pyfunc around a :class:`ModelBundle`: ``predict`` takes feature rows, returns scores.

        ``unwrap_python_model().bundle`` gives serving the bundle itself (verdicts, reasons, threshold).
        """

        bundle: ModelBundle

        def load_context(self, context: Any) -> None:
            self.bundle = ModelBundle.load(Path(context.artifacts["bundle"]))

        # A DataFrame hint is one MLflow takes as is (no schema inferred from it), so it neither warns about an
        # unsupported hint nor about a missing one; the signature comes from the logged input example.
        def predict(
            self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> np.ndarray:
            frame = model_input[self.bundle.feature_names] if hasattr(model_input, "columns") else model_input
            return self.bundle.scores(np.asarray(frame, dtype=np.float64))

except ImportError:  # pragma: no cover - serving images without MLflow still score bundles
    pass
