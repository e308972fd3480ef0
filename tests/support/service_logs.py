"""A service's log as the test reads it: one JSON object per line (lines that are not JSON skipped)."""

from __future__ import annotations

import orjson

from carepath_tools.devstack import Service


def log_events(svc: Service) -> list[dict[str, object]]:
    lines = []
    for raw in svc.log_path.read_bytes().splitlines():
        try:
            lines.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue
    return lines
