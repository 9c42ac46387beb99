"""Concurrent CLI runs on one sites file: each read-modify-write holds the file's lock, so no change is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.backend.conftest import PEPPER, SIGNING_KEY
from web.backend.app.sites import load_file

ROOT = Path(__file__).resolve().parents[2]
ADDS_PER_PROCESS = 25
# Waits for the start file so both processes add at the same time, then adds sites one by one.
ADD_SITES = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from web.backend.app.cli import sites_add
    from web.backend.app.core.config import Settings
    from web.backend.app.sites import SitePolicy
    name, start, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    settings = Settings()
    while not start.exists():
        time.sleep(0.005)
    for i in range(n):
        sites_add(settings, f"{name}-{i}", [f"{name}-{i}.example.com"], SitePolicy())
    """
)


def test_two_concurrent_processes_adding_sites_keep_every_site(tmp_path: Path) -> None:
    sites_file = tmp_path / "sites.json"
    start = tmp_path / "go"
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "TCURITY_ENV": "test",
        "AI_SERVER_TOKEN": "ai-token-0123456789abcdef",
        "TOKEN_SIGNING_KEY": SIGNING_KEY,
        "SITE_SECRET_PEPPER": PEPPER,
        "SITES_FILE": str(sites_file),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ADD_SITES, name, str(start), str(ADDS_PER_PROCESS)],
            env=env,
            cwd=ROOT,
        )
        for name in ("alpha", "beta")
    ]
    start.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    names = {site.name for site in load_file(sites_file).sites}
    expected = {f"{name}-{i}" for name in ("alpha", "beta") for i in range(ADDS_PER_PROCESS)}
    assert names == expected
