"""The SDK's copy of the server's vocabulary (web/sdk/src/vocabulary.ts) is generated, and current."""

from __future__ import annotations

import re

from tcurity.config import PROJECT_ROOT
from web.backend.app.core.codes import SDK_CODES
from web.backend.sdk_vocabulary import vocabulary_ts

STORED = PROJECT_ROOT / "web/sdk/src/vocabulary.ts"
ERRORS_TS = PROJECT_ROOT / "web/sdk/src/errors.ts"


def sdk_error_codes() -> set[str]:
    """The members of the SDK's ``TcurityErrorCode`` union (web/sdk/src/errors.ts)."""
    source = ERRORS_TS.read_text(encoding="utf-8")
    union = source[source.index("export type TcurityErrorCode =") :].split("\n\n", 1)[0]
    return set(re.findall(r'^\s*\| "(\w+)";?$', union, re.MULTILINE))


def test_the_sdk_vocabulary_is_generated_from_the_current_server() -> None:
    assert STORED.read_text(encoding="utf-8") == vocabulary_ts(), (
        "the server's codes or thresholds changed: run `make sdk-vocabulary`"
    )


def test_every_backend_code_folds_onto_an_sdk_code() -> None:
    members = sdk_error_codes()
    assert {"invalid_answer", "server_error", "cancelled"} <= members  # the union was read
    assert set(SDK_CODES.values()) <= members
