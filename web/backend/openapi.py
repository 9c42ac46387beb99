"""``python -m web.backend.openapi``: prints the backend's OpenAPI document (sorted keys, two-space indent).

The SDK generates its request and response types from it (``make sdk-api`` writes ``web/sdk/openapi.json`` and
``web/sdk/src/api-types.ts``); ``tests/sdk/test_api_contract.py`` fails when the two drift apart. Building the
document needs no running service, no real secret and no HTTP route (``/api/openapi.json`` is off in
production): throwaway development settings are used.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from web.backend.app.core.config import Settings
from web.backend.app.main import create_app


def openapi_text() -> str:
    """The OpenAPI document as the SDK stores it."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            tcurity_env="development",
            api_docs=False,
            ai_server_token="openapi-only",
            token_signing_key="openapi-only-signing",
            site_secret_pepper="openapi-only-pepper",
            sites_file=Path(folder) / "sites.json",
        )
        document = create_app(settings).openapi()
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(openapi_text())
