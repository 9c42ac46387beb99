"""Runtime settings of the AI server, from the environment (one class, read once at start-up)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from tcurity.web.placeholder_secrets import is_weak_secret
from tcurity.web.service_settings import ServiceSettings

MIN_TOKEN_CHARS = 16


class Settings(ServiceSettings):
    """Environment variables of the AI server (names as production uses them).

    ``AI_SERVER_TOKEN`` is the shared service token only the backend holds; it has no default, and a placeholder
    value is refused unless ``TCURITY_ENV=development``. ``API_DOCS`` serves ``/docs`` and ``/openapi.json``;
    unset, they are served in development and test only. ``SERVE_FORCED_MODELS=true`` lets the server load a
    version an operator promoted with ``--force`` (gates failing, recorded as ``promotion.status=forced``); off
    by default, so only versions that passed their gates are served.
    """

    ai_server_token: SecretStr
    mlflow_tracking_uri: str | None = None
    phase_b_problem_image_root: Path = Path("data/bank")
    phase_a_model: str = "tcurity-phase-a-iforest"
    phase_b_model: str = "tcurity-phase-b-rf"
    effnet_model: str = "tcurity-phase-b-effnet"
    model_alias: str = "champion"
    serve_forced_models: bool = False  # load versions an operator promoted with --force (review finding 7)
    ai_device: Literal["auto", "cpu", "cuda"] = "auto"
    model_poll_interval_s: float = Field(default=30.0, ge=0.0)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_problems_per_request: int = Field(default=8, ge=1, le=64)
    torch_threads: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _refuse_placeholder_token(self) -> Settings:
        token = self.ai_server_token.get_secret_value()
        if self.tcurity_env != "development" and is_weak_secret(token, MIN_TOKEN_CHARS):
            raise ValueError("AI_SERVER_TOKEN must be a real secret of 16+ characters outside development")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read from the environment once per process."""
    return Settings()
