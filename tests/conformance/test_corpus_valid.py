"""The conformance corpus is well formed: every timeline loads, every FHIR resource and HL7 v2 message
validates, and together they cover every red-flag rule and follow-up expectation of the pathway."""

from __future__ import annotations

import pytest

from tests.conformance.loader import Timeline, load_all, pathway_ids
from tests.conformance.validate import Report, check_timeline, coverage

pytestmark = pytest.mark.contract

TIMELINES = load_all()


@pytest.mark.parametrize("timeline", TIMELINES, ids=[t.id for t in TIMELINES])
def test_timeline_messages_are_valid(timeline: Timeline) -> None:
    report = Report()
    check_timeline(timeline, report)
    assert report.errors == []


def test_corpus_size_and_controls() -> None:
    assert len(TIMELINES) >= 40
    controls = [t for t in TIMELINES if t.control]
    assert len(controls) >= 8
    for t in controls:
        assert not t.escalations
        assert set(t.forbidden_escalations) >= pathway_ids()[0]


def test_every_rule_fires_somewhere() -> None:
    by_rule, _ = coverage(TIMELINES)
    assert [rule for rule, ids in by_rule.items() if not ids] == []


def test_every_expectation_is_exercised() -> None:
    _, by_exp = coverage(TIMELINES)
    missing = [
        exp for exp, kinds in by_exp.items() if not kinds.get("overdue") and not kinds.get("satisfied")
    ]
    assert missing == []
    assert "F8" not in by_exp


def test_both_senders_and_channels() -> None:
    sites = {t.site for t in TIMELINES}
    assert sites == {"NGH", "RMC"}
    assert {t.hl7_version for t in TIMELINES} == {"2.4", "2.5.1"}
    tags = {tag for t in TIMELINES for tag in t.tags}
    for needed in (
        "negation",
        "hedged",
        "duplicate",
        "out-of-order",
        "unit-mg/dL",
        "unit-mmol/L",
        "unit-g/dL",
        "unit-g/L",
        "unit-Cel",
        "unit-degF",
    ):
        assert needed in tags, needed
