"""The backend's FastAPI application (``create_app`` in :mod:`web.backend.app.main`)."""
