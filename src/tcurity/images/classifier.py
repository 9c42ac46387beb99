"""The tile classifier as serving and the pipeline stages use it: model plus what it needs to read a tile.

A :class:`ClassifierSpec` (classes, input size, normalisation) travels with every saved or registered model,
so pre-processing is defined once, here, for training's validation, curation, evaluation and serving alike.
:class:`TileClassifier` is the batched scorer :class:`tcurity.problems.ProblemGenerator` checks problems with.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import mlflow
import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict
from torch import nn

from tcurity.images.effnet import ARCH, MEAN, STD, build_lite0, fold_batchnorm
from tcurity.registry import UntrustedVersionError

logger = logging.getLogger(__name__)

DeviceName = Literal["auto", "cpu", "cuda"]
SPEC_FILE = "classifier.json"
WEIGHTS_FILE = "model.pt"
EXTRA_FILES_DIR = (
    "extra_files"  # where ``mlflow.pytorch.log_model(extra_files=…)`` puts the state dict and spec
)


class ClassifierSpec(BaseModel):
    """What a consumer of the model needs besides its weights (also the registered model's metadata)."""

    model_config = ConfigDict(frozen=True)
    arch: str = ARCH
    classes: tuple[str, ...]
    input_size: int
    mean: tuple[float, float, float] = MEAN
    std: tuple[float, float, float] = STD
    resample: Literal["bilinear"] = "bilinear"


def resolve_device(name: DeviceName | str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU; ``cuda`` without a GPU is an error, not a silent CPU run."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA device")
    return torch.device(name)


def images_to_tensor(images: Sequence[Image.Image], spec: ClassifierSpec) -> torch.Tensor:
    """A normalised NCHW float batch: RGB, resized (bilinear, antialiased) to the spec's square input."""
    size = (spec.input_size, spec.input_size)
    arrays = [np.asarray(_rgb(im).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8) for im in images]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return batch.sub_(mean).div_(std)


def _rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


class TileClassifier:
    """Batched class probabilities for tiles, on CPU or CUDA.

    Satisfies :class:`tcurity.problems.TileScorer`. The wrapped model is copied, switched to eval mode and, on
    CPU, has its batch norms folded into the convolutions (same outputs, faster).
    """

    def __init__(
        self,
        model: nn.Module,
        spec: ClassifierSpec,
        device: DeviceName | str = "auto",
        batch_size: int = 256,
        fold_bn: bool = True,
    ) -> None:
        self.spec = spec
        self.device = resolve_device(device)
        self.batch_size = batch_size
        model = fold_batchnorm(model) if fold_bn else model
        self._model = model.eval().to(self.device).to(memory_format=torch.channels_last)

    @property
    def classes(self) -> tuple[str, ...]:
        """Output order of :meth:`predict_proba`."""
        return self.spec.classes

    @torch.inference_mode()
    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Softmax probabilities, shape ``(len(images), len(classes))``."""
        out = np.empty((len(images), len(self.classes)), dtype=np.float32)
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            batch = images_to_tensor(chunk, self.spec).to(self.device, memory_format=torch.channels_last)
            out[start : start + len(chunk)] = self._model(batch).float().softmax(dim=1).cpu().numpy()
        return out


def save_classifier(model: nn.Module, spec: ClassifierSpec, model_dir: Path) -> None:
    """Writes ``model.pt`` (state dict) and ``classifier.json`` (the spec) for the pipeline stages."""
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), model_dir / WEIGHTS_FILE)
    (model_dir / SPEC_FILE).write_text(spec.model_dump_json(indent=2) + "\n")


def load_local_classifier(model_dir: Path, device: DeviceName | str = "auto") -> TileClassifier:
    """The classifier a training run saved under ``model_dir`` (what DVC stages depend on)."""
    spec = ClassifierSpec.model_validate_json((model_dir / SPEC_FILE).read_text())
    if spec.arch != ARCH:
        raise ValueError(f"unsupported architecture {spec.arch!r}")
    model = build_lite0(num_classes=len(spec.classes), pretrained=False)
    model.load_state_dict(torch.load(model_dir / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    return TileClassifier(model, spec, device=device)


def load_registered_classifier(model_uri: str, device: DeviceName | str = "auto") -> TileClassifier:
    """The classifier of a registered MLflow model, e.g. ``models:/tcurity-phase-b-effnet/3``, from its state dict.

    The version's files are downloaded and read by :func:`load_downloaded_classifier`; MLflow's pickled module
    is never loaded. This does not check the promotion record or digest: offline tools only (the evaluation
    stage reads back the version it just registered). The AI server checks both first (:mod:`serving.models`).

    Raises:
        UntrustedVersionError: the version holds no state dict (logged before weights-only loading).
    """
    with tempfile.TemporaryDirectory(prefix="tcurity-classifier-") as tmp:
        model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        classifier = load_downloaded_classifier(model_dir, device=device)
    logger.info(
        "loaded %s (%d classes, %d px)", model_uri, len(classifier.spec.classes), classifier.spec.input_size
    )
    return classifier


def load_downloaded_classifier(model_dir: Path, device: DeviceName | str = "auto") -> TileClassifier:
    """The classifier of a downloaded registered model folder, from its state dict; nothing is unpickled.

    A version logged with its state dict (``extra_files/model.pt`` and ``extra_files/classifier.json``, what
    :func:`tcurity.images.tracking.log_classifier` writes) is rebuilt from the architecture and loaded with
    ``torch.load(weights_only=True)``. A version from before has only MLflow's pickled module, and unpickling
    it would run whatever code it holds (security review finding 7): it is refused, never loaded. The fix is to
    retrain and promote through the pipeline (docs/production.md). Serving calls this only after the version's
    promotion record and artefact digest were checked (:mod:`serving.models`).

    Raises:
        UntrustedVersionError: the folder holds no state dict or no spec (reason ``no_state_dict``).
    """
    extra = model_dir / EXTRA_FILES_DIR
    if not ((extra / WEIGHTS_FILE).is_file() and (extra / SPEC_FILE).is_file()):
        raise UntrustedVersionError(
            f"{model_dir.name} holds no state dict ({EXTRA_FILES_DIR}/{WEIGHTS_FILE} and {SPEC_FILE}): it was "
            "logged before weights-only loading, and its pickled module is never loaded; retrain the classifier "
            "(dvc repro train_effnet) and promote the new version",
            "no_state_dict",
        )
    return load_local_classifier(extra, device=device)


def spec_as_dict(spec: ClassifierSpec) -> dict[str, object]:
    """The spec as plain JSON types (MLflow metadata and artefacts)."""
    return dict(json.loads(spec.model_dump_json()))
