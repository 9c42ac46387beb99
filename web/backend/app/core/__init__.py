"""Cross-cutting parts: settings, tokens and secrets, errors, limits, logging, metrics, CORS."""
