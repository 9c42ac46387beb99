"""What both HTTP services (the backend and the AI server) are built from, written once: the error contract,
the body limit, request metrics, the placeholder-secret rule and the AI server's API models.

Nothing here imports training, data or model code: both services' request paths import it
(``tests/test_import_boundary.py``).
"""
