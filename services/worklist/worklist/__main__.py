"""python -m worklist: the worklist page (one process; add replicas behind a load balancer freely: each
reads every partition and answers for every patient)."""

from __future__ import annotations

import uvicorn

from carepath import collector, logs
from carepath.settings import load
from followup.core import PathwayError
from worklist.app import create_app
from worklist.settings import WorklistSettings


def main() -> None:
    settings = load(WorklistSettings)
    logs.configure("worklist", settings.log_level)
    try:
        api = create_app(settings)
    except PathwayError as exc:
        raise SystemExit(f"worklist: the pathway definition is invalid: {exc}") from None
    logs.get("worklist").info(
        "starting",
        port=settings.port,
        oidc=settings.oidc_enabled,
        dev_login=settings.dev_login_enabled,
    )
    collector.tune(settings.gc_thresholds)
    uvicorn.run(
        api,
        host=settings.bind_host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=3,  # open live streams end with the process instead of holding it
    )


if __name__ == "__main__":
    main()
