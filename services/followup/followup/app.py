"""Wiring for the followup worker: settings, pathway, clock, Faust app."""

from __future__ import annotations

from carepath.streaming import App, make_app
from carepath.worker import WorkerShell
from followup import agents
from followup.core import load_pathway
from followup.settings import FollowupSettings


def build(settings: FollowupSettings) -> App:
    pathway = load_pathway(settings.pathway_dir)  # a malformed pathway refuses to start, naming the problem
    app = make_app(settings.group_id, settings, web_port=settings.web_port)
    shell = WorkerShell(app, agents.SERVICE, agents.INPUT_TOPICS)
    agents.register(app, shell, settings, pathway, settings.clock())
    return app
