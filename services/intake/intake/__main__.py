"""python -m intake: serve the intake HTTP API."""

from __future__ import annotations

import uvicorn

from carepath import logs
from carepath.settings import load
from intake.app import create_app
from intake.settings import IntakeSettings


def main() -> None:
    settings = load(IntakeSettings)
    logs.configure("intake", settings.log_level)
    logs.get("intake").info("starting", port=settings.port, profile=settings.broker_profile)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        log_config=None,  # every line through carepath.logs (JSON, redacted)
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
