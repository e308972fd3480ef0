"""python -m carepath_tools.bench.naive_worker: the naive baseline stage the bench compares triage with.

A Faust agent built exactly like the services' (same app factory, same broker profile) that takes one
event per iteration, decodes its JSON, and forwards it re-encoded to an output topic. No batching, no
state: the per-event cost of a stream stage and nothing else.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import Field

from carepath import logs
from carepath.settings import CommonSettings, load
from carepath.streaming import make_app
from carepath.webserver import serve_in_worker
from carepath.worker import WorkerShell


class NaiveSettings(CommonSettings):
    web_port: int = Field(default=6070, ge=1, le=65535, alias="CAREPATH_BENCH_NAIVE_PORT")
    source: str = Field(default="bench.naive.in", alias="CAREPATH_BENCH_NAIVE_SOURCE")
    sink: str = Field(default="bench.naive.out", alias="CAREPATH_BENCH_NAIVE_SINK")
    group_id: str = Field(default="carepath-bench-naive", alias="CAREPATH_BENCH_NAIVE_GROUP_ID")

    model_config = CommonSettings.model_config | {"populate_by_name": True}


def main() -> None:
    settings = load(NaiveSettings)
    logs.configure("bench-naive", settings.log_level)
    app = make_app(settings.group_id, settings, web_port=settings.web_port)
    shell = WorkerShell(app, "bench-naive", [settings.source])
    serve_in_worker(app, shell.api, settings.bind_host, settings.web_port)
    source = app.topic(settings.source, key_type=bytes, value_type=bytes)
    sink = app.topic(settings.sink, key_type=bytes, value_type=bytes)

    @app.agent(source, name="naive")
    async def forward(stream: Any) -> None:
        async for key, value in stream.items():
            event = json.loads(value)
            await sink.send(key=key, value=json.dumps(event).encode())

    sys.argv = [sys.argv[0], "worker", "--without-web", "--loglevel", "warn"]  # web: serve_in_worker
    app.main()


if __name__ == "__main__":
    main()
