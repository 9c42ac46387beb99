"""``params.yaml`` loaded once into typed objects: the one way any code reads it.

Every section has its model here, in the order of ``params.yaml``, and every model refuses a key it does not
know (``extra="forbid"``): a misspelt key fails at load, naming the key, instead of being silently ignored. To
add a key, add one line to its section's model. Stages, notebooks and tools read their section from
:func:`load_params` (a stage's ``--params``) or :func:`params` (the project's file, once per process); notebook
parameters are only ``params_path``, so every default is this object's.

Each DVC stage reads its own section plus ``base``; code never rebuilds a path that a section names. Runtime
settings of services (URLs, secrets, ports) are not here: they come from the environment (see ``serving`` and
``web/backend``). This module is light (pydantic and yaml only): the backend imports it through
:mod:`tcurity.integrity`.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARAMS_PATH = PROJECT_ROOT / "params.yaml"


class _Section(BaseModel):
    """A section (or part of one) of ``params.yaml``: frozen, and an unknown key is an error naming it."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _SeedOffsets(_Section):
    """A stage's random streams, each seeded ``base.seed`` plus its offset; no two streams of a stage share one."""

    @model_validator(mode="after")
    def _distinct(self) -> _SeedOffsets:
        values = list(self.model_dump().values())
        if len(values) != len(set(values)):
            raise ValueError(f"two streams share a seed offset: {self.model_dump()}")
        return self


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


class HumanApproachParams(_Section):
    """Which people's pointing strokes may serve as the approach to a tear (``prepare_humans.approach``).

    Looser than the tear's limits: an approach may curve and run from beside the grip to across the page. The
    cutter's rest limit and the judged minimum are ``featurize.approach``'s, as in serving.
    """

    max_chord_px: float = 1500.0
    min_duration_ms: float = 80.0
    max_duration_ms: float = 5000.0
    max_deviation: float = 2.0
    max_per_user: int = 100  # people's approaches the approach layers learn from, per person (a seeded pick)


class PrepareHumansSeeds(_SeedOffsets):
    """``prepare_humans.seed_offsets``: the Perforation tasks drawn for people, and SapiMouse's per-user cap."""

    tasks: int
    sapimouse_cap: int
    approaches: int  # the pick of each person's approaches the approach layers learn from


class PrepareHumansFiles(_Section):
    """``prepare_humans.files``: what the stage writes in its ``out_dir``."""

    strokes: str
    sapimouse_strokes: str
    phase_a: str
    approaches: str
    summary: str


class PrepareHumansParams(_Section):
    out_dir: Path
    files: PrepareHumansFiles
    seed_offsets: PrepareHumansSeeds
    sampler_path: Path
    min_chord_px: float
    max_chord_px: float
    min_duration_ms: float
    max_duration_ms: float
    max_pause_ms: float
    max_deviation: float
    max_strokes_per_user: int
    approach: HumanApproachParams = HumanApproachParams()


class FitBotModelsParams(_Section):
    """The fitted bot families' models (stage ``fit_bot_models``, :mod:`tcurity.simulate.fitted`)."""

    out_dir: Path = Path("models/bot_zoo")
    max_sigma_strokes: int = 500


class BrowserEmissionParams(_Section):
    """The displays bots are recorded on (:class:`tcurity.simulate.emission.BrowserEmission`)."""

    frame_rates_hz: list[float] = [60.0, 120.0, 144.0]
    shares: list[float] = [0.8, 0.1, 0.1]
    frame_jitter_ms: float = 0.5


class SimulateBotsSeeds(_SeedOffsets):
    """``simulate_bots.seed_offsets``: evaluation and training bots never share a stream."""

    eval_bots: int
    train_bots: int


class SimulateBotsFiles(_Section):
    """``simulate_bots.files``: what the stage writes in its ``out_dir``."""

    phase_a: str
    phase_a_human_sampling: str
    phase_a_train: str


class SimulateBotsParams(_Section):
    out_dir: Path
    files: SimulateBotsFiles
    seed_offsets: SimulateBotsSeeds
    traces_per_family: int  # evaluation bots (split ``test``)
    train_traces_per_family: int = (
        0  # training bots (split ``train``, their own seed): Phase A's supervised layer
    )
    # True: every movement as the SDK records it on a drawn display; False: the tools' own events (old output).
    browser_emission: bool = True
    emission: BrowserEmissionParams = BrowserEmissionParams()


class ApproachLimits(_Section):
    """Where a tear's approach starts and when it is judged (``featurize.approach``; :mod:`tcurity.features.approach`).

    The one type of these limits: the stages read it from ``params.yaml``, and serving rebuilds it from the limits a
    bundle was trained with (``bundle.approach.meta["limits"]``).
    """

    max_pause_ms: float = 400.0
    min_chord_px: float = 40.0
    min_points: int = 3


class FeaturizeFiles(_Section):
    """``featurize.files``: what the stage writes in its ``out_dir``."""

    features: str
    approaches: str  # the people's approaches' features (the approach layers' people)


class FeaturizeParams(_Section):
    out_dir: Path
    files: FeaturizeFiles
    grid_ms: float = 1000.0 / 60.0  # Phase A's features: the browser grid (tcurity.sampling.BROWSER_GRID_MS)
    approach: ApproachLimits = ApproachLimits()


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


class ApproachLayerParams(_Section):
    """Phase A's approach layers: an Isolation Forest and a supervised forest on the approach's features, with the
    tear's forest settings and their own false-reject budget (``docs/architecture.md``)."""

    features: list[str]
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
    approach: ApproachLayerParams | None = None


class EvaluatePhaseAParams(_Section):
    metrics_path: Path
    headline_path: (
        Path  # a dozen numbers of metrics_path: what DVC shows as metrics (tcurity.evaluate.headline)
    )
    plots_dir: Path
    frr_for_recall: float
    # The product's targets, reported beside the measured numbers ("targets" in the metrics), met or not; the
    # promotion gates are promote_phase_a's. Keys are gated metrics (tcurity.evaluate.behaviour.gated_metrics).
    targets: dict[str, float]


class ExplorePhaseAParams(_Section):
    """Section ``explore_phase_a``: the exploration notebook (humans and bots side by side)."""

    notebook: Path
    executed_notebook: Path
    per_source: int = Field(gt=0)


class PromoteParams(_Section):
    """Promotion gates of a behaviour model (``promote_phase_a``, ``promote_phase_b``)."""

    decision_path: Path
    min_human_pass_rate: float
    min_auc: float
    min_naive_block_rate: float
    min_humanised_block_rate: float = 0.0
    min_lofo_block_rate: float | None = None  # the weakest leave-one-family-out block rate (when reported)
    max_metric_drop: float


# --- Phase B, image side (docs/phase_b_images.md) -------------------------------------------------------------
DeviceName = Literal["auto", "cpu", "cuda"]
ProfileName = Literal["cpu", "cpu_cached", "cpu_224", "gpu"]


class ImageSplitParams(_Section):
    """Section ``image_split``: shares of each class held out for validation and for test (bank precision)."""

    val_fraction: float
    test_fraction: float


class TrainProfile(_Section):
    """One training schedule of ``train_effnet.profiles``; the CPU profile must fit its eight minutes on one core of
    the shared machine."""

    input_size: int = Field(gt=0)
    epochs: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    label_smoothing: float = Field(ge=0, lt=1)
    freeze_stages: int = Field(ge=0, le=7, description="stem plus this many block stages stay frozen")
    min_crop_scale: float = Field(gt=0, le=1, description="smallest area share of a random training crop")
    max_train_minutes: float = Field(gt=0, description="training stops here; the LR schedule anneals by then")
    loader_workers: int = Field(0, ge=0, description="DataLoader worker processes (0 on the 2-core CPU)")
    cache_features: bool = Field(
        False,
        description="run the frozen stages once per tile (cached on disk) and train the rest on their maps",
    )
    dropout: float = Field(
        0.0, ge=0, lt=1, description="dropout of the pooled features before the classifier"
    )


class TrainEffnetParams(_Section):
    """Section ``train_effnet``."""

    experiment: str
    model_name: str
    notebook: Path
    executed_notebook: Path
    model_dir: Path
    history_path: Path
    profile: ProfileName
    device: DeviceName
    num_threads: int = Field(ge=0, description="torch CPU threads; 0 leaves torch's default")
    feature_cache_dir: Path = Field(description="where cached frozen-stage maps are kept (keyed by content)")
    profiles: dict[ProfileName, TrainProfile]

    @model_validator(mode="after")
    def _profile_exists(self) -> TrainEffnetParams:
        if self.profile not in self.profiles:
            raise ValueError(f"profile {self.profile!r} is not under train_effnet.profiles")
        return self

    @property
    def selected(self) -> TrainProfile:
        """The profile ``profile`` names (what the notebook trains)."""
        return self.profiles[self.profile]


class CurateBankParams(_Section):
    """Section ``curate_bank``."""

    bank_dir: Path
    scores_path: Path
    summary_path: Path
    confidence_threshold: float = Field(
        gt=0, le=1, description="the gate's floor: the lowest confidence a tile may be admitted at"
    )
    target_precision: float = Field(
        gt=0,
        le=1,
        description="validation precision the gate's confidence is chosen to reach (above the floor)",
    )
    device: DeviceName
    num_threads: int = Field(ge=0, description="torch CPU threads; 0 leaves torch's default")


class VariationConfig(_Section):
    """``problems.variation``: ranges of the random per-serve variation (each draw is uniform within its range)."""

    tile_px: int = Field(120, gt=0)
    min_zoom: float = Field(1.0, ge=1.0, description="smallest zoom (1 = the full source)")
    max_zoom: float = Field(1.25, ge=1.0, description="largest zoom: 1.25 shows the central 80 % of the side")
    max_rotation_deg: float = Field(4.0, ge=0.0, le=15.0)
    max_brightness: float = Field(0.12, ge=0.0, lt=1.0, description="relative brightness change")
    max_channel_gain: float = Field(0.05, ge=0.0, lt=1.0, description="extra relative gain per channel")
    jpeg_quality_min: int = Field(70, ge=30, le=95)
    jpeg_quality_max: int = Field(90, ge=30, le=95)
    badge_px: int = Field(26, ge=12, description="diameter of the number badge")
    badge_jitter_px: int = Field(4, ge=0)

    @model_validator(mode="after")
    def _ranges(self) -> VariationConfig:
        if self.min_zoom > self.max_zoom or self.jpeg_quality_min > self.jpeg_quality_max:
            raise ValueError("a range's minimum exceeds its maximum")
        return self


# The problem grid's cells less one: a problem keeps at least one distractor (tcurity.problems.CELLS - 1, 3 x 3).
_MAX_TARGETS = 8


class ProblemConfig(_Section):
    """Section ``problems``: how problems are composed, varied and checked (:mod:`tcurity.problems`)."""

    min_targets: int = Field(2, ge=1, le=_MAX_TARGETS)
    max_targets: int = Field(4, ge=1, le=_MAX_TARGETS)
    min_target_prob: float = Field(0.5, ge=0.0, le=1.0, description="a target must be recognised this surely")
    max_distractor_target_prob: float = Field(
        0.2, ge=0.0, le=1.0, description="a distractor may look like the target at most this much"
    )
    check_rounds: int = Field(3, ge=1, description="replace-and-recheck rounds before a draft is dropped")
    recent_digests: int = Field(200_000, ge=0, description="served tile hashes remembered to refuse repeats")
    variation: VariationConfig = VariationConfig()

    @model_validator(mode="after")
    def _ranges(self) -> ProblemConfig:
        if self.min_targets > self.max_targets:
            raise ValueError("min_targets exceeds max_targets")
        return self


class AttackerParams(_Section):
    """Section ``attacker``: the independent small CNN trained from scratch on the public training tiles."""

    input_size: int = Field(gt=0)
    epochs: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    select_prob: float = Field(gt=0, lt=1, description="a tile is clicked when P(target) reaches this")


class EvaluateImagesSeeds(_SeedOffsets):
    """``evaluate_images.seed_offsets``: the attacker's problems from the whole bank and from held-out tiles."""

    attack_bank: int
    attack_test_tiles: int


class EvaluateImagesParams(_Section):
    """Section ``evaluate_images``."""

    metrics_path: Path
    headline_path: (
        Path  # a dozen numbers of metrics_path: what DVC shows as metrics (tcurity.evaluate.headline)
    )
    attacker_metrics_path: Path
    attacker_headline_path: Path  # a few numbers of attacker_metrics_path (tcurity.evaluate.headline)
    plots_dir: Path
    attack_problems: int = Field(gt=0)
    throughput_problems: int = Field(gt=0)
    throughput_batch: int = Field(gt=0, description="problems generated per batched classifier check")
    num_threads: int = Field(ge=0, description="torch CPU threads; 0 leaves torch's default")
    seed_offsets: EvaluateImagesSeeds


class PromoteEffnetParams(_Section):
    """Section ``promote_effnet``: gates per training profile."""

    min_val_accuracy: dict[str, float]
    min_bank_precision: float
    max_metric_drop: float
    decision_path: Path


# --- Phase B, behaviour side ----------------------------------------------------------------------------------
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


class PreparePhaseBSeeds(_SeedOffsets):
    """``prepare_phase_b.seed_offsets``: people, training bots and evaluation bots never share a stream."""

    humans: int
    train_bots: int
    test_bots: int
    human_sampling: int
    scripted_waits: int


class PreparePhaseBFiles(_Section):
    """``prepare_phase_b.files``: what the stage writes in its ``out_dir``."""

    humans: str
    bots: str
    bots_human_sampling: str
    bots_scripted_waits: str
    summary: str


class PreparePhaseBParams(_Section):
    out_dir: Path
    files: PreparePhaseBFiles
    seed_offsets: PreparePhaseBSeeds
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
    headline_path: (
        Path  # a dozen numbers of metrics_path: what DVC shows as metrics (tcurity.evaluate.headline)
    )
    unseen_metrics_path: Path  # evaluate_phase_b_unseen: families left out, the other population
    plots_dir: Path
    frr_for_recall: float
    timing_traces: int
    # The product's targets, reported beside the measured numbers ("targets"), met or not (gates: promote_phase_b).
    targets: dict[str, float]


class BackendBenchTargets(_Section):
    """``bench.backend``: siteverify's throughput and latency, and an answer's latency (``bench/backend.py``)."""

    siteverify_rps: float
    siteverify_p99_ms: float
    submit_p99_ms: float


class PoolBenchTargets(_Section):
    """``bench.pool``: issuing Phase B problems from the pool (``bench/pool.py``)."""

    issue_p99_ms: float
    issued_per_s: float


class BenchParams(_Section):
    """Section ``bench``: the product's service targets, reported beside what each benchmark measures."""

    backend: BackendBenchTargets
    pool: PoolBenchTargets
    integrity_p99_ms: float
    phase_a_scoring_p99_ms: float
    serving_http_cost_ratio: float


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
    min_approach_moves: int = 2  # no_approach: fewer moves than this before a tear's mouse press


class Params(_Section):
    """Every section of ``params.yaml``, typed; an unknown section or key is refused, naming it."""

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
    explore_phase_a: ExplorePhaseAParams
    promote_phase_a: PromoteParams
    image_split: ImageSplitParams
    train_effnet: TrainEffnetParams
    curate_bank: CurateBankParams
    problems: ProblemConfig
    attacker: AttackerParams
    evaluate_images: EvaluateImagesParams
    promote_effnet: PromoteEffnetParams
    prepare_phase_b: PreparePhaseBParams
    featurize_phase_b: FeaturizePhaseBParams
    train_phase_b: TrainPhaseBParams
    evaluate_phase_b: EvaluatePhaseBParams
    promote_phase_b: PromoteParams
    bench: BenchParams
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
