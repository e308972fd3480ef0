"""Patient -> carepath.diagnosis.recorded.v1 with the date of birth (the resource itself is the patient)."""

from __future__ import annotations

import re

from intake.fhir import reading
from intake.fhir.context import Context
from intake.fhir.issues import REQUIRED
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

DIAGNOSIS = "carepath.diagnosis.recorded.v1"
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def map_patient(root: Node, ctx: Context) -> Mapped:
    rid = root.get("id")
    if rid is None:
        raise root.field("id").fail(
            "required: the Patient's id is the patient id every other resource refers to", REQUIRED
        )
    birth = root.require("birthDate", "carepath reads the date of birth from a Patient")
    if not _FULL_DATE.match(str(birth.value)):
        raise birth.fail(f"{birth.value!r}: a full date of birth (YYYY-MM-DD) is needed")
    # When it was recorded (meta.lastUpdated), else the birth itself: never the arrival time, so a
    # resent Patient maps to the same event and is recognised as a duplicate.
    updated = root.field("meta").get("lastUpdated")
    when = reading.instant(updated) if updated is not None else reading.instant(birth, date_allowed=True)
    origins = {"/subject": rid, "/data/birth_date": birth, "/time": updated or birth}
    return build(
        event_type=DIAGNOSIS,
        patient=str(rid.value),
        time=when,
        data={"birth_date": birth.value},
        origins=origins,
        root=root,
    )
