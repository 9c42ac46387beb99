"""Phase A's people: SapiMouse splits as they are, Balabit's prefixed, attackers never scored."""

from __future__ import annotations

import pytest

from tcurity.config import load_params
from tcurity.data.populations import phase_a_split, population_of


def test_each_person_gets_the_split_of_their_population() -> None:
    p = load_params()
    assert population_of("sapi_user7") == "sapimouse"
    assert population_of("user7") == "balabit"
    assert phase_a_split(p, "sapi_user7") == "train"
    assert phase_a_split(p, "sapi_user20") == "calib"
    assert phase_a_split(p, "sapi_user12") == "test"
    assert phase_a_split(p, "sapi_user1") is None  # attacker
    assert phase_a_split(p, "user7") == "balabit_train"
    assert phase_a_split(p, "user21") == "balabit_test"
    assert phase_a_split(p, "user29") is None  # attacker
    with pytest.raises(KeyError):
        phase_a_split(p, "sapi_user999")
