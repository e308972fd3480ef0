"""Clinical events sent to a running stack's intake, as an integration engine sends them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from carepath import auth, envelope
from carepath_tools.devstack import Stack


def post_event(
    stack: Stack, patient: str, etype: str, data: dict[str, Any], n: int, at: timedelta = timedelta(0)
) -> dict[str, Any]:
    """POST one CloudEvent (id ``<patient>-<n>``, clinical time now + ``at`` on the stack's clock) to
    ``/v1/events``; fails unless intake answers 202. Returns the event sent."""
    event = envelope.cloudevent(
        id=f"{patient}-{n}",
        type=etype,
        source="urn:test:epr",
        subject=patient,
        time=stack.clock.now() + at,
        data=data,
    )
    r = httpx.post(f"{stack.intake_url}/v1/events", json=event, headers=auth.bearer(stack.token), timeout=15)
    assert r.status_code == 202, r.text
    return event
