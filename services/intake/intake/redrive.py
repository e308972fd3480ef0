"""python -m intake.redrive: send dead-lettered input to intake again, once what refused it is fixed.

Reads ``clinical.events.dlq`` from its beginning to the end it has when the command starts, selects records
by reason, time and source, and - with ``--send`` only; a dry run is the default - submits each one's raw
input to a running intake through its own API, as the integration engine first sent it: JSON events to
``POST /v1/events``, FHIR resources to ``PUT /fhir/<type>/<id>`` (``POST /fhir/<type>`` without an id,
``POST /fhir`` for a Bundle), HL7 v2 messages over MLLP. So every input is validated again by today's intake
(its contract, its code maps and site file), stored only once the broker acknowledged, and de-duplicated
like any resend: an event already stored is not stored twice, and input refused again is dead-lettered
again with its new reason.

    python -m intake.redrive                          what would be sent, by channel and first error field
    python -m intake.redrive --reason unit --from 2026-12-01 --channel http --send

Selection (all given must hold): ``--reason`` a regular expression searched in the record's reason
(case-insensitive), ``--from``/``--to`` when intake refused it (``received_at``, a date or an instant with
an offset; from inclusive, to exclusive), ``--channel`` http, fhir, mllp or stream (repeatable), ``--source``
the sender: a JSON event's ``source``, a FHIR resource's ``meta.source``, an HL7 message's sending
application (MSH-3). Not sent, and counted: a record whose raw input was too large to keep whole, input
that is not JSON where JSON is needed, a stream record that is not an input event (a worker's refusal of
an escalation, say), and the same input dead-lettered more than once (sent once). HL7 messages are sent in
original acknowledgement mode (MSH-15 and MSH-16 emptied), so each is answered by one ACK saying whether it
is now stored (``AA``; over MLLP a resend is answered ``AA`` too, so stored and already stored are counted
together). A listener speaking TLS is reached with ``--mllp-ca`` (the CA its certificate is checked
against) and, when it asks senders for a certificate, ``--mllp-cert`` and ``--mllp-key``.

Progress goes to stderr, the summary to stdout; neither prints patient data (a record is described by its
channel and the JSON pointer of its first error). The token is intake's engine token
(``CAREPATH_INTAKE_TOKENS``: the one named ``redrive`` when there is one, so what is sent again is stamped
as re-driven, else the first; the development token outside production). Over MLLP, what is sent again is
stamped with the name of the allow-list entry the command's address falls in. When intake answers
503/AR or cannot be reached, the command stops, says how far it got, and exits 1: run it again (what was
stored is de-duplicated).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import re
import socket
import ssl
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx

from carepath import auth, contracts, envelope, kafka_security, logs, topics
from carepath.topic_reader import read_topic_or_say
from intake.hl7.message import sniff_header

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_TIMEOUT_S = 120.0
REDRIVE_SENDER = "redrive"  # the name of the engine credential the command prefers
CHANNELS = ("http", "fhir", "mllp", "stream")
_START, _END = b"\x0b", b"\x1c\r"
_PROGRESS_EVERY = 50
_FHIR_JSON = "application/fhir+json"

# What became of a record.
STORED = "stored"
DUPLICATE = "already stored"
REFUSED = "refused again"
TRUNCATED = "not sent: kept only in part (too large)"
NOT_JSON = "not sent: not JSON, cannot succeed"
NOT_INPUT = "not sent: not an input intake takes"
REPEATED = "not sent: the same input selected twice"
OUTCOMES = (STORED, DUPLICATE, REFUSED, TRUNCATED, NOT_JSON, NOT_INPUT, REPEATED)


class Unavailable(RuntimeError):
    """intake did not store the input now (503, AR, no answer): stop, nothing more is sent."""


class Refused(RuntimeError):
    """intake refused the command itself (401, 403): the token is not an integration engine's."""


@dataclass(frozen=True)
class Letter:
    """One dead-letter record, read."""

    channel: str
    reason: str
    received_at: datetime | None
    raw: bytes
    truncated: bool
    first_field: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.channel.encode() + b"\0" + self.raw).hexdigest()


def parse(value: bytes) -> Letter:
    """One dead-letter record; ValueError when it is not one."""
    record = json.loads(value)
    if not isinstance(record, dict) or not isinstance(record.get("raw"), str):
        raise ValueError("not a dead-letter record")
    raw = record["raw"]
    data = base64.b64decode(raw) if record.get("raw_encoding") == "base64" else raw.encode("utf-8")
    errors = record.get("errors") or []
    first = errors[0].get("field", "") if errors and isinstance(errors[0], dict) else ""
    try:
        received: datetime | None = envelope.parse_time(str(record.get("received_at", "")))
    except ValueError:
        received = None
    return Letter(
        channel=str(record.get("channel", "")),
        reason=str(record.get("reason", "")),
        received_at=received,
        raw=data,
        truncated=bool(record.get("raw_truncated")),
        first_field=_pointer(str(first)),
    )


def _pointer(text: str) -> str:
    """A JSON pointer as shown: at most 60 characters of the safe ones (it may be written from input)."""
    return text[:60] if re.fullmatch(r"[A-Za-z0-9_./\[\]~-]*", text) else "[invalid]"


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def sources(letter: Letter) -> set[str]:
    """Who sent it: a JSON event's ``source`` (each, for a batch), a FHIR resource's ``meta.source``, an HL7
    message's sending application (MSH-3)."""
    if letter.channel == "mllp":
        header = sniff_header(letter.raw)
        return {header.sending_application} if header is not None and header.sending_application else set()
    doc = _json(letter.raw)
    if letter.channel == "fhir":
        meta = doc.get("meta") if isinstance(doc, dict) else None
        return {str(meta["source"])} if isinstance(meta, dict) and meta.get("source") else set()
    items = doc if isinstance(doc, list) else [doc]
    return {str(i["source"]) for i in items if isinstance(i, dict) and isinstance(i.get("source"), str)}


@dataclass(frozen=True)
class Selection:
    reason: re.Pattern[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    channels: frozenset[str] = frozenset()
    source: str | None = None

    def __call__(self, letter: Letter) -> bool:
        if self.reason is not None and not self.reason.search(letter.reason):
            return False
        if self.start is not None or self.end is not None:
            if letter.received_at is None:
                return False
            if self.start is not None and letter.received_at < self.start:
                return False
            if self.end is not None and letter.received_at >= self.end:
                return False
        if self.channels and letter.channel not in self.channels:
            return False
        return self.source is None or self.source in sources(letter)


def select(values: Iterable[bytes], selection: Selection) -> tuple[list[Letter], int, int]:
    """(the selected records in topic order, records read, records that are not dead-letter records)."""
    chosen, read, unreadable = [], 0, 0
    for value in values:
        read += 1
        try:
            letter = parse(value)
        except (ValueError, TypeError, KeyError):
            unreadable += 1
            continue
        if selection(letter):
            chosen.append(letter)
    return chosen, read, unreadable


# --- sending ---------------------------------------------------------------------------------------------


def original_mode(raw: bytes) -> bytes:
    """The HL7 message with MSH-15 and MSH-16 emptied: answered by one ACK, the application one. Read as
    ISO 8859-1, which maps every byte to one character and back, so the rest is sent byte for byte."""
    text = raw.decode("latin-1")
    start = text.find("MSH")
    if start < 0 or len(text) < start + 4:
        return raw
    end = min((i for i in (text.find("\r", start), text.find("\n", start)) if i >= 0), default=len(text))
    fields = text[start:end].split(text[start + 3])
    if len(fields) > 15:
        fields[14] = fields[15] = ""
    return (text[:start] + text[start + 3].join(fields) + text[end:]).encode("latin-1")


class Sender:
    """intake's API, as an integration engine uses it."""

    def __init__(
        self,
        intake_url: str,
        mllp: tuple[str, int],
        token: str,
        timeout_s: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=intake_url.rstrip("/"), headers=auth.bearer(token), timeout=timeout_s
        )
        self.mllp_address = mllp
        self.tls = tls
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        self.http.close()
        if self._sock is not None:
            self._sock.close()

    def send(self, letter: Letter) -> str:
        if letter.channel == "mllp":
            return self._hl7(letter.raw)
        doc = _json(letter.raw)
        if doc is None:
            return NOT_JSON
        if letter.channel == "fhir":
            return self._fhir(letter.raw, doc)
        if letter.channel == "stream" and not _is_input(doc):
            return NOT_INPUT
        return self._events(letter.raw)

    def _answer(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise Refused(f"intake answered {response.status_code}: the token is not an integration engine's")
        if response.status_code >= 500:
            raise Unavailable(f"intake answered {response.status_code}")

    def _post(self, path: str, raw: bytes, content_type: str, method: str = "POST") -> httpx.Response:
        try:
            response = self.http.request(method, path, content=raw, headers={"Content-Type": content_type})
        except httpx.HTTPError as exc:
            raise Unavailable(f"intake did not answer ({type(exc).__name__})") from None
        self._answer(response)
        return response

    def _events(self, raw: bytes) -> str:
        response = self._post("/v1/events", raw, "application/json")
        if response.status_code != 202:
            return REFUSED
        body = response.json()
        if body.get("rejected"):
            return REFUSED
        return STORED if body.get("accepted") else DUPLICATE

    def _fhir(self, raw: bytes, doc: Any) -> str:
        kind = doc.get("resourceType") if isinstance(doc, dict) else None
        if not isinstance(kind, str) or not re.fullmatch(r"[A-Z][A-Za-z]{1,40}", kind):
            path, method = "/fhir", "POST"  # refused again, naming what is wrong
        elif kind == "Bundle":
            path, method = "/fhir", "POST"
        elif isinstance(doc.get("id"), str) and re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", doc["id"]):
            path, method = f"/fhir/{kind}/{doc['id']}", "PUT"
        else:
            path, method = f"/fhir/{kind}", "POST"
        response = self._post(path, raw, _FHIR_JSON, method)
        if response.status_code == 201:
            return STORED
        if response.status_code == 200 and kind != "Bundle":
            return DUPLICATE
        if response.status_code == 200:  # a batch-response: each entry's own status
            statuses = [
                str((e.get("response") or {}).get("status", ""))
                for e in response.json().get("entry") or []
                if isinstance(e, dict)
            ]
            if any(not s.startswith(("200", "201")) for s in statuses):
                return REFUSED
            return STORED if any(s.startswith("201") for s in statuses) else DUPLICATE
        return REFUSED

    def _hl7(self, raw: bytes) -> str:
        try:
            if self._sock is None:
                sock = socket.create_connection(self.mllp_address, timeout=self.timeout_s)
                if self.tls is not None:
                    sock = self.tls.wrap_socket(sock, server_hostname=self.mllp_address[0])
                self._sock = sock
                self._buffer = b""
            self._sock.sendall(_START + original_mode(raw) + _END)
            while _END not in self._buffer:
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed without an ACK")
                self._buffer += chunk
        except OSError as exc:
            if self._sock is not None:
                self._sock.close()
            self._sock = None
            raise Unavailable(
                f"MLLP {self.mllp_address[0]}:{self.mllp_address[1]}: {type(exc).__name__}"
            ) from None
        frame, self._buffer = self._buffer.split(_END, 1)
        code = _msa_code(frame.lstrip(_START))
        if code == "AR":
            raise Unavailable("intake answered AR")
        return STORED if code == "AA" else REFUSED


def _is_input(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("type") in contracts.INPUT_TYPES


def _msa_code(ack: bytes) -> str:
    text = ack.decode("latin-1")
    if not text.startswith("MSH") or len(text) < 4:
        return "?"
    for segment in re.split(r"[\r\n]+", text):
        if segment.startswith("MSA"):
            fields = segment.split(text[3])
            return fields[1] if len(fields) > 1 else "?"
    return "?"


@dataclass
class Summary:
    read: int = 0
    unreadable: int = 0
    selected: int = 0
    sent: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[tuple[str, str]] = field(default_factory=Counter)
    stopped: str | None = None


def redrive(letters: Sequence[Letter], sender: Sender | None, progress: TextIO = sys.stderr) -> Summary:
    """Send each selected record once (``sender`` None: a dry run, nothing is sent)."""
    summary = Summary(selected=len(letters), sent=sender is not None)
    for letter in letters:
        summary.by_channel[(letter.channel, letter.first_field)] += 1
    if sender is None:
        return summary
    seen: set[str] = set()
    for done, letter in enumerate(letters, start=1):
        if letter.truncated:
            outcome = TRUNCATED
        elif letter.digest in seen:
            outcome = REPEATED
        else:
            seen.add(letter.digest)
            try:
                outcome = sender.send(letter)
            except Unavailable as exc:
                summary.stopped = f"{exc} after {done - 1} of {len(letters)} records"
                break
        summary.outcomes[outcome] += 1
        if done % _PROGRESS_EVERY == 0 or done == len(letters):
            print(f"sent {done} of {len(letters)}", file=progress, flush=True)
    return summary


def print_summary(summary: Summary, described: str, out: TextIO = sys.stdout) -> None:
    print(
        f"{topics.CLINICAL_EVENTS_DLQ}: {summary.read} records read, {summary.selected} selected ({described})",
        file=out,
    )
    if summary.unreadable:
        print(f"  {summary.unreadable} records are not dead-letter records and were left", file=out)
    if summary.by_channel:
        print(f"{'channel':<8} {'first error field':<40} records", file=out)
        for (channel, pointer), count in sorted(summary.by_channel.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"{channel:<8} {pointer or '(the whole input)':<40} {count:>7}", file=out)
    if not summary.sent:
        print("dry run: nothing sent; add --send to send them to intake", file=out)
        return
    done = ", ".join(f"{summary.outcomes[o]} {o}" for o in OUTCOMES if summary.outcomes[o])
    print(f"sent through intake: {done or 'nothing'}", file=out)
    if summary.stopped:
        print(f"stopped: {summary.stopped}; run it again once intake answers", file=out)


# --- the command -----------------------------------------------------------------------------------------


def _when(text: str) -> datetime:
    """A date (its start, UTC) or an instant with an offset."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        return envelope.parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a date (2026-01-31) or an instant with an offset"
        ) from exc


def _pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text, re.IGNORECASE)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {exc}") from exc


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: host:port expected")
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m intake.redrive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP))
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to read the topic")
    parser.add_argument("--reason", type=_pattern, help="a regular expression searched in the reason")
    parser.add_argument("--from", dest="start", type=_when, help="refused at or after (date or instant)")
    parser.add_argument("--to", dest="end", type=_when, help="refused before (date or instant)")
    parser.add_argument("--channel", action="append", choices=CHANNELS, default=[], help="repeatable")
    parser.add_argument("--source", help="the sender: event source, FHIR meta.source or HL7 MSH-3")
    parser.add_argument(
        "--intake",
        default=f"http://127.0.0.1:{os.environ.get('CAREPATH_INTAKE_PORT', '8080')}",
        help="intake's base URL",
    )
    parser.add_argument(
        "--mllp",
        type=_address,
        default=("127.0.0.1", int(os.environ.get("CAREPATH_INTAKE_MLLP_PORT") or 2575)),
        help="intake's MLLP listener, host:port",
    )
    parser.add_argument(
        "--mllp-ca", type=Path, help="MLLP over TLS: the CA the listener's certificate is checked against"
    )
    parser.add_argument(
        "--mllp-cert", type=Path, help="MLLP over TLS: this sender's certificate (with --mllp-key)"
    )
    parser.add_argument("--mllp-key", type=Path, help="MLLP over TLS: the key of --mllp-cert")
    parser.add_argument("--send", action="store_true", help="send them (without it: a dry run)")
    args = parser.parse_args(argv)
    try:
        tls = _tls(args.mllp_ca, args.mllp_cert, args.mllp_key)
    except ValueError as exc:
        print(f"intake.redrive: {exc}", file=sys.stderr)
        return 2
    logs.configure("intake-redrive", "warning")  # log lines, if any, on stderr: stdout is the result
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # each retry of the client: the command says why
    try:
        credentials = auth.named_tokens(
            os.environ.get("CAREPATH_INTAKE_TOKENS", ""),
            os.environ.get("CAREPATH_ENVIRONMENT", "production"),
            "CAREPATH_INTAKE_TOKENS",
            auth.DEV_INTAKE_TOKEN,
            "engine",
        )
        # the credential named redrive when there is one, so what is sent again says it was re-driven
        token = next((c for c in credentials if c.name == REDRIVE_SENDER), credentials[0]).token
    except ValueError as exc:
        print(f"intake.redrive: {exc}", file=sys.stderr)
        return 2
    bootstrap = [h.strip() for h in str(args.bootstrap).split(",") if h.strip()]
    selection = Selection(args.reason, args.start, args.end, frozenset(args.channel), args.source)
    values = read_topic_or_say(
        "intake.redrive",
        bootstrap,
        topics.CLINICAL_EVENTS_DLQ,
        timeout_s=args.timeout,
        security=kafka_security.kafka_python_kwargs(kafka_security.from_environment()),
    )
    if values is None:
        return 1
    letters, read, unreadable = select(values, selection)
    sender = Sender(args.intake, args.mllp, token, tls=tls) if args.send else None
    try:
        summary = redrive(letters, sender)
    except Refused as exc:
        print(f"intake.redrive: {exc}", file=sys.stderr)
        return 2
    finally:
        if sender is not None:
            sender.close()
    summary.read, summary.unreadable = read, unreadable
    print_summary(summary, _described(args))
    return 1 if summary.stopped else 0


def _tls(ca: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The TLS context for an MLLP listener speaking TLS, or None; ValueError naming the option."""
    if ca is None:
        if cert is not None or key is not None:
            raise ValueError("--mllp-cert and --mllp-key need --mllp-ca (the listener's CA)")
        return None
    if (cert is None) != (key is None):
        raise ValueError("--mllp-cert and --mllp-key go together")
    try:
        context = ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"--mllp-ca {str(ca)!r}: not PEM CA certificates ({type(exc).__name__})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None and key is not None:
        try:
            context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"--mllp-cert/--mllp-key: not a PEM certificate and its key ({type(exc).__name__})"
            ) from None
    return context


def _described(args: argparse.Namespace) -> str:
    parts = []
    if args.reason is not None:
        parts.append(f"reason ~ {args.reason.pattern!r}")
    if args.start is not None:
        parts.append(f"from {envelope.iso(args.start)}")
    if args.end is not None:
        parts.append(f"to {envelope.iso(args.end)}")
    if args.channel:
        parts.append(f"channel {', '.join(args.channel)}")
    if args.source:
        parts.append(f"source {args.source!r}")
    return "; ".join(parts) or "all"


if __name__ == "__main__":
    sys.exit(main())
