"""``params.yaml`` loaded once into typed objects.

Each DVC stage reads its own section plus ``base``; code never rebuilds a path that a section names. Runtime
settings of services (URLs, secrets, ports) are not here: they come from the environment (see ``serving`` and
``web/backend``).
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARAMS_PATH = PROJECT_ROOT / "params.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseParams(_Section):
    seed: int
    log_level: str = "INFO"


class DataParams(_Section):
    balabit_dir: Path
    tiles_dir: Path
    sapimouse_dir: Path = Path("data/raw/sapimouse")


class SplitParams(_Section):
    train_users: list[str]
    calib_users: list[str]
    test_users: list[str]
    attacker_users: list[str]

    def split_of(self, user: str) -> str:
        """The split a user belongs to (``train``, ``calib``, ``test`` or ``attacker``)."""
        for name in ("train", "calib", "test", "attacker"):
            if user in getattr(self, f"{name}_users"):
                return name
        raise KeyError(f"user {user!r} is in no split of params.yaml")

    def disjoint(self) -> bool:
        """Whether no user is in two sets (the guarantee every evaluation rests on)."""
        sets = [self.train_users, self.calib_users, self.test_users, self.attacker_users]
        users = [u for s in sets for u in s]
        return len(users) == len(set(users))


class SapiMouseSplitParams(SplitParams):
    """The SapiMouse split by person (``params.yaml: sapimouse_split``): the lists, and how they were dealt
    (:func:`tcurity.data.sapimouse.split_users` with ``fractions`` and ``seed``)."""

    seed: int
    fractions: dict[str, float]


class SamplingParams(_Section):
    grid_ms: float
    max_gap_ms: float


class MlflowParams(_Section):
    tracking_uri: str


class PrepareHumansParams(_Section):
    out_dir: Path
    sampler_path: Path
    min_chord_px: float
    max_chord_px: float
    min_duration_ms: float
    max_duration_ms: float
    max_pause_ms: float
    max_deviation: float
    max_strokes_per_user: int


class FitBotModelsParams(_Section):
    """The fitted bot families' models (stage ``fit_bot_models``, :mod:`tcurity.simulate.fitted`)."""

    out_dir: Path = Path("models/bot_zoo")
    max_sigma_strokes: int = 500


class BrowserEmissionParams(_Section):
    """The displays bots are recorded on (:class:`tcurity.simulate.emission.BrowserEmission`)."""

    frame_rates_hz: list[float] = [60.0, 120.0, 144.0]
    shares: list[float] = [0.8, 0.1, 0.1]
    frame_jitter_ms: float = 0.5


class SimulateBotsParams(_Section):
    out_dir: Path
    traces_per_family: int  # evaluation bots (split ``test``)
    train_traces_per_family: int = (
        0  # training bots (split ``train``, their own seed): Phase A's supervised layer
    )
    # True: every movement as the SDK records it on a drawn display; False: the tools' own events (old output).
    browser_emission: bool = True
    emission: BrowserEmissionParams = BrowserEmissionParams()


class FeaturizeParams(_Section):
    out_dir: Path
    grid_ms: float = 1000.0 / 60.0  # Phase A's features: the browser grid (tcurity.sampling.BROWSER_GRID_MS)


class FeatureSeparationParams(_Section):
    """The browser-resolution screens (stage ``feature_separation``, ``docs/sampling.md``)."""

    bots_per_family: int = 400
    invariance_path: Path = Path("reports/metrics/rate_invariance.json")
    separation_path: Path = Path("reports/metrics/feature_separation.json")


class SupervisedPhaseAParams(_Section):
    """Phase A's second layer: a Random Forest of training people against the training bots (``docs/architecture.md``)."""

    rule: str = "both_pass"
    n_estimators: int
    max_depth: int
    min_samples_leaf: int
    max_features: float
    target_frr: float


class TrainPhaseAParams(_Section):
    experiment: str
    model_name: str
    notebook: Path
    executed_notebook: Path
    model_dir: Path
    features: list[str]
    n_estimators: int
    max_samples: int
    max_features: float
    target_frr: float
    supervised: SupervisedPhaseAParams | None = None


class EvaluatePhaseAParams(_Section):
    metrics_path: Path
    plots_dir: Path
    frr_for_recall: float


class PromoteParams(_Section):
    """Promotion gates of a behaviour model (``promote_phase_a``, ``promote_phase_b``)."""

    decision_path: Path
    min_human_pass_rate: float
    min_auc: float
    min_naive_block_rate: float
    min_humanised_block_rate: float = 0.0
    min_lofo_block_rate: float | None = None  # the weakest leave-one-family-out block rate (when reported)
    max_metric_drop: float


class GridStrokeLimits(_Section):
    """Which SapiMouse movements may serve in a Phase B answer (``params.yaml: prepare_phase_b.strokes``).

    Looser than Phase A's: an approach over the grid may curve, and grid movements run from under one cell side
    to across the whole task area. The cutter's inner-pause limit stays ``prepare_humans.max_pause_ms``.
    """

    min_chord_px: float
    max_chord_px: float
    min_duration_ms: float
    max_duration_ms: float
    max_deviation: float


class PreparePhaseBParams(_Section):
    out_dir: Path
    strokes: GridStrokeLimits
    max_pause_ms: float
    max_scale_ratio: float
    target_spread: float
    train_bots_per_family: int
    test_bots_per_family: int
    train_scripted_waits: float = 0.0


class FeaturizePhaseBParams(_Section):
    out_path: Path


class TrainPhaseBParams(_Section):
    experiment: str
    model_name: str
    notebook: Path
    executed_notebook: Path
    model_dir: Path
    exclude_features: list[str]
    n_estimators: int
    max_depth: int
    min_samples_leaf: int
    max_features: float
    target_frr: float


class EvaluatePhaseBParams(_Section):
    metrics_path: Path
    unseen_metrics_path: Path  # evaluate_phase_b_unseen: families left out, the other population
    plots_dir: Path
    frr_for_recall: float
    timing_traces: int


class IntegrityParams(_Section):
    """Thresholds of the input-integrity layer (:mod:`tcurity.integrity`, docs/integrity.md).

    ``version`` is reported beside every decision like a model version; change it whenever a threshold or rule
    changes, so decisions stay traceable to the rules that made them.
    """

    version: str
    min_tells: int  # pointer tells that must agree before ``injected_input``
    min_moves: int  # pressed mouse moves (or steps) a statistical tell needs
    max_multi_coalesced_share: float  # coalesced_single: at most this share of moves held >= 2 samples
    whole_px_tolerance: float  # fractional_steps: a step this close to a whole pixel counts as whole
    min_fractional_share: float  # fractional_steps: at least this share of steps are fractional
    min_moves_per_press: int  # sparse_moves: fewer pressed moves per press than this
    max_median_move_interval_ms: float  # slow_moves: median interval between pressed moves above this
    centre_tolerance_px: float  # exact_centres: a press this close to a cell's centre is "exact"


class Params(BaseModel):
    """Every section of ``params.yaml``; unknown sections are kept for stages that type their own."""

    model_config = ConfigDict(extra="allow", frozen=True)
    base: BaseParams
    data: DataParams
    split: SplitParams
    sapimouse_split: SapiMouseSplitParams
    sampling: SamplingParams
    mlflow: MlflowParams
    prepare_humans: PrepareHumansParams
    fit_bot_models: FitBotModelsParams = FitBotModelsParams()
    simulate_bots: SimulateBotsParams
    featurize: FeaturizeParams
    feature_separation: FeatureSeparationParams = FeatureSeparationParams()
    train_phase_a: TrainPhaseAParams
    evaluate_phase_a: EvaluatePhaseAParams
    promote_phase_a: PromoteParams
    prepare_phase_b: PreparePhaseBParams
    featurize_phase_b: FeaturizePhaseBParams
    train_phase_b: TrainPhaseBParams
    evaluate_phase_b: EvaluatePhaseBParams
    promote_phase_b: PromoteParams
    integrity: IntegrityParams


def load_params(path: Path | None = None) -> Params:
    """Reads ``params.yaml`` (the project's, unless ``path`` names another)."""
    with (path or PARAMS_PATH).open() as f:
        return Params.model_validate(yaml.safe_load(f))


@lru_cache(maxsize=1)
def params() -> Params:
    """The project's parameters, loaded once per process."""
    return load_params()


def resolve(path: Path) -> Path:
    """A path of ``params.yaml`` (relative to the project root) as an absolute path."""
    return path if path.is_absolute() else PROJECT_ROOT / path


def tracking_uri(p: Params | None = None) -> str:
    """The MLflow tracking URI: ``MLFLOW_TRACKING_URI`` when set, else the project's SQLite registry."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or (p or params()).mlflow.tracking_uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        db = resolve(Path(uri[len(prefix) :]))
        db.parent.mkdir(parents=True, exist_ok=True)
        return f"{prefix}{db}"
    return uri


def setup_logging(level: str | None = None) -> None:
    """Configures the root logger once, for entry points (stages, CLIs, notebooks)."""
    logging.basicConfig(
        level=(level or os.environ.get("TCURITY_LOG_LEVEL") or params().base.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
