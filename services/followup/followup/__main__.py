"""python -m followup: run a followup worker (add workers to scale; partitions are shared among them)."""

from __future__ import annotations

from carepath import logs, tracing
from carepath.settings import load
from carepath.streaming import run_worker
from followup.app import build
from followup.core import PathwayError
from followup.settings import FollowupSettings


def main() -> None:
    settings = load(FollowupSettings)
    logs.configure("followup", settings.log_level)
    tracing.configure("followup")
    try:
        app = build(settings)
    except PathwayError as exc:
        raise SystemExit(f"followup: the pathway definition is invalid: {exc}") from None
    logs.get("followup").info("starting", port=settings.web_port, tick_s=settings.tick_interval_s)
    run_worker(app, settings)


if __name__ == "__main__":
    main()
