"""The webhook the notifier delivers to in a chaos run: real HTTP on 127.0.0.1, in a thread, answering
``200`` to every request and recording each one by its idempotency key (the CloudEvent id)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender killed mid-request resets its connection: expected here, not worth a traceback."""


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted: Counter[str] = Counter()  # 2xx answers per idempotency key
        self.attempt_headers: dict[str, list[str]] = {}
        self.last_at = 0.0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                key = self.headers.get("idempotency-key", "")
                attempt = self.headers.get("x-carepath-delivery-attempt", "")
                with receiver._lock:
                    receiver.accepted[key] += 1
                    receiver.attempt_headers.setdefault(key, []).append(attempt)
                    receiver.last_at = time.monotonic()
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="chaos-webhook", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> tuple[Counter[str], dict[str, list[str]]]:
        with self._lock:
            return Counter(self.accepted), {k: list(v) for k, v in self.attempt_headers.items()}
