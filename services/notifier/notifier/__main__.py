"""python -m notifier: deliver escalations and reminders to the configured endpoints."""

from __future__ import annotations

from carepath import logs, tracing
from carepath.settings import load
from carepath.streaming import run_worker
from notifier.app import build
from notifier.settings import NotifierSettings


def main() -> None:
    settings = load(NotifierSettings)
    logs.configure("notifier", settings.log_level)
    tracing.configure("notifier")
    endpoints = settings.endpoints()
    if not endpoints:
        logs.get("notifier").warning("no endpoints configured: notifications are read but not delivered")
    app = build(settings)
    logs.get("notifier").info("starting", port=settings.web_port, endpoints=[e.name for e in endpoints])
    run_worker(app, settings)


if __name__ == "__main__":
    main()
