"""The AI server: promoted behaviour and image models behind a small, authenticated HTTP API (port 9000)."""
