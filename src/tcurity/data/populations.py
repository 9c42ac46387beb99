"""Which people train, calibrate and test Phase A: SapiMouse first, Balabit as the second population.

SapiMouse (browsers, ~60 Hz) is the population the served model must learn: its train, calib and test people
(``params.yaml: sapimouse_split``) are Phase A's ``train``, ``calib`` and ``test`` splits. Balabit (remote
desktop, mostly ~9 Hz) is the second population: its people keep their own split (``params.yaml: split``) with
the prefix :data:`SECOND_POPULATION_PREFIX` (``balabit_test``), so that no stage trains or calibrates on them
by accident (stages select the exact names ``train``, ``calib`` and ``test``) while cross-population evaluation
can still find them (``docs/data.md``). Attacker people of either population are replayed by bots, never
scored as people.
"""

from __future__ import annotations

from tcurity.config import Params
from tcurity.data.sapimouse import USER_PREFIX

SECOND_POPULATION_PREFIX = "balabit_"
ATTACKER = "attacker"


def population_of(user: str) -> str:
    """``sapimouse`` for a SapiMouse user (name prefixed ``sapi_``), ``balabit`` for any other."""
    return "sapimouse" if user.startswith(USER_PREFIX) else "balabit"


def phase_a_split(p: Params, user: str) -> str | None:
    """The Phase A split label of a person's traces, or ``None`` for an attacker (never a human trace).

    Raises:
        KeyError: for a person in no split of their population.
    """
    if population_of(user) == "sapimouse":
        split = p.sapimouse_split.split_of(user)
        return None if split == ATTACKER else split
    split = p.split.split_of(user)
    return None if split == ATTACKER else SECOND_POPULATION_PREFIX + split
