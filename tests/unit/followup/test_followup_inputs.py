"""``parse_input`` reads what the follow-up service consumes and names the field it cannot read."""

from __future__ import annotations

from typing import Any

import pytest

from followup.core import InputError, Tick, parse_input
from tests.unit.followup.followup_timeline import acknowledgement, at, escalation, imaging, pain

pytestmark = pytest.mark.unit


def test_reads_clinical_escalation_and_acknowledgement_events() -> None:
    for cloudevent in (pain(at(0)), escalation("R1"), acknowledgement(at(0), "esc-R1-1")):
        item = parse_input(cloudevent)
        assert item.id == cloudevent["id"]
        assert item.patient_id == cloudevent["subject"]
        assert item.time == at(0)
    assert parse_input(escalation("R1", kind="resolved")).kind == "escalation_resolved"
    assert Tick() == Tick()


def test_an_update_that_closes_the_escalation_is_a_resolution() -> None:
    update = escalation("R1", kind="updated", revision=2)
    update["data"]["status"] = "resolved"
    assert parse_input(update).kind == "escalation_resolved"


def broken(cloudevent: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    target: Any = cloudevent
    *parents, last = path.strip("/").split("/")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return cloudevent


@pytest.mark.parametrize(
    ("cloudevent", "path", "value", "message"),
    [
        (pain(at(0)), "/time", "2025-03-03T09:00:00", "/time: .* no UTC offset"),
        (pain(at(0)), "/time", "yesterday", "/time: .* not an RFC 3339"),
        (pain(at(0)), "/subject", "", "/subject"),
        (pain(at(0)), "/id", ..., "/id"),
        (pain(at(0)), "/type", "carepath.reminder.due.v1", "/type"),
        (pain(at(0)), "/data", [], "/data"),
        (imaging(at(0)), "/data/modality", 3, "/data/modality"),
        (imaging(at(0)), "/data/findings", {"code": "x"}, "/data/findings"),
        (escalation("R1"), "/data/escalation_id", ..., "/data/escalation_id"),
        (escalation("R1"), "/data/severity", "high", "/data/severity"),
        (escalation("R1"), "/data/rule", "R1", "/data/rule/id"),
        (escalation("R1"), "/data/evidence/0/time", "soon", "/data/evidence/0/time"),
        (acknowledgement(at(0), "x"), "/data/target_id", ..., "/data/target_id"),
        (acknowledgement(at(0), "x"), "/data/override", "yes", "/data/override"),
    ],
)
def test_names_the_field_it_cannot_read(
    cloudevent: dict[str, Any], path: str, value: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse_input(broken(cloudevent, path, value))


def test_a_non_object_is_refused() -> None:
    with pytest.raises(InputError):
        parse_input([])  # type: ignore[arg-type]
