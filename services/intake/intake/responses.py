"""JSON responses encoded with orjson (fast, and exact about times and floats)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response


def json_response(body: Any, status_code: int) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")
