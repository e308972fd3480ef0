"""Structured logs (JSON lines via structlog) that never carry patient data.

Log calls name *what happened* and carry counts, ids of carepath's own objects (escalation ids, event ids
are opaque hashes or sender ids without clinical meaning) and error classes. A processor drops any key
that could carry a patient identifier or clinical value even if a caller passes one by mistake.

There is no way around the redactor. Lines from third-party libraries (Faust, mode, aiokafka, kafka-python,
uvicorn, httpx) go through the standard library's ``logging``; :func:`configure` installs one handler on
the root logger whose formatter runs the same processors and writes the same JSON. Their free-text message
is scrubbed first: URLs lose their path and query (a request line can name a patient), long digit runs and
quoted values are withheld, control characters become spaces and the text is bounded. The request-log
lines of HTTP clients (``httpx``, ``httpcore``) are silenced below warnings altogether.

Values read from input are bounded before they are logged with :func:`token`.
"""

from __future__ import annotations

import hashlib
import logging
import logging.config
import re
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog

FORBIDDEN_KEYS = frozenset(
    {
        "patient",
        "patient_id",
        "subject",
        "mrn",
        "nhs_number",
        "name",
        "birth_date",
        "dob",
        "data",
        "value",
        "raw",
        "body",
        "payload",
        "impression",
        "evidence",
        "text",
        "note",
        "address",
    }
)
FOREIGN_MESSAGE_LIMIT = 300
_QUIET = ("httpx", "httpcore", "urllib3", "hpack", "h11")  # request lines: URLs that can name a patient
_THIRD_PARTY = ("aiokafka", "kafka", "faust", "mode", "uvicorn", "uvicorn.access", "uvicorn.error", "asyncio")
_URL = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s'\"]+)[^\s'\"]*", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w/:])/(?:[^\s'\"/]+/)+[^\s'\"]*")
_DIGITS = re.compile(r"\d{6,}")
_TOKEN = re.compile(r"^[A-Za-z0-9._:^/+-]{1,64}$")
_service = ""


def _drop_patient_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in FORBIDDEN_KEYS.intersection(event_dict):
        event_dict[key] = "[withheld]"
    return event_dict


def scrub(text: str, limit: int = FOREIGN_MESSAGE_LIMIT) -> str:
    """A third-party message made safe to log: no URL paths or queries, no quoted values, no long digit
    runs (MRNs, NHS numbers, phone numbers), one line, at most ``limit`` characters."""
    text = _withhold_quoted(text[: limit * 4])
    text = _URL.sub(lambda m: m.group(1) + "/[withheld]", text)
    text = _PATH.sub("/[withheld]", text)
    text = _DIGITS.sub("[withheld]", text)
    text = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _withhold_quoted(text: str) -> str:
    """Every quoted value withheld, escapes inside it read as escapes (a bytes repr such as Kafka clients
    log at debug level, ``b'{"nrs": 7, "note": \\'...\\'}'``, is one value), and a quote that does not close
    withholds the rest of the message. A quote opens a value only where a word does not go on through it
    (``can't`` is a word) or after a ``b`` prefix (``b'...'``)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"" and _opens(text, i):
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            out.append("[withheld]")
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _opens(text: str, i: int) -> bool:
    before = text[i - 1] if i else " "
    if before in "bB" and (i < 2 or not text[i - 2].isalnum()):  # b'...': a bytes value
        return True
    return not before.isalnum()


def token(value: object, limit: int = 64) -> str:
    """A value read from input (a control id, a message type, a code) as it may be logged: itself when it is
    a short token of letters, digits and ``._:^/+-``; otherwise ``[invalid:<length>]``."""
    text = str(value) if value is not None else ""
    if len(text) <= limit and _TOKEN.match(text):
        return text
    return f"[invalid:{len(text)}]"


def pseudonym(value: str) -> str:
    """A person's identifier (an identity provider's subject) as it may be logged: a SHA-256 digest, so
    the log links an action to a person whoever can compute it from the identity provider's record, and
    the identifier itself (often an e-mail address or a staff number) is never written."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:20]


def _foreign(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A standard-library record: its message scrubbed, its extra attributes dropped, its logger named."""
    record: logging.LogRecord | None = event_dict.get("_record")
    if record is not None and not event_dict.get("_from_structlog"):
        message = str(event_dict.get("event", ""))  # formatted by structlog from the record's msg and args
        exc_info = event_dict.get("exc_info") or record.exc_info
        for key in list(event_dict):
            if not key.startswith("_"):
                del event_dict[key]
        event_dict["event"] = scrub(message)
        event_dict["logger"] = record.name
        event_dict["level"] = record.levelname.lower()
        if _service:
            event_dict["service"] = _service
        if isinstance(exc_info, tuple) and exc_info[0] is not None:
            event_dict["error"] = exc_info[0].__name__  # the type and frames only: a message can quote input
            event_dict["frames"] = _frames(exc_info[2])
    return event_dict


def _frames(tb: Any) -> list[str]:
    return [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb)[-20:]]


def _exception_without_message(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """An exception as its type and frames (file, line, function): its message can quote the input."""
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and exc_info[0] is not None:
        event_dict.setdefault("error", exc_info[0].__name__)
        event_dict["frames"] = _frames(exc_info[2])
    return event_dict


def _processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_patient_data,
        _exception_without_message,
    ]


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """The formatter of every standard-library log line: scrubbed, redacted, one JSON object."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            processors=[
                _foreign,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *_processors(),
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[],
        )


def logging_config(level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` that sends every standard-library logger through
    :class:`JsonFormatter` on stderr. Faust workers are given it (``logging_config``) so that their own
    start-up does not put a coloured plain-text handler back."""
    lvl = getattr(logging, level.upper())
    third = lvl if lvl <= logging.DEBUG else max(lvl, logging.WARNING)
    loggers: dict[str, Any] = {name: {"level": logging.getLevelName(third)} for name in _THIRD_PARTY}
    loggers.update({name: {"level": "WARNING"} for name in _QUIET})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "root": {"level": logging.getLevelName(lvl), "handlers": ["stderr"]},
        "loggers": loggers,
    }


def configure(service: str, level: str = "info") -> None:
    global _service
    _service = service
    lvl = getattr(logging, level.upper())
    logging.config.dictConfig(logging_config(level))
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*_processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        # One write per line (message and newline together): print() writes them apart, and a standard
        # library line written from another thread (kafka-python's I/O thread) could land between them.
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get(name: str) -> Any:
    return structlog.get_logger(name)
