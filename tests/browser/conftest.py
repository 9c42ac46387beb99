"""Fixtures of the browser tests: the whole stack once per session, and Debian's Chromium driven by Playwright.

- **Models**: a small real Phase A champion, trained on real human strokes (user12 of the vendored Balabit data)
  into a temporary MLflow registry, as ``tests/serving/conftest.py`` does; Phase B runs on the contract double
  of :mod:`tests.browser.ai_double` (no Phase B model is trained in tests).
- **Held-out humans**: strokes of another Balabit user (user15), mapped onto each issued perforation by
  ``tcurity.data.adapter`` and replayed with their recorded timings.
- **Skips** say why: no nginx, no Chromium, no SDK build (``make sdk``), no ``playwright`` package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from redteam.browser import CHROMIUM as CHROMIUM_PATH
from redteam.browser import CHROMIUM_ARGS
from redteam.stack import Stack, start_stack
from serving.app import create_app as create_ai_app
from tcurity import registry
from tcurity.config import PROJECT_ROOT
from tcurity.data.adapter import to_perforation
from tcurity.data.balabit import cut_strokes, keep_stroke, read_session
from tcurity.geometry import random_perforation
from tcurity.images.bank import ImageBank
from tcurity.sampling import Path2
from tcurity.traces import make_trace, with_browser_signals
from tests.backend.conftest import tile_bank  # noqa: F401  (a session fixture used here)
from tests.serving.conftest import TOKEN as AI_TOKEN
from tests.serving.conftest import promote, train_and_register
from tests.serving.conftest import settings as ai_settings

CHROMIUM = Path(CHROMIUM_PATH)
SDK_DIST = PROJECT_ROOT / "web/sdk/dist"
HELD_OUT_USER = "user15"
SCREENSHOTS = PROJECT_ROOT / "reports/browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def registry_uri(tmp_path_factory: pytest.TempPathFactory, human_paths: list[Path2]) -> str:
    """A temporary registry holding a small real Phase A champion."""
    root = tmp_path_factory.mktemp("browser-mlruns")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with registry.using_registry(uri):
        promote(train_and_register(human_paths, seed=1))
    return uri


def held_out_strokes() -> list[Path2]:
    """Real strokes of a user the champion never saw (long enough to tear a ticket)."""
    folder = PROJECT_ROOT / "data/raw/balabit-mouse/training_files" / HELD_OUT_USER
    strokes = []
    for session in sorted(folder.glob("*.csv.gz"))[:2]:
        strokes += cut_strokes(read_session(session), HELD_OUT_USER, session.stem, 400.0)
    return [s.path for s in strokes if keep_stroke(s, 150.0, 450.0, 300.0, 2500.0, 400.0, 0.1)]


@pytest.fixture(scope="session")
def human_strokes(registry_uri: str) -> list[Path2]:
    """Held-out human strokes that the champion passes on several random perforations (so a replay tests the
    browser path, not the model's error rate). Tests take strokes out as they use them: the backend accepts
    each shape in one session only."""
    with registry.using_registry(registry_uri):
        app = create_ai_app(ai_settings())
        app.state.store.refresh()
    client = TestClient(app)
    chosen = []
    for path in held_out_strokes():
        ok = True
        for seed in range(4):
            task = random_perforation(np.random.default_rng(seed))
            trace = with_browser_signals(make_trace(to_perforation(path, task), task))
            body = {"trace": trace.model_dump(mode="json")}
            answer = client.post(
                "/v1/phase-a/score", json=body, headers={"Authorization": f"Bearer {AI_TOKEN}"}
            )
            ok = ok and bool(answer.json()["passed"])
        if ok:
            chosen.append(path)
        if len(chosen) == 12:
            return chosen
    pytest.fail(f"the small champion passes too few held-out strokes of {HELD_OUT_USER}: {len(chosen)}")


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    registry_uri: str,
    tile_bank: ImageBank,  # noqa: F811
) -> Iterator[Stack]:
    """AI server, backend, demo shop and nginx on free ports (stopped by pid at the end)."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (Debian package: nginx; `make setup` installs it)")
    build_sdk_if_possible()
    if not (SDK_DIST / "sdk.js").exists():
        pytest.skip("the SDK is not built (web/sdk/dist/sdk.js): run `make sdk`")
    root = tmp_path_factory.mktemp("stack")
    ai_env = {"PHASE_B_PROBLEM_IMAGE_ROOT": str(root / "no-bank"), "TEST_BANK_DIR": str(tile_bank.root)}
    running = start_stack(root, registry_uri, "tests.browser.ai_double:create_app", ai_env)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a browser Playwright downloads).

    Module-scoped: Playwright's sync API holds an asyncio loop on this thread while it runs, which would break
    ``asyncio.run`` in test modules collected after this one.
    """
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (Debian packages: chromium chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh page (own context: no shared cookies or storage) on a desktop-sized viewport."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(20_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def build_sdk_if_possible() -> None:
    """Builds the SDK when its packages are installed but the build is missing (a convenience for local runs)."""
    sdk = PROJECT_ROOT / "web/sdk"
    if not (SDK_DIST / "sdk.js").exists() and (sdk / "node_modules").exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "run", "--silent", "build"], cwd=sdk, check=False, capture_output=True, timeout=300
        )
