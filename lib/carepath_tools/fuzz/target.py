"""The system under test: an embedded broker, intake as a real process (``python -m intake``, HTTP and MLLP)
and a stand-in for followup's target check, all on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from carepath_tools.broker import EmbeddedBroker, free_port
from carepath_tools.devstack import DEV_TOKEN, Service


@dataclass(frozen=True)
class Limits:
    publish_timeout_s: float = 3.0
    frame_timeout_s: float = 1.0
    idle_timeout_s: float = 3.0
    max_request_bytes: int = 64 * 1024
    mllp_max_bytes: int = 64 * 1024
    max_batch: int = 1000

    @property
    def answer_bound_s(self) -> float:
        """The longest any answer may take before the input counts as hung: the publish timeout, plus 5 s."""
        return self.publish_timeout_s + 5.0

    @property
    def close_bound_s(self) -> float:
        """How long a half-open MLLP connection may stay open: the longer of the frame and idle timeouts,
        plus 5 s."""
        return max(self.frame_timeout_s, self.idle_timeout_s) + 5.0


class _Targets(BaseHTTPRequestHandler):
    """followup's ``GET /v1/targets/{id}``: a third of the ids are known (200), the rest are not (404)."""

    def do_GET(self) -> None:
        known = (
            self.path.startswith("/v1/targets/") and hashlib.sha256(self.path.encode()).digest()[0] % 3 == 0
        )
        body = b'{"known": true}' if known else b'{"detail": "not found"}'
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class Target:
    log_dir: Path
    limits: Limits = field(default_factory=Limits)
    broker: EmbeddedBroker | None = None
    intake: Service | None = None
    mllp_port: int = 0
    token: str = DEV_TOKEN
    _followup: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.intake is not None
        return self.intake.url

    @property
    def bootstrap(self) -> str:
        assert self.broker is not None
        return self.broker.bootstrap

    def start(self) -> Target:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.broker = EmbeddedBroker(log_path=self.log_dir / "broker.log").start()
            self._followup = ThreadingHTTPServer(("127.0.0.1", 0), _Targets)
            threading.Thread(target=self._followup.serve_forever, daemon=True, name="fuzz-followup").start()
            port, self.mllp_port = free_port(), free_port()
            lim = self.limits
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
                "CAREPATH_BROKER_PROFILE": "embedded",
                "CAREPATH_ENVIRONMENT": "test",
                "CAREPATH_INTAKE_TOKENS": self.token,
                "CAREPATH_INTAKE_PORT": str(port),
                "CAREPATH_BIND_HOST": "127.0.0.1",
                "CAREPATH_INTAKE_FOLLOWUP_URL": f"http://127.0.0.1:{self._followup.server_address[1]}",
                "CAREPATH_INTAKE_MLLP_PORT": str(self.mllp_port),
                "CAREPATH_INTAKE_MLLP_MAX_BYTES": str(lim.mllp_max_bytes),
                "CAREPATH_INTAKE_MLLP_FRAME_TIMEOUT_S": str(lim.frame_timeout_s),
                "CAREPATH_INTAKE_MLLP_IDLE_TIMEOUT_S": str(lim.idle_timeout_s),
                "CAREPATH_INTAKE_PUBLISH_TIMEOUT_S": str(lim.publish_timeout_s),
                "CAREPATH_INTAKE_MAX_REQUEST_BYTES": str(lim.max_request_bytes),
                "CAREPATH_INTAKE_MAX_BATCH": str(lim.max_batch),
                "CAREPATH_LOG_LEVEL": "warning",
                "PYTHONUNBUFFERED": "1",
            }
            self.intake = Service("intake", "intake", port, env, self.log_dir / "intake.log")
            self.intake.start()
            self.intake.wait_ready(60)
        except BaseException:
            self.stop()
            raise
        return self

    def exited(self) -> int | None:
        """The exit code of intake if it has exited, else None."""
        if self.intake is None or self.intake.proc is None:
            return None
        return self.intake.proc.poll()

    def stop(self) -> None:
        if self.intake is not None:
            self.intake.stop()
        if self._followup is not None:
            self._followup.shutdown()
            self._followup.server_close()
            self._followup = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> Target:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
