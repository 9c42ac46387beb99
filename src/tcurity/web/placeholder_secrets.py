"""The rule both services apply to their secrets: outside development, no placeholder and no short value."""

from __future__ import annotations

# Values that name a secret rather than being one (compared lower-case).
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "dev-token", "dev-secret", "secret", "token"})


def is_weak_secret(value: str, min_chars: int) -> bool:
    """Whether ``value`` is a placeholder (:data:`PLACEHOLDER_SECRETS`) or shorter than ``min_chars``."""
    return value.lower() in PLACEHOLDER_SECRETS or len(value) < min_chars
