"""Wiring for the notifier worker: settings, endpoints, clock, Faust app, web server."""

from __future__ import annotations

from carepath.streaming import App, make_app
from carepath.webserver import serve_in_worker
from carepath.worker import WorkerShell
from notifier import agents
from notifier.settings import NotifierSettings


def build(settings: NotifierSettings) -> App:
    endpoints = settings.endpoints()
    app = make_app(settings.group_id, settings, web_port=settings.web_port)
    shell = WorkerShell(app, agents.SERVICE, agents.INPUT_TOPICS)
    agents.register(app, shell, settings, endpoints, settings.clock())
    serve_in_worker(app, shell.api, settings.bind_host, settings.web_port)
    return app
