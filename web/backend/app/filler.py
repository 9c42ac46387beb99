"""The Phase B pool filler as its own process: ``python -m web.backend.app.filler``.

The same filler the backend can run in its lifespan (:class:`~web.backend.app.services.problem_pool.PoolFiller`),
for deployments that keep it apart from the request-serving replicas (set ``PROBLEM_POOL_FILLER=false`` on
those). It reads the backend's settings from the environment, needs ``REDIS_URL`` (a pool in this process's
memory would serve no one) and exports its metrics on ``--metrics-port`` for Prometheus.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from prometheus_client import start_http_server

from web.backend.app.core.config import Settings, get_settings
from web.backend.app.core.logging import setup_logging
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.services.ai_client import AiClient
from web.backend.app.services.problem_pool import PoolFiller, ProblemPool
from web.backend.app.store import make_store

logger = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 9102


async def run_filler(settings: Settings, metrics_port: int | None) -> None:
    """Fills the shared pool until cancelled.

    Raises:
        SystemExit: without ``REDIS_URL``.
    """
    if not settings.redis_url:
        raise SystemExit("the pool filler needs REDIS_URL: the pool must be shared with the backends")
    telemetry = Telemetry()
    if metrics_port is not None:
        start_http_server(metrics_port, registry=telemetry.registry)
    store = make_store(settings.redis_url)
    ai = AiClient(
        settings.ai_server_url, settings.ai_server_token.get_secret_value(), settings.ai_timeout_s, telemetry
    )
    pool = ProblemPool(store, telemetry, settings.problem_pool_ttl_s, settings.problem_pool_retry_after_s)
    filler = PoolFiller(
        pool, ai, settings.problem_pool_depth, settings.problem_pool_batch, settings.problem_pool_timeout_s
    )
    try:
        await filler.run()
    finally:
        await ai.close()
        await store.close()


def main(argv: list[str] | None = None) -> None:
    """Parses ``--metrics-port`` (0: no metrics endpoint) and runs the filler."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT)
    args = parser.parse_args(argv)
    settings = get_settings()
    setup_logging(settings.log_level)
    asyncio.run(run_filler(settings, args.metrics_port or None))


if __name__ == "__main__":
    main()
