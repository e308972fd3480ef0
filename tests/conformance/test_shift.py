"""Moving a timeline to another day, and giving it another patient, changes nothing it says.

The running-stack replay (``stack_replay.py``) plays moved and renamed copies of the corpus; these tests
show that a copy is the same timeline: every timestamp moved by the same whole days in the sender's own
form, and the reference replay gives the copy exactly what it gives the original.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conformance import loader, shift
from tests.conformance.replay import replay
from tests.conformance.stack_replay import START_DAY, copies, published

pytestmark = pytest.mark.contract

LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("text", "days", "zone", "moved"),
    [
        ("20250713091500", 180, LONDON, "20260109081500"),  # BST 09:15 = 08:15Z -> GMT 08:15 local
        ("20250310093000-0500", 1, CHICAGO, "20250311093000-0500"),
        ("20250308093000-0600", 2, CHICAGO, "20250310103000-0500"),  # across the spring change: same instant
        ("19660830", 400, CHICAGO, "19671004"),  # a birth date moves by whole days
        ("202501130900", 1, LONDON, "202501140900"),  # minutes precision kept
        ("20250113090000.1234+0000", 1, LONDON, "20250114090000.1234+0000"),
        ("not a time", 3, LONDON, "not a time"),
    ],
)
def test_an_hl7_time_moves_by_whole_days_in_its_own_form(
    text: str, days: int, zone: ZoneInfo, moved: str
) -> None:
    assert shift.shift_hl7_time(text, timedelta(days=days), zone) == moved


@pytest.mark.parametrize(
    ("text", "moved"),
    [
        ("2025-01-13T09:00:00Z", "2025-01-15T09:00:00Z"),
        ("2025-03-08T09:30:00-06:00", "2025-03-10T10:30:00-05:00"),
        ("2025-03-08T09:30-06:00", "2025-03-10T10:30-05:00"),
        ("2024-11-02", "2024-11-04"),
        ("2024-11", "2024-11"),
    ],
)
def test_a_fhir_time_moves_by_whole_days_in_its_own_form(text: str, moved: str) -> None:
    assert shift.shift_fhir_time(text, timedelta(days=2), CHICAGO) == moved


def test_only_time_fields_move_never_an_identifier_or_a_code() -> None:
    message = "\r".join(
        [
            "MSH|^~\\&|A|B|C|D|20250113090000||ORU^R01^ORU_R01|20250113090000|P|2.4",
            "PID|1||9990001758^^^NHS^NH~NGH1000001^^^NGH^MR||X^Y||19500101|F",
            "OBR|1|||24725-4^CT Head^LN|||20250113083000",
            "OBX|1|DT|onset^Onset^99NGH||20250110||||||F|||20250113083000",
            "OBX|2|CWE|75325-1^Symptom^LN||26544005^Muscle weakness^SCT||||||F",
            "DG1|1||72042002^Something^SCT||20250112",
        ]
    )
    moved = shift.shift_hl7(message, timedelta(days=1), LONDON).split("\r")
    assert moved[0].split("|")[6] == "20250114090000" and moved[0].split("|")[9] == "20250113090000"
    assert moved[1] == "PID|1||9990001758^^^NHS^NH~NGH1000001^^^NGH^MR||X^Y||19500102|F"
    assert moved[2].endswith("|20250114083000")
    assert moved[3].split("|")[5] == "20250111" and moved[3].endswith("|20250114083000")
    assert moved[4].split("|")[5] == "26544005^Muscle weakness^SCT"
    assert moved[5] == "DG1|1||72042002^Something^SCT||20250113"


TIMELINES = loader.load_all()


@pytest.mark.parametrize("timeline", TIMELINES, ids=[t.id for t in TIMELINES])
def test_a_moved_and_renamed_copy_gives_what_the_original_gives(timeline: loader.Timeline) -> None:
    originals = {ch: asyncio.run(replay(timeline, ch)) for ch in ("fhir", "hl7")}
    for c in copies([timeline], ["fhir", "hl7"]):
        assert c.timeline.start.date() == START_DAY
        assert c.timeline.start.timetz() == timeline.start.timetz()
        run = asyncio.run(replay(c.timeline, c.channel))
        assert run.refusals == [] and run.failures == [], c.channel
        c.outputs = [type(o)(o.kind, o.at - c.delta, o.event) for o in run.outputs]
        reference = copies([timeline], [c.channel])[0]
        reference.outputs = originals[c.channel].outputs
        assert published(c) == published(reference), c.channel
    if timeline.patient["id"]:
        renamed = copies([timeline], ["fhir", "hl7"])[1].timeline
        assert renamed.patient["id"] == f"{timeline.patient['id']}H"
        assert all(timeline.patient["id"] + "H" in (s.hl7 or s.fhir_text) for s in renamed.steps)


def test_the_common_start_day_is_a_day_without_a_clock_change_near_it() -> None:
    for zone in (LONDON, CHICAGO):
        day = datetime(START_DAY.year, START_DAY.month, START_DAY.day, 12, tzinfo=UTC)
        offsets = {(day + timedelta(days=d)).astimezone(zone).utcoffset() for d in range(-7, 40)}
        assert len(offsets) == 1, zone
