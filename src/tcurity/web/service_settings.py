"""What both services' settings share: how they are read, the environment they run in and the API docs switch."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "local", "production", "test"]


class ServiceSettings(BaseSettings):
    """The base of each service's ``Settings``: read from the environment only (no ``.env`` file, names in any
    case, unknown variables ignored), with ``TCURITY_ENV`` (``production`` unless set) and ``API_DOCS``."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    tcurity_env: Environment = "production"
    api_docs: bool | None = None

    @property
    def serves_api_docs(self) -> bool:
        """Whether the interactive docs and the OpenAPI document are served: ``API_DOCS`` when set, else in
        development and test only (a production service does not publish its API's map)."""
        if self.api_docs is not None:
            return self.api_docs
        return self.tcurity_env in ("development", "test")
