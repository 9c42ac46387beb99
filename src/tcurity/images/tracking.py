"""MLflow side of the tile classifier: one run per training, the model registered as ``challenger``.

The run holds per-epoch metrics, the validation confusion matrix (figure), the classifier spec
(``classifier.json``) and the model itself (``mlflow.pytorch``, pickle format) whose metadata is that same
spec, so a consumer of ``models:/<name>@champion`` knows the classes, input size and normalisation. Beside the
pickle, the model folder holds the state dict and the spec as ``extra_files/`` (:func:`log_classifier`): the AI
server rebuilds the network and loads the weights with ``torch.load(weights_only=True)``, never the pickle.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from torch import nn

from tcurity.config import Params
from tcurity.images.classifier import SPEC_FILE, WEIGHTS_FILE, ClassifierSpec, save_classifier, spec_as_dict
from tcurity.images.plots import confusion_figure, history_figure
from tcurity.images.train import TrainConfig, TrainResult
from tcurity.registry import REGISTRATION_FILE, configure, ensure_experiment, register_challenger

logger = logging.getLogger(__name__)

_SERVING_PACKAGES = ("torch", "timm", "numpy", "pillow")


@dataclass(frozen=True)
class Registration:
    """Which registered version a training run produced (read by the evaluation and promotion stages)."""

    name: str
    version: str
    run_id: str
    model_uri: str

    def write(self, model_dir: Path) -> None:
        """Writes ``registered.json`` beside the saved model."""
        (model_dir / REGISTRATION_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, model_dir: Path) -> Registration:
        """Reads ``registered.json``."""
        return cls(**json.loads((model_dir / REGISTRATION_FILE).read_text()))


def pip_requirements() -> list[str]:
    """Exact pins of what loading and running the pickled timm model needs."""
    return [f"{name}=={version(name).split('+')[0]}" for name in _SERVING_PACKAGES]


def log_classifier(
    model: nn.Module,
    spec: ClassifierSpec,
    requirements: list[str],
    signature: ModelSignature | None = None,
) -> ModelInfo:
    """Logs the classifier in the active run: MLflow's pytorch model plus its state dict and spec as extra files.

    The extra files (``extra_files/model.pt``, ``extra_files/classifier.json``) are what serving loads.
    """
    with tempfile.TemporaryDirectory(prefix="tcurity-effnet-") as tmp:
        save_classifier(model, spec, Path(tmp))
        return mlflow.pytorch.log_model(
            model,
            name="model",
            serialization_format="pickle",
            pip_requirements=requirements,
            metadata=spec_as_dict(spec),
            signature=signature,
            extra_files=[str(Path(tmp) / WEIGHTS_FILE), str(Path(tmp) / SPEC_FILE)],
        )


def log_and_register(
    result: TrainResult,
    cfg: TrainConfig,
    profile: str,
    experiment: str,
    model_name: str,
    p: Params | None = None,
) -> Registration:
    """Logs a training run to ``experiment`` and registers its model as ``challenger`` of ``model_name``.

    ``p`` names the registry (``params.yaml: mlflow``; ``MLFLOW_TRACKING_URI`` overrides it).
    """
    configure(p)
    mlflow.set_experiment(experiment_id=ensure_experiment(experiment))
    with mlflow.start_run(run_name=f"effnet-lite0-{profile}") as run:
        mlflow.log_params(
            {
                **cfg.model_dump(),
                "profile": profile,
                "device_used": result.device,
                "n_train": result.n_train,
                "n_val": result.n_val,
            }
        )
        for stats in result.history:
            metrics = {k: v for k, v in asdict(stats).items() if k != "epoch"}
            mlflow.log_metrics(metrics, step=stats.epoch)
        mlflow.log_metrics(
            {
                "best_val_accuracy": result.val_accuracy,
                "best_epoch": result.best_epoch,
                "train_seconds": result.seconds,
            }
        )
        _log_figures(result)
        spec = spec_as_dict(result.spec)
        mlflow.log_dict(spec, "classifier.json")
        size = result.spec.input_size
        signature = infer_signature(
            np.zeros((1, 3, size, size), np.float32), np.zeros((1, len(result.spec.classes)), np.float32)
        )
        info = log_classifier(result.model.cpu().eval(), result.spec, pip_requirements(), signature)
    tags = {
        "profile": profile,
        "run_id": run.info.run_id,
        "input_size": str(size),
        "val_accuracy": f"{result.val_accuracy:.4f}",
    }
    registered = register_challenger(info.model_uri, model_name, tags=tags)
    logger.info("run %s: %s version %s", run.info.run_id, model_name, registered.version)
    return Registration(model_name, str(registered.version), run.info.run_id, info.model_uri)


def _log_figures(result: TrainResult) -> None:
    confusion = confusion_figure(
        result.val_confusion, result.spec.classes, f"validation (epoch {result.best_epoch})"
    )
    mlflow.log_figure(confusion, "confusion_matrix_val.png")
    curves: dict[str, Sequence[float]] = {
        "train_loss": [s.train_loss for s in result.history],
        "val_loss": [s.val_loss for s in result.history],
        "val_accuracy": [s.val_accuracy for s in result.history],
    }
    history = history_figure([s.epoch for s in result.history], curves, "EfficientNet-Lite0 fine-tuning")
    mlflow.log_figure(history, "training_curves.png")
    plt.close(confusion)
    plt.close(history)
