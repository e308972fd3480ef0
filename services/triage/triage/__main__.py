"""python -m triage: run a triage worker (add workers to scale; partitions are shared among them)."""

from __future__ import annotations

from carepath import logs, tracing
from carepath.settings import load
from carepath.streaming import run_worker
from triage.app import build
from triage.core import PathwayError
from triage.settings import TriageSettings


def main() -> None:
    settings = load(TriageSettings)
    logs.configure("triage", settings.log_level)
    tracing.configure("triage")
    try:
        app = build(settings)
    except PathwayError as exc:
        raise SystemExit(f"triage: the pathway definition is invalid: {exc}") from None
    logs.get("triage").info("starting", port=settings.web_port, shadow=settings.shadow_mode)
    run_worker(app, settings)


if __name__ == "__main__":
    main()
