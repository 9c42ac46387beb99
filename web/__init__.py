"""The web side of T-curity: the backend (``web/backend``), the browser SDK and the demo shop."""
