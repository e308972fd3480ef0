"""Wiring for the triage worker: settings, pathway, clock, Faust app."""

from __future__ import annotations

from carepath import topics
from carepath.streaming import App, make_app
from carepath.webserver import serve_in_worker
from carepath.worker import WorkerShell
from triage import agents
from triage.core import load_pathway
from triage.settings import TriageSettings


def build(settings: TriageSettings) -> App:
    pathway = load_pathway(settings.pathway_dir)  # a malformed pathway refuses to start, naming the problem
    app = make_app(settings.group_id, settings, web_port=settings.web_port)
    shell = WorkerShell(app, agents.SERVICE, [topics.CLINICAL_EVENTS])
    agents.register(app, shell, settings, pathway, settings.clock())
    serve_in_worker(app, shell.api, settings.bind_host, settings.web_port)
    return app
