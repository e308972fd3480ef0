"""The Prometheus ``/metrics`` page every carepath process serves (intake, the standalone MLLP listener's
status port, every worker): open by default, for a private network; with ``CAREPATH_METRICS_TOKENS`` set,
a scrape without one of those bearer tokens is answered 401."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from carepath import auth


def page(authorization: str | None, accepted: Sequence[str]) -> Response:
    """The metrics, or 401 when ``accepted`` is not empty and the ``Authorization`` header presents none of
    them."""
    if not auth.admits(authorization, accepted):
        return Response(
            "missing or invalid bearer token\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
