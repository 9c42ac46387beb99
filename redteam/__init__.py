"""The red-team harness: real attacker tools against the running system (``make redteam``).

See ``docs/redteam.md`` for what each attacker is, how the numbers are counted, and what a replayed person
differs from a live one on.
"""
