"""python -m intake: serve the intake HTTP API."""

from __future__ import annotations

import uvicorn

from carepath import collector, logs, tracing
from carepath.settings import load
from intake.app import create_app
from intake.settings import IntakeSettings


def main() -> None:
    settings = load(IntakeSettings)
    logs.configure("intake", settings.log_level)
    tracing.configure("intake")
    logs.get("intake").info("starting", port=settings.port, profile=settings.broker_profile)
    api = create_app(settings)
    collector.tune(settings.gc_thresholds)
    uvicorn.run(
        api,
        host=settings.bind_host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        log_config=None,  # every line through carepath.logs (JSON, redacted)
        proxy_headers=False,
        # every connection is its own task, so a slow sender holds only its own connection; these bound
        # how many there may be, how long an idle one is kept, and how large a request head may grow
        limit_concurrency=settings.http_max_connections,
        timeout_keep_alive=int(settings.http_keepalive_s) or 1,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        http="h11",  # the head limit above is h11's: never another parser because one is installed
    )


if __name__ == "__main__":
    main()
