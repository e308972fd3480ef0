"""Structured logs (JSON lines via structlog) that never carry patient data.

Log calls name *what happened* and carry counts, ids of carepath's own objects (escalation ids, event ids
are opaque hashes or sender ids without clinical meaning) and error classes. A processor drops any key
that could carry a patient identifier or clinical value even if a caller passes one by mistake.
"""

from __future__ import annotations

import logging
import sys
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
    }
)


def _drop_patient_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in FORBIDDEN_KEYS.intersection(event_dict):
        event_dict[key] = "[withheld]"
    return event_dict


def configure(service: str, level: str = "info") -> None:
    lvl = getattr(logging, level.upper())
    logging.basicConfig(stream=sys.stderr, level=lvl, format="%(message)s")
    for noisy in ("aiokafka", "kafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(lvl if lvl <= logging.DEBUG else max(lvl, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_patient_data,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get(name: str) -> Any:
    return structlog.get_logger(name)
