"""Typed views of Phase B's image sections of ``params.yaml``.

:class:`tcurity.config.Params` keeps sections it does not know (``extra="allow"``); each is validated here,
once, by the stage or notebook that reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tcurity.config import Params, params

ProfileName = Literal["cpu", "cpu_cached", "gpu"]
_S = TypeVar("_S", bound=BaseModel)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageSplitParams(_Section):
    """Shares of each class held out for validation and for test (bank precision)."""

    val_fraction: float
    test_fraction: float


class TrainProfile(_Section):
    """One training schedule; the CPU profile must fit its eight minutes on one core of the shared machine."""

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
    device: Literal["auto", "cpu", "cuda"]
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
        """The profile ``profile`` names."""
        return self.profiles[self.profile]


class CurateBankParams(_Section):
    """Section ``curate_bank``."""

    bank_dir: Path
    scores_path: Path
    summary_path: Path
    confidence_threshold: float = Field(gt=0, le=1)
    device: Literal["auto", "cpu", "cuda"]
    num_threads: int = Field(ge=0, description="torch CPU threads; 0 leaves torch's default")


class AttackerParams(_Section):
    """Section ``attacker``: the independent small CNN trained from scratch on the public training tiles."""

    input_size: int = Field(gt=0)
    epochs: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    select_prob: float = Field(gt=0, lt=1, description="a tile is clicked when P(target) reaches this")


class EvaluateImagesParams(_Section):
    """Section ``evaluate_images``."""

    metrics_path: Path
    attacker_metrics_path: Path
    plots_dir: Path
    attack_problems: int = Field(gt=0)
    throughput_problems: int = Field(gt=0)
    throughput_batch: int = Field(gt=0, description="problems generated per batched classifier check")
    num_threads: int = Field(ge=0, description="torch CPU threads; 0 leaves torch's default")


class PromoteEffnetParams(_Section):
    """Section ``promote_effnet``: gates per training profile."""

    min_val_accuracy: dict[str, float]
    min_bank_precision: float
    max_metric_drop: float
    decision_path: Path


def section(name: str, model: type[_S], p: Params | None = None) -> _S:
    """Validates one extra section of ``params.yaml``.

    Raises:
        KeyError: when ``params.yaml`` has no such section.
    """
    extra = (p or params()).model_extra or {}
    if name not in extra:
        raise KeyError(f"params.yaml has no section {name!r}")
    return model.model_validate(extra[name])
