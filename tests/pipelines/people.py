"""Small sets of real people for the pipeline tests: the project's params pointed at folders that link only the
chosen users' recordings (nothing copied), split as each test says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcurity.config import PROJECT_ROOT

SAPIMOUSE = PROJECT_ROOT / "data/raw/sapimouse"
BALABIT = PROJECT_ROOT / "data/raw/balabit-mouse/training_files"


def with_sapimouse_people(params: dict[str, Any], tmp_path: Path, users: dict[str, list[str]]) -> None:
    """SapiMouse's ``users`` (``{"train": ["user4"], …}``, folder names) as the whole data set and its split."""
    folder = tmp_path / "sapimouse"
    folder.mkdir()
    for names in users.values():
        for user in names:
            (folder / user).symlink_to(SAPIMOUSE / user)
    params["data"]["sapimouse_dir"] = str(folder)
    params["sapimouse_split"].update({f"{k}_users": [f"sapi_{u}" for u in v] for k, v in users.items()})


def with_balabit_people(params: dict[str, Any], tmp_path: Path, users: dict[str, list[str]]) -> None:
    """Balabit's ``users``, two sessions each, as the whole data set and its split."""
    folder = tmp_path / "raw"
    for names in users.values():
        for user in names:
            (folder / user).mkdir(parents=True)
            for file in sorted((BALABIT / user).glob("session_*.csv.gz"))[:2]:
                (folder / user / file.name).symlink_to(file)
    params["data"]["balabit_dir"] = str(folder)
    params["split"] = {f"{k}_users": v for k, v in users.items()}
