"""A FastAPI app served inside a Faust worker's event loop (Faust's own aiohttp web server is off).

One web server per worker: /metrics, /healthz, /readyz and any query API the service adds. Its URL is
the worker's ``canonical_url``, which Faust's partition assignor shares with the other workers, so a
request can be routed to the worker that owns a patient's partition.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from carepath.streaming import App


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Faust owns SIGINT/SIGTERM and stops the worker (and this server with it) in order.
        yield


def serve_in_worker(app: App, api: FastAPI, host: str, port: int) -> None:
    config = uvicorn.Config(
        api, host=host, port=port, log_level="warning", access_log=False, lifespan="off", log_config=None
    )
    server = _EmbeddedServer(config)

    async def web_server() -> None:
        await server.serve()

    app.task(web_server)

    async def stop(*_: Any, **__: Any) -> None:
        server.should_exit = True

    app.on_before_shutdown.connect(stop)
