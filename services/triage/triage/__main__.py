"""python -m triage: run a triage worker (add workers to scale; partitions are shared among them)."""

from __future__ import annotations

import sys

from carepath import logs
from carepath.settings import load
from triage.app import build
from triage.core import PathwayError
from triage.settings import TriageSettings


def main() -> None:
    settings = load(TriageSettings)
    logs.configure("triage", settings.log_level)
    try:
        app = build(settings)
    except PathwayError as exc:
        raise SystemExit(f"triage: the pathway definition is invalid: {exc}") from None
    logs.get("triage").info("starting", port=settings.web_port, shadow=settings.shadow_mode)
    # Faust's own logging stays at warnings: carepath's structured logs say what happens.
    level = "debug" if settings.log_level == "debug" else "warn"
    sys.argv = [sys.argv[0], "worker", "--without-web", "--loglevel", level]
    app.main()


if __name__ == "__main__":
    main()
