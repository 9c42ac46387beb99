"""Typed dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from serving.models import ModelSet, ModelStore
from serving.settings import Settings
from serving.telemetry import Telemetry


async def get_store(request: Request) -> ModelStore:
    store: ModelStore = request.app.state.store
    return store


async def get_models(store: Annotated[ModelStore, Depends(get_store)]) -> ModelSet:
    """The current model set, taken once: the request finishes on it even if a reload swaps it meanwhile."""
    return store.current


async def get_app_settings(request: Request) -> Settings:
    """The settings this app was built with (kept on the app: no per-request re-analysis)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_telemetry(request: Request) -> Telemetry:
    telemetry: Telemetry = request.app.state.telemetry
    return telemetry


Models = Annotated[ModelSet, Depends(get_models)]
Store = Annotated[ModelStore, Depends(get_store)]
Metrics = Annotated[Telemetry, Depends(get_telemetry)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]
