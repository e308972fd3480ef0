"""The result of mapping one resource: a carepath CloudEvent, and where each of its fields came from.

``origins`` lets a contract error on the event (``/data/nrs``) be reported at the FHIR element that
supplied the value (``Observation.valueInteger``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from carepath import envelope
from intake.fhir.issues import Issue
from intake.fhir.node import Node
from intake.fhir.reading import event_id, source


@dataclass(frozen=True)
class Mapped:
    event: dict[str, Any]
    origins: Mapping[str, Node]
    root: Node
    # Parts of the resource carepath did not read (a component or row whose code it does not know): the
    # event holds the rest. Each issue names the element and the code; ``unread_codes`` are the
    # (system, code) pairs, for parking and the unmapped-codes count.
    unread: tuple[Issue, ...] = ()
    unread_codes: tuple[tuple[str, str], ...] = field(default=())

    @property
    def id(self) -> str:
        return str(self.event["id"])

    def locate(self, pointer: str) -> Node:
        """The FHIR element behind an event field (the longest known prefix of ``pointer``)."""
        best, best_len = self.root, -1
        for prefix, node in self.origins.items():
            if (pointer == prefix or pointer.startswith(prefix + "/")) and len(prefix) > best_len:
                best, best_len = node, len(prefix)
        return best


def build(
    *,
    event_type: str,
    patient: str,
    time: datetime,
    data: dict[str, Any],
    origins: dict[str, Node],
    root: Node,
) -> Mapped:
    event = envelope.cloudevent(
        id=event_id(root), type=event_type, source=source(root), subject=patient, time=time, data=data
    )
    return Mapped(event, origins, root)


def with_unread(mapped: Mapped, issues: list[Issue], codes: tuple[tuple[str, str], ...]) -> Mapped:
    """``mapped`` noting the parts of its resource that were not read."""
    if not issues:
        return mapped
    return replace(mapped, unread=(*mapped.unread, *issues), unread_codes=(*mapped.unread_codes, *codes))
