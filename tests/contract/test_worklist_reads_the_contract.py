"""The worklist page reads every valid example of what it consumes (escalations, reminders,
acknowledgements, clinical events), shows what the escalation says, and offers exactly the roles intake
accepts."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from carepath import contracts, topics
from carepath.resources import schemas_dir
from intake.routes.acknowledgements import Role
from worklist import roles
from worklist.view import View

pytestmark = pytest.mark.contract
EXAMPLES = schemas_dir() / "examples"
TOPIC_OF = {
    "carepath.escalation.raised.v1": topics.ESCALATIONS,
    "carepath.escalation.updated.v1": topics.ESCALATIONS,
    "carepath.escalation.resolved.v1": topics.ESCALATIONS,
    "carepath.reminder.due.v1": topics.REMINDERS,
    "carepath.reminder.overdue.v1": topics.REMINDERS,
    "carepath.escalation.acknowledged.v1": topics.ACKNOWLEDGEMENTS,
}
READ = sorted((contracts.INPUT_TYPES | contracts.OUTPUT_TYPES) - {"carepath.expectation.audited.v1"})


def examples() -> list[tuple[str, Path]]:
    return [(t, f) for t in READ for f in sorted((EXAMPLES / t / "valid").glob("*.json"))]


@pytest.mark.parametrize(("etype", "path"), examples(), ids=lambda x: getattr(x, "name", x))
def test_the_page_reads_every_example_it_consumes(etype: str, path: Path) -> None:
    raw = path.read_bytes()
    record = json.loads(raw)
    view = View()
    change = view.apply(TOPIC_OF.get(etype, topics.CLINICAL_EVENTS), raw)
    assert change is not None, f"{path.name} changed nothing"
    assert view.timeline(record["subject"]), "nothing on the patient's timeline"
    if etype.startswith("carepath.escalation.") and etype != "carepath.escalation.acknowledged.v1":
        alert = view.alert(record["data"]["escalation_id"])
        assert alert is not None
        x, d = alert.explanation, record["data"]
        assert (x.summary, x.severity, x.rule_id, x.source) == (
            d["reason"],
            d["severity"],
            d["rule"]["id"],
            d["source"],
        )
        assert x.pathway_version == d["pathway"]["version"]
        assert [a.deadline for a in x.actions] == [a["deadline"] for a in d["actions"]]
        assert len(x.facts) == len(d["evidence"])


def test_the_page_offers_exactly_the_roles_intake_accepts() -> None:
    assert set(roles.roles()) == set(typing.get_args(Role))
