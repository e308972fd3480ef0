"""A receiving endpoint for the notifier tests: real HTTP on 127.0.0.1, in a thread.

It records every request, can fail the first ``fail_first`` attempts of each notification (by its
idempotency key) with 503, and can be slow. ``delivered`` lists the notifications it accepted with 2xx.
Given the endpoint's ``secret`` it verifies each request as a hospital's receiver would, with the
Standard Webhooks reference library (``standardwebhooks``), and answers 401 to one that fails.
Given a ``bearer`` check (a FHIR server that demands an OAuth2 access token) it answers 401 to a request
whose ``Authorization: Bearer`` token the check does not accept, or that has none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float
    verified: bool | None = None  # None: the receiver was given no secret
    authorized: bool | None = None  # None: the receiver demands no bearer token

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")

    @property
    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" and token else None

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    fail_first: int = 0
    delay_s: float = 0.0
    secret: str | bytes | None = None  # whsec_<base64>, or the key's bytes
    bearer: Callable[[str | None], bool] | None = None  # accepts the request's bearer token (None: none sent)
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                verified = receiver.verify(body, headers)
                authorized = receiver.authorize(headers)
                with receiver._lock:
                    earlier = sum(1 for r in receiver.requests if r.key == headers.get("idempotency-key"))
                    refused = verified is False or authorized is False
                    status = 401 if refused else 503 if earlier < receiver.fail_first else 200
                    receiver.requests.append(
                        Received(self.path, headers, body, status, time.time(), verified, authorized)
                    )
                self.send_response(status)
                if authorized is False:
                    self.send_header("www-authenticate", 'Bearer error="invalid_token"')
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def verify(self, body: bytes, headers: dict[str, str]) -> bool | None:
        if self.secret is None:
            return None
        try:
            Webhook(self.secret).verify(body, headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True

    def authorize(self, headers: dict[str, str]) -> bool | None:
        if self.bearer is None:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return self.bearer(token if scheme.lower() == "bearer" and token else None)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def matching(self, predicate: Callable[[Received], bool]) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if predicate(r)]

    def delivered(self, predicate: Callable[[Received], bool] = lambda r: True) -> list[Received]:
        return self.matching(lambda r: 200 <= r.status < 300 and predicate(r))

    def wait_for(
        self, predicate: Callable[[Received], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.delivered(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} of {count} deliveries after {timeout:.0f}s ({len(self.requests)} requests in all)"
                )
            time.sleep(0.05)

    def __iter__(self) -> Iterator[Received]:
        return iter(self.matching(lambda r: True))


def for_subject(patient: str) -> Callable[[Received], bool]:
    def match(r: Received) -> bool:
        doc = r.json()
        if doc.get("resourceType") == "Bundle":
            return any(
                (
                    e["resource"].get("subject")
                    or e["resource"].get("patient")
                    or e["resource"].get("for")
                    or {}
                ).get("reference")
                == f"Patient/{patient}"
                for e in doc.get("entry", [])
            )
        return bool(doc.get("subject") == patient)

    return match
