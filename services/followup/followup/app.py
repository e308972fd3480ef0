"""Wiring for the followup worker: settings, pathway, clock, Faust app, worklist API."""

from __future__ import annotations

from carepath.streaming import App, make_app
from carepath.webserver import serve_in_worker
from carepath.worker import WorkerShell
from followup import agents, api
from followup.core import load_pathway
from followup.settings import FollowupSettings


def build(settings: FollowupSettings) -> App:
    pathway = load_pathway(settings.pathway_dir)  # a malformed pathway refuses to start, naming the problem
    app = make_app(settings.group_id, settings, web_port=settings.web_port)
    shell = WorkerShell(app, agents.SERVICE, agents.INPUT_TOPICS)
    followup = agents.register(app, shell, settings, pathway, settings.clock())
    api.install(shell.api, followup)
    serve_in_worker(app, shell.api, settings.bind_host, settings.web_port)
    return app
