"""Writes the conformance timelines (``timelines/*.yaml``) from the scenario definitions below.

    python -m tests.conformance.compose          # rewrite every timeline file

The YAML files are the corpus; this module keeps them consistent when a scenario changes. Each scenario
is a patient seen through the hospital's feeds: steps at offsets from the start, each step as the FHIR
resource the hospital posts and the HL7 v2 message its engine sends for the same event, and what carepath
must (and must not) raise. Expected timings follow pathways/mscc/redflags.yaml and followup.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.conformance import sites as s
from tests.conformance.sites import NGH, RMC, Ctx, Message, Person

HERE = Path(__file__).parent
OUT = HERE / "timelines"

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
SLACK = 5 * M  # processing allowance added to every "by" offset


def iso(td: timedelta) -> str:
    """ISO 8601 duration without years or months (PT0S, PT1H30M, P3D, P2DT4H)."""
    total = int(td.total_seconds())
    if total == 0:
        return "PT0S"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    time = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{seconds}S" if seconds else "")
    )
    return out + ("T" + time if time else "")


@dataclass
class Step:
    at: timedelta
    msg: Message
    note: str | None = None
    duplicate_of: int | None = None


@dataclass
class Scenario:
    key: str
    title: str
    site: s.Site
    person: Person
    start: datetime
    summary: str
    tags: list[str] = field(default_factory=list)
    control: bool = False
    steps: list[Step] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[dict[str, Any]] = field(default_factory=list)
    forbidden_escalations: list[str] = field(default_factory=list)
    forbidden_reminders: list[dict[str, Any]] = field(default_factory=list)

    def ctx(self) -> Ctx:
        return Ctx(self.site, self.person, self.start, self.key)

    def add(self, at: timedelta, msg: Message, note: str | None = None) -> int:
        self.steps.append(Step(at, msg, note))
        return len(self.steps) - 1

    def again(self, at: timedelta, index: int, note: str) -> None:
        """A duplicate delivery of step `index`: same MSH-10, same FHIR id and meta.versionId."""
        self.steps.append(Step(at, self.steps[index].msg, note, duplicate_of=index))

    def esc(self, rule: str, severity: str, by: timedelta, count: int | None = None) -> None:
        entry: dict[str, Any] = {"rule": rule, "severity": severity, "by": iso(by + SLACK)}
        if count is not None:
            entry["count"] = count
        self.escalations.append(entry)

    def rem(self, expectation: str, kind: str, by: timedelta) -> None:
        self.reminders.append({"expectation": expectation, "kind": kind, "by": iso(by + SLACK)})

    def never(self, *rules: str) -> None:
        self.forbidden_escalations.extend(rules)

    def never_rem(self, expectation: str, kind: str | None = None) -> None:
        entry: dict[str, Any] = {"expectation": expectation}
        if kind:
            entry["kind"] = kind
        self.forbidden_reminders.append(entry)


ALL_RULES = ["R1", "R2", "R3", "R4", "R5", "R6a", "R6b", "R6c", "R7", "R8", "R9", "R10", "R11", "R12", "R13"]


def ngh_person(n: int, family: str, given: str, born: str, sex: str) -> Person:
    return Person(
        mrn=f"NGH{1000000 + n}",
        family=family,
        given=given,
        birth_date=born,
        sex=sex,
        nhs_number=s.nhs_number(n),
        address=(f"{n} Mill Lane", "Northgate", "NG4 7TR"),
    )


def rmc_person(n: int, family: str, given: str, born: str, sex: str) -> Person:
    return Person(
        mrn=f"RMC{2000000 + n}",
        family=family,
        given=given,
        birth_date=born,
        sex=sex,
        address=(f"{100 + n} Levee Street", "Riverbend", "62701"),
    )


WINTER = datetime(2025, 1, 13, 9, 0, tzinfo=UTC)
SPRING = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
SUMMER = datetime(2025, 7, 7, 8, 15, tzinfo=UTC)  # British Summer Time / US CDT
AUTUMN = datetime(2025, 10, 6, 16, 45, tzinfo=UTC)


SCENARIOS: list[Callable[[], Scenario]] = []


def scenario(fn: Callable[[], Scenario]) -> Callable[[], Scenario]:
    SCENARIOS.append(fn)
    return fn


def ack(sc: Scenario, c: Ctx, at: timedelta, rule: str, who: str = "acute oncology registrar") -> None:
    sc.add(
        at,
        s.communication(
            c, at, "escalation-acknowledgement", f"Seen by {who}; acting on it.", escalation=rule
        ),
    )


def coordinator(
    sc: Scenario, c: Ctx, at: timedelta, text: str = "Discussed with the MSCC coordinator by phone."
) -> None:
    sc.add(at, s.communication(c, at, "mscc-coordinator-contact", text))


# ---------------------------------------------------------------------------------------------------------
# R1 - suspected MSCC


@scenario
def ngh_r1_prostate_weakness_all_in_time() -> Scenario:
    sc = Scenario(
        "ngh-01",
        "Prostate cancer, new bilateral leg weakness: every R1 step done in time, MRI excludes MSCC",
        NGH,
        ngh_person(1, "Ashworth", "Derek", "1952-06-11", "male"),
        WINTER,
        "Known prostate cancer; nurse records new leg weakness. Coordinator contacted, dexamethasone given, "
        "whole-spine MRI reports no cord compression (negated wording; the phrase 'no evidence of cord compression' itself runs across two TX lines), "
        "dexamethasone stopped the next morning.",
        tags=["R1", "F1", "F2", "F3", "F6", "A1", "negation", "hl7-v2.4", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "prostate", onset="2021-09-01", recorded=-700 * D))
    sc.add(
        1 * H,
        s.pain(
            c,
            1 * H,
            5,
            "lumbar",
            {"onset": "2025-01-10", "new_episode": True},
            note="Aching low back pain for three days.",
        ),
    )
    sc.add(
        1 * H + 10 * M,
        s.symptom(
            c,
            1 * H + 10 * M,
            "weakness",
            "Both legs feel weak since this morning, new",
            site="lower_limb",
            status="new",
            severity="moderate",
        ),
    )
    sc.esc("R1", "emergency", 1 * H + 10 * M)
    ack(sc, c, 1 * H + 20 * M, "R1")
    coordinator(sc, c, 1 * H + 40 * M)
    sc.add(2 * H + 30 * M, s.med_admin(c, 2 * H + 30 * M, "dex_inj", 16, "mg", "IV"))
    sc.add(
        10 * H,
        s.imaging(
            c,
            10 * H,
            "mr_spine",
            "Sagittal T1 and STIR of the whole spine with axial T2 through the lumbar spine. Multilevel "
            "degenerative change with disc bulges at L4/5 and L5/S1. There is no evidence of cord compression "
            "or of cauda equina compression at any level. No marrow signal abnormality to suggest metastatic "
            "disease.",
            "No evidence of metastatic spinal cord compression. Degenerative lumbar spine.",
            tx_width=64,
        ),
    )
    sc.add(
        14 * H, s.med_request(c, 14 * H, "dex_inj", "Stop dexamethasone", 16, "mg", "IV", status="stopped")
    )
    sc.never("R8", "R9", "R3")
    for f in ("F1", "F2", "F3", "F6"):
        sc.never_rem(f, "overdue")
    sc.never_rem("F3", "warning")
    sc.never_rem("A1", "overdue")
    return sc


@scenario
def ngh_r1_saddle_retention_nothing_done() -> Scenario:
    sc = Scenario(
        "ngh-02",
        "Breast cancer in remission, saddle numbness and urinary retention: R1 and R3, every step late",
        NGH,
        ngh_person(2, "Pennington", "Margaret", "1959-02-23", "female"),
        WINTER + 2 * D,
        "Saddle anaesthesia arrives as numbness with a perineal body site; urinary retention as an encounter "
        "diagnosis (ADT^A08 DG1). No coordinator contact, no dexamethasone, no acknowledgement; the MRI comes "
        "after 20 hours and shows cauda equina compression.",
        tags=["R1", "R3", "R8", "F1", "F2", "F3", "A1", "saddle-anaesthesia", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        10 * M, s.condition(c, 10 * M, "breast", clinical="remission", onset="2016-05-01", recorded=-3000 * D)
    )
    sc.add(
        1 * H,
        s.symptom(
            c,
            1 * H,
            "numbness",
            "Numb between the legs when wiping, started yesterday",
            site="perineum",
            status="new",
        ),
    )
    sc.add(
        1 * H + 15 * M, s.condition(c, 1 * H + 15 * M, "retention", category="encounter-diagnosis", via="DG1")
    )
    sc.esc("R1", "emergency", 1 * H)
    sc.esc("R3", "emergency", 1 * H + 15 * M)
    sc.rem("A1", "overdue", 1 * H + 15 * M)
    sc.rem("F1", "overdue", 2 * H)
    sc.rem("F2", "overdue", 5 * H)
    sc.rem("F3", "warning", 13 * H)
    sc.add(
        20 * H,
        s.imaging(
            c,
            20 * H,
            "mr_spine",
            "Whole spine MRI. Large central disc extrusion at L4/5 with severe canal stenosis and compression "
            "of the cauda equina. No vertebral metastasis identified. Conus normal.",
            "Cauda equina compression at L4/5 from disc extrusion.",
        ),
    )
    sc.esc("R8", "emergency", 20 * H)
    sc.never_rem("F3", "overdue")
    return sc


@scenario
def rmc_r1_lung_radicular_hedged() -> Scenario:
    sc = Scenario(
        "rmc-01",
        "Lung cancer, worsening radicular thoracic pain; hedged MRI 'possible early cord compression'",
        RMC,
        rmc_person(1, "Delgado", "Ramon", "1966-08-30", "male"),
        SPRING,
        "R1 from radicular pain alone, R8 from a preliminary MRI whose hedged wording continues across TX "
        "lines; radiotherapy decided and started within 24 h; pain response assessed at day 22.",
        tags=["R1", "R8", "R12", "F1", "F2", "F3", "F7", "F10", "F11", "A1", "hedged", "hl7-v2.5.1", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(3 * M, s.condition(c, 3 * M, "lung", onset="2024-11-02", recorded=-120 * D))
    sc.add(
        30 * M,
        s.pain(
            c,
            30 * M,
            8,
            "thoracic",
            {"onset": "2025-02-24", "radicular": True, "progressive": True, "night_pain": True},
            note="Band-like pain around the chest at T7, shooting, getting worse over two weeks.",
        ),
    )
    sc.esc("R1", "emergency", 30 * M)
    sc.esc("R12", "urgent", 30 * M)
    ack(sc, c, 40 * M, "R1", "hospitalist")
    coordinator(sc, c, 55 * M)
    sc.add(1 * H + 20 * M, s.med_admin(c, 1 * H + 20 * M, "dex_inj_4", 16, "mg", "IV"))
    sc.add(
        1 * H + 30 * M,
        s.med_request(c, 1 * H + 30 * M, "hydromorphone_2", "2 mg PO every 4 hours as needed", 2, "mg", "PO"),
    )
    sc.add(
        5 * H,
        s.imaging(
            c,
            5 * H,
            "mr_spine",
            "Whole spine MRI, preliminary read. Enhancing lesion in the T7 vertebral body with epidural extension "
            "posteriorly, effacing the ventral CSF. Findings represent possible early cord compression at T7. "
            "No other level of concern.",
            "Possible early cord compression at T7 from vertebral metastasis.",
            status="preliminary",
            conclusion_codes=["bone_mets"],
            tx_width=63,
        ),
    )
    sc.esc("R8", "emergency", 5 * H)
    ack(sc, c, 5 * H + 10 * M, "R8", "radiation oncology")
    sc.add(
        7 * H,
        s.task(
            c,
            7 * H,
            "decision-to-treat",
            decision="radiotherapy",
            note="MDT: palliative radiotherapy 20 Gy in 5 fractions to T6-T8.",
        ),
    )
    sc.add(
        20 * H,
        s.procedure(
            c,
            20 * H,
            "radiotherapy",
            "Palliative radiotherapy T6-T8, fraction 1 of 5",
            status="in-progress",
            body_site="thoracic",
        ),
    )
    sc.add(
        1 * D + 10 * H,
        s.pain(
            c,
            1 * D + 10 * H,
            6,
            "thoracic",
            {"radicular": True},
            note="Pain a little better on hydromorphone.",
        ),
    )
    sc.add(22 * D, s.pain(c, 22 * D, 2, "thoracic", {}, note="Radiotherapy review: pain much improved."))
    for f in ("F1", "F2", "F3", "F7", "F10", "F11"):
        sc.never_rem(f, "overdue")
    sc.never_rem("F11", "warning")
    return sc


@scenario
def rmc_r8_cannot_exclude_presented_form() -> Scenario:
    sc = Scenario(
        "rmc-02",
        "Myeloma: CT report text only in presentedForm, 'cannot exclude cord compression'; radiotherapy late",
        RMC,
        rmc_person(2, "Whitfield", "Loretta", "1954-01-17", "female"),
        SPRING + 3 * D,
        "The radiology system sends the report only as a base64 attachment (no conclusion element). "
        "Hedged wording raises R8. Radiotherapy is decided but not started within 24 hours.",
        tags=["R8", "F3", "F7", "hedged", "presentedForm-only", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "myeloma", onset="2022-03-01", recorded=-1000 * D))
    sc.add(
        2 * H,
        s.imaging(
            c,
            2 * H,
            "ct_spine",
            "CT of the whole spine (MRI contraindicated: pacemaker). Multiple lytic lesions throughout the "
            "thoracic and lumbar spine. Soft tissue at T11 extends into the canal; cord compression at T11 "
            "cannot be excluded on CT.",
            "Cannot exclude cord compression at T11. Widespread lytic myeloma deposits.",
            in_conclusion=False,
        ),
    )
    sc.esc("R8", "emergency", 2 * H)
    coordinator(sc, c, 2 * H + 20 * M)
    sc.add(3 * H, s.med_admin(c, 3 * H, "dex_tab_4", 16, "mg", "PO"))
    sc.add(
        6 * H,
        s.task(
            c, 6 * H, "decision-to-treat", decision="radiotherapy", note="Urgent radiotherapy to T10-T12."
        ),
    )
    sc.rem("F7", "overdue", 30 * H)
    sc.never("R7")
    sc.never_rem("F3", "overdue")
    return sc


@scenario
def rmc_r1_walking_surgery() -> Scenario:
    sc = Scenario(
        "rmc-03",
        "Prostate cancer in remission, worsening difficulty walking; decompression surgery decided",
        RMC,
        rmc_person(3, "Okafor", "Emmanuel", "1946-12-02", "male"),
        AUTUMN,
        "R1 from difficulty walking (worsening). All steps in time; the decision for surgery closes R1; "
        "the decompression is sent with a local procedure code and text only.",
        tags=["R1", "F1", "F2", "F3", "A1", "decision-to-treat", "text-only-procedure", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        2 * M, s.condition(c, 2 * M, "prostate", clinical="remission", onset="2018-04-01", recorded=-2400 * D)
    )
    sc.add(
        20 * M,
        s.symptom(
            c,
            20 * M,
            "walking",
            "Unsteady, needs a frame since Saturday, getting worse",
            site="lower_limb",
            status="worsening",
        ),
    )
    sc.esc("R1", "emergency", 20 * M)
    ack(sc, c, 30 * M, "R1")
    coordinator(sc, c, 50 * M)
    sc.add(2 * H, s.med_request(c, 2 * H, "dex_tab_4", "16 mg PO daily", 16, "mg", "PO"))
    sc.add(2 * H + 30 * M, s.med_admin(c, 2 * H + 30 * M, "dex_tab_4", 16, "mg", "PO"))
    sc.add(
        9 * H,
        s.imaging(
            c,
            9 * H,
            "mr_spine",
            "MRI whole spine. Metastatic deposit in L1 with retropulsion and compression of the conus medullaris. "
            "Further deposits at T9 and L4 without canal compromise.",
            "Conus compression at L1. Spinal metastases T9, L1, L4.",
            conclusion_codes=["bone_mets"],
        ),
    )
    sc.esc("R8", "emergency", 9 * H)
    sc.add(
        12 * H,
        s.task(
            c,
            12 * H,
            "decision-to-treat",
            decision="surgery",
            note="Spinal surgeons: posterior decompression and stabilisation T12-L2.",
        ),
    )
    sc.add(
        1 * D + 6 * H,
        s.procedure(
            c,
            1 * D + 6 * H,
            None,
            "Posterior decompression and instrumented fixation T12-L2",
            local_code="SPDECOMP01",
            body_site="lumbar",
        ),
    )
    for f in ("F1", "F2", "F3"):
        sc.never_rem(f, "overdue")
    sc.never_rem("F7")
    return sc


@scenario
def ngh_late_cancer_diagnosis() -> Scenario:
    sc = Scenario(
        "ngh-03",
        "Out-of-order: leg weakness first, the prostate cancer diagnosis arrives three hours later",
        NGH,
        ngh_person(3, "Greaves", "Colin", "1956-03-14", "male"),
        WINTER + 9 * D,
        "The symptom arrives before the cancer it makes significant (the problem list is back-loaded from "
        "the oncology system). R1 must be raised when the diagnosis arrives, with its deadlines counted from "
        "the symptom, so F1 is already overdue when R1 is raised. R4 was raised at presentation (age over 50, "
        "new back pain, no cancer known then) and is not closed by the later cancer.",
        tags=["R1", "R4", "F1", "F2", "F3", "A1", "out-of-order", "late-arrival", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(20 * M, s.pain(c, 20 * M, 5, "lumbar", {"onset": "2025-01-18", "new_episode": True}))
    sc.add(
        25 * M,
        s.symptom(
            c,
            25 * M,
            "weakness",
            "Right leg giving way on stairs, new this week",
            site="lower_limb",
            status="new",
            severity="moderate",
        ),
    )
    sc.esc("R4", "routine", 20 * M)
    sc.add(
        3 * H + 25 * M,
        s.condition(
            c,
            3 * H + 25 * M,
            "prostate",
            onset="2023-02-01",
            recorded=-700 * D,
            note="Imported from the regional oncology system.",
        ),
    )
    sc.esc("R1", "emergency", 3 * H + 25 * M)
    sc.rem("F1", "overdue", 3 * H + 25 * M)
    sc.rem("A1", "overdue", 3 * H + 40 * M)
    sc.rem("F2", "overdue", 4 * H + 25 * M)
    sc.rem("F3", "warning", 12 * H + 25 * M)
    sc.rem("F3", "overdue", 24 * H + 25 * M)
    sc.never("R3")
    return sc


@scenario
def ngh_r10_unstable_neuro_nothing_done() -> Scenario:
    sc = Scenario(
        "ngh-04",
        "Lung cancer, SINS 14 with new weakness: R10 emergency; no surgical opinion, no MRI",
        NGH,
        ngh_person(4, "Fairclough", "Janet", "1961-10-09", "female"),
        SPRING + 5 * D,
        "CT shows a lytic T12 metastasis; SINS 14 (unstable) with weakness reported two days earlier. No "
        "spinal surgical opinion (F9 overdue) and no whole-spine MRI (F3 warning then overdue).",
        tags=["R1", "R9", "R10", "R11", "F3", "F9", "sins", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "lung", onset="2024-06-01", recorded=-280 * D))
    sc.add(
        30 * M,
        s.symptom(
            c,
            30 * M,
            "weakness",
            "Legs weaker over two days",
            site="lower_limb",
            status="worsening",
            record_time=30 * M,
        ),
    )
    sc.esc("R1", "emergency", 30 * M)
    sc.add(
        2 * D,
        s.imaging(
            c,
            2 * D,
            "ct_thoracic",
            "CT thoracic spine. Lytic destructive lesion of the T12 vertebral body and left pedicle with 30 "
            "percent loss of height. No retropulsion. Appearances in keeping with metastasis.",
            "Lytic T12 metastasis with partial collapse.",
            conclusion_codes=["bone_mets"],
        ),
    )
    sc.esc("R9", "urgent", 2 * D)
    sc.esc("R11", "emergency", 2 * D)
    sc.add(
        2 * D + 1 * H,
        s.sins(
            c,
            2 * D + 1 * H,
            14,
            "Location junctional T12 3; mechanical pain 3; lytic 2; alignment normal 0; "
            "collapse under 50 percent 2; posterolateral unilateral 1 (plus pain 3) = 14",
        ),
    )
    sc.esc("R10", "emergency", 2 * D + 1 * H)
    sc.rem("F9", "overdue", 3 * D + 1 * H)
    sc.rem("F3", "warning", 12 * H + 30 * M)
    sc.rem("F3", "overdue", 24 * H + 30 * M)
    return sc


# ---------------------------------------------------------------------------------------------------------
# R2 - suspected spinal metastases


@scenario
def ngh_r2_thoracic_night_pain_mri_clear() -> Scenario:
    sc = Scenario(
        "ngh-05",
        "Breast cancer history, thoracic night pain: R2; coordinator in time; MRI clear (negated)",
        NGH,
        ngh_person(5, "Holloway", "Susan", "1965-07-21", "female"),
        SUMMER,
        "British Summer Time: HL7 timestamps are local (UTC+1) without offset, FHIR carries +01:00. The "
        "whole-spine MRI finds no metastasis and no compression, which closes R2 and cancels F5.",
        tags=["R2", "F4", "F5", "A1", "negation", "bst", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        5 * M, s.condition(c, 5 * M, "breast", clinical="remission", onset="2019-01-15", recorded=-2000 * D)
    )
    sc.add(
        1 * H,
        s.pain(
            c,
            1 * H,
            5,
            "thoracic",
            {"onset": "2025-06-20", "night_pain": True, "spinal_tenderness": True},
            note="Wakes at night with mid-back pain, tender over T6.",
        ),
    )
    sc.esc("R2", "urgent", 1 * H)
    ack(sc, c, 2 * H, "R2", "oncology nurse specialist")
    coordinator(sc, c, 6 * H)
    sc.add(
        3 * D,
        s.imaging(
            c,
            3 * D,
            "mr_spine",
            "MRI whole spine. Normal vertebral marrow signal throughout. No evidence of metastatic disease, "
            "no epidural disease and no evidence of cord compression. Small Schmorl node at T8.",
            "No evidence of spinal metastases or cord compression.",
        ),
    )
    sc.never("R1", "R8", "R9")
    sc.never_rem("F4", "overdue")
    sc.never_rem("F5")
    sc.never_rem("A1", "overdue")
    return sc


@scenario
def rmc_r2_cervical_nothing_done() -> Scenario:
    sc = Scenario(
        "rmc-04",
        "Prostate cancer, mechanical neck pain: R2 urgent; no contact, no MRI, no acknowledgement",
        RMC,
        rmc_person(4, "Brennan", "Walter", "1959-04-04", "male"),
        WINTER + 1 * D,
        "Nothing is done: A1 (urgent, 4 h), F4 (24 h), F5 warning (day 5) and overdue (day 7) all fire.",
        tags=["R2", "F4", "F5", "A1", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "prostate", onset="2023-09-01", recorded=-500 * D))
    sc.add(
        1 * H,
        s.pain(
            c,
            1 * H,
            4,
            "cervical",
            {"mechanical": True, "onset": "2025-01-05"},
            note="Neck pain worse on turning, 2 weeks.",
        ),
    )
    sc.esc("R2", "urgent", 1 * H)
    sc.rem("A1", "overdue", 5 * H)
    sc.rem("F4", "overdue", 25 * H)
    sc.rem("F5", "warning", 5 * D + 1 * H)
    sc.rem("F5", "overdue", 7 * D + 1 * H)
    sc.never("R1")
    return sc


@scenario
def rmc_r2_mets_plan_in_time() -> Scenario:
    sc = Scenario(
        "rmc-05",
        "Breast cancer, progressive thoracic pain: MRI shows metastases without compression; plan in time",
        RMC,
        rmc_person(5, "Nakamura", "Helen", "1963-11-28", "female"),
        SUMMER + 2 * D,
        "R2, then R9 from the MRI; SINS 5 raises nothing; the plan (decision to treat, systemic therapy and "
        "denosumab) satisfies F5. No compression, so no F7.",
        tags=["R2", "R9", "F4", "F5", "sins-stable", "denosumab", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "breast", onset="2023-03-10", recorded=-800 * D))
    sc.add(2 * H, s.pain(c, 2 * H, 4, "thoracic", {"progressive": True, "onset": "2025-06-01"}))
    sc.esc("R2", "urgent", 2 * H)
    coordinator(sc, c, 5 * H)
    sc.add(
        2 * D,
        s.imaging(
            c,
            2 * D,
            "mr_spine",
            "MRI whole spine. Metastases in the T4 and T9 vertebral bodies. No epidural extension and no cord "
            "compression. Vertebral heights maintained.",
            "Vertebral metastases T4 and T9 without cord compression.",
            conclusion_codes=["bone_mets"],
        ),
    )
    sc.esc("R9", "urgent", 2 * D)
    sc.add(
        2 * D + 2 * H,
        s.sins(
            c,
            2 * D + 2 * H,
            5,
            "Location 1; pain 1; lesion mixed 1; alignment 0; collapse 0; posterolateral 0 (+2 pain) = 5",
        ),
    )
    sc.add(
        3 * D,
        s.task(
            c,
            3 * D,
            "decision-to-treat",
            decision="systemic",
            note="Breast MDT: change endocrine therapy, start denosumab.",
        ),
    )
    sc.add(
        3 * D + 1 * H, s.med_request(c, 3 * D + 1 * H, "xgeva", "120 mg SC every 4 weeks", 120, "mg", "SC")
    )
    sc.never("R1", "R8", "R10")
    sc.never_rem("F4", "overdue")
    sc.never_rem("F5")
    sc.never_rem("F7")
    return sc


@scenario
def rmc_r2_duplicate_pain_report() -> Scenario:
    sc = Scenario(
        "rmc-06",
        "Duplicate deliveries: the same pain report sent twice on both channels raises R2 once",
        RMC,
        rmc_person(6, "Castellano", "Rosa", "1958-05-19", "female"),
        AUTUMN + 4 * D,
        "The interface engine resends the pain assessment after a timeout: same MSH-10 and the same FHIR id "
        "with the same meta.versionId. Exactly one R2 escalation.",
        tags=["R2", "duplicate", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "lung", clinical="remission", onset="2020-02-01", recorded=-1800 * D))
    first = sc.add(
        1 * H,
        s.pain(
            c,
            1 * H,
            5,
            "lumbar",
            {"worse_on_straining": True, "night_pain": True},
            note="Worse when coughing.",
        ),
    )
    sc.again(1 * H + 2 * M, first, "resent by the interface engine (same MSH-10, same id and versionId)")
    sc.esc("R2", "urgent", 1 * H, count=1)
    coordinator(sc, c, 3 * H)
    return sc


@scenario
def ngh_r2_bundle_bst_ack_override() -> Scenario:
    sc = Scenario(
        "ngh-06",
        "Lung cancer, cervical pain in summer; R2 acknowledged with override by the oncologist",
        NGH,
        ngh_person(6, "Morrow", "Alan", "1960-09-01", "male"),
        SUMMER + 10 * D,
        "The oncologist disagrees (known cervical spondylosis) and acknowledges R2 with an override, which "
        "cancels F4 and F5. Local times in BST.",
        tags=["R2", "A1", "override", "bst", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "lung", onset="2024-10-01", recorded=-270 * D))
    sc.add(
        40 * M,
        s.pain(
            c,
            40 * M,
            3,
            "cervical",
            {"onset": "2025-06-01"},
            note="Long-standing neck stiffness, known spondylosis.",
        ),
    )
    sc.esc("R2", "urgent", 40 * M)
    sc.add(
        1 * H + 30 * M,
        s.communication(
            c,
            1 * H + 30 * M,
            "escalation-acknowledgement",
            "Override: long-standing cervical spondylosis on previous MRI, unchanged; reviewed in clinic.",
            escalation="R2",
            override=True,
        ),
    )
    sc.never_rem("F4")
    sc.never_rem("F5")
    sc.never_rem("A1", "overdue")
    return sc


# ---------------------------------------------------------------------------------------------------------
# R3 - cauda equina


@scenario
def ngh_r3_no_cancer_mri_clear() -> Scenario:
    sc = Scenario(
        "ngh-07",
        "No cancer: saddle numbness and urinary retention; R3 only; lumbar MRI excludes compression",
        NGH,
        ngh_person(7, "Bhatt", "Ravi", "1984-02-02", "male"),
        AUTUMN + 1 * D,
        "R3 is for any patient. With no cancer there is no R1. A final lumbar MRI with negated wording closes R3.",
        tags=["R3", "A1", "negation", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(15 * M, s.pain(c, 15 * M, 6, "lumbar", {"onset": "2025-10-01", "new_episode": True}))
    sc.add(
        30 * M,
        s.symptom(
            c,
            30 * M,
            "numbness",
            "Reduced sensation in the saddle area since last night",
            site="perineum",
            status="new",
        ),
    )
    sc.add(35 * M, s.condition(c, 35 * M, "retention", category="encounter-diagnosis", via="DG1"))
    sc.esc("R3", "emergency", 30 * M)
    ack(sc, c, 40 * M, "R3", "emergency department registrar")
    sc.add(
        3 * H,
        s.imaging(
            c,
            3 * H,
            "mr_lumbar",
            "MRI lumbar spine. Small broad-based disc bulge at L5/S1 without nerve root compression. The cauda "
            "equina nerve roots are normal. No evidence of cauda equina compression.",
            "No cauda equina compression.",
        ),
    )
    sc.never("R1", "R2", "R8")
    sc.never_rem("A1", "overdue")
    return sc


@scenario
def rmc_r3_severe_weakness_faecal() -> Scenario:
    sc = Scenario(
        "rmc-07",
        "No cancer: severe bilateral leg weakness and faecal incontinence; R3 unacknowledged",
        RMC,
        rmc_person(7, "Harlow", "Brianna", "1990-03-12", "female"),
        WINTER + 20 * D,
        "Severe leg weakness and new faecal incontinence (encounter diagnosis). Nobody acknowledges: A1 "
        "overdue after 15 minutes.",
        tags=["R3", "A1", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        10 * M,
        s.symptom(
            c,
            10 * M,
            "weakness",
            "Cannot stand, both legs very weak",
            site="lower_limb",
            status="new",
            severity="severe",
        ),
    )
    sc.add(15 * M, s.condition(c, 15 * M, "faecal_incontinence", category="encounter-diagnosis", via="DG1"))
    sc.esc("R3", "emergency", 10 * M)
    sc.rem("A1", "overdue", 25 * M)
    sc.never("R1", "R2")
    return sc


# ---------------------------------------------------------------------------------------------------------
# R4 / R13 / R5 / R7 - no known cancer


@scenario
def ngh_r4_routine_reassessed() -> Scenario:
    sc = Scenario(
        "ngh-08",
        "Age 56, new mechanical low back pain, no cancer: R4 routine; reassessed at week 3.5",
        NGH,
        ngh_person(8, "Yardley", "Philip", "1968-05-30", "male"),
        WINTER + 5 * D,
        "One weak factor (age over 50 with new back pain): routine R4 opens F13; the GP review after day 21 "
        "satisfies it.",
        tags=["R4", "F13", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        30 * M,
        s.pain(
            c,
            30 * M,
            4,
            "lumbar",
            {"onset": "2025-01-08", "new_episode": True, "mechanical": True},
            note="Lifting injury in the garden.",
        ),
    )
    sc.esc("R4", "routine", 30 * M)
    ack(sc, c, 4 * H, "R4", "GP")
    sc.add(
        24 * D,
        s.task(
            c,
            24 * D,
            "clinician-review",
            business_status="non-specific-back-pain",
            note="GP review: pain settling with physiotherapy.",
        ),
    )
    sc.never("R1", "R2", "R3", "R7")
    sc.never_rem("F13", "overdue")
    return sc


@scenario
def rmc_r4_routine_not_reassessed() -> Scenario:
    sc = Scenario(
        "rmc-08",
        "Age 54, new back pain, no cancer: R4 routine never acknowledged or reassessed",
        RMC,
        rmc_person(8, "Lindqvist", "Karen", "1970-09-14", "female"),
        SPRING + 12 * D,
        "A1 routine overdue at 72 h; F13 overdue at 4 weeks.",
        tags=["R4", "F13", "A1", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(1 * H, s.pain(c, 1 * H, 3, "lumbar", {"onset": "2025-03-17", "new_episode": True}))
    sc.esc("R4", "routine", 1 * H)
    sc.rem("A1", "overdue", 73 * H)
    sc.rem("F13", "overdue", 28 * D + 1 * H)
    sc.never("R1", "R2", "R3")
    return sc


@scenario
def rmc_r4_urgent_two_factors() -> Scenario:
    sc = Scenario(
        "rmc-09",
        "Age 47, night pain and weight loss, no cancer: R4 urgent (two factors), no F13",
        RMC,
        rmc_person(9, "Adeyemi", "Tunde", "1978-01-25", "male"),
        AUTUMN + 8 * D,
        "Two weak factors ask for investigation, not a conservative trial: urgent R4 and no F13.",
        tags=["R4", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(55 * M, s.symptom(c, 55 * M, "weight_loss", "Lost 6 kg in two months without trying", status=None))
    sc.add(
        1 * H,
        s.pain(c, 1 * H, 5, "lumbar", {"night_pain": True, "onset": "2025-09-20"}, note="Wakes him at 3 am."),
    )
    sc.esc("R4", "urgent", 1 * H)
    sc.never("R1", "R2")
    sc.never_rem("F13")
    return sc


@scenario
def rmc_r13_raised_alp_crp() -> Scenario:
    sc = Scenario(
        "rmc-10",
        "Age 44, back pain with raised ALP and CRP (lab flags and ranges): R13 and R4 routine",
        RMC,
        rmc_person(10, "Moreau", "Celine", "1981-06-06", "female"),
        WINTER + 30 * D,
        "Raised markers count by the laboratory's reference range (OBX-7) and flag (OBX-8). R13 routine; the "
        "raised markers are one weak factor for R4.",
        tags=["R13", "R4", "labs", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(30 * M, s.pain(c, 30 * M, 4, "lumbar", {"onset": "2025-01-30"}))
    sc.add(
        6 * H,
        s.lab_panel(
            c,
            6 * H,
            [("alp", 212, "U/L", "35-105", "H"), ("crp", 18, "mg/L", "0-5", "H")],
            panel=("INFL", "ALP and CRP"),
        ),
    )
    sc.esc("R13", "routine", 6 * H)
    sc.esc("R4", "routine", 6 * H)
    sc.never("R1", "R2", "R5")
    return sc


@scenario
def ngh_r13_esr_bundle() -> Scenario:
    sc = Scenario(
        "ngh-09",
        "Age 39, back pain, raised ESR sent in a transaction Bundle with a normal CRP",
        NGH,
        ngh_person(9, "Kowalski", "Ewa", "1986-04-18", "female"),
        SPRING + 20 * D,
        "R13 from the ESR above the laboratory's range; CRP within range alone would raise nothing.",
        tags=["R13", "R4", "labs", "bundle", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(20 * M, s.pain(c, 20 * M, 3, "lumbar", {"onset": "2025-03-25"}))
    sc.add(
        1 * D,
        s.lab_panel(
            c,
            1 * D,
            [("esr", 48, "mm/h", "1-20", "H"), ("crp", 4, "mg/L", "0-5", "N")],
            panel=("ESRCRP", "ESR and CRP"),
        ),
    )
    sc.esc("R13", "routine", 1 * D)
    sc.esc("R4", "routine", 1 * D)
    sc.never("R1", "R2", "R3", "R5")
    return sc


@scenario
def rmc_r5_ivdu_fever_degf() -> Scenario:
    sc = Scenario(
        "rmc-11",
        "Intravenous drug use, back pain and fever 101.8 [degF]: R5 spinal infection",
        RMC,
        rmc_person(11, "Pruitt", "Dale", "1987-02-08", "male"),
        SPRING + 25 * D,
        "Temperature in Fahrenheit (UCUM [degF]); fever also recorded as a symptom. IV drug use is a "
        "problem-list Condition. Fever is also one weak factor for R4; NRS 7 raises R12.",
        tags=["R5", "R4", "R12", "unit-degF", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "ivdu", onset="2019-01-01", recorded=-900 * D))
    sc.add(30 * M, s.pain(c, 30 * M, 7, "lumbar", {"onset": "2025-03-29", "spinal_tenderness": True}))
    sc.add(
        35 * M,
        s.lab_panel(
            c,
            35 * M,
            [("temperature", 101.8, "[degF]", "97.0-99.5", "H")],
            panel=("VITALS", "Vital signs"),
            collected=35 * M,
        ),
    )
    sc.add(36 * M, s.symptom(c, 36 * M, "fever", "Fevers and rigors for two days", status="new"))
    sc.esc("R5", "urgent", 36 * M)
    sc.esc("R4", "routine", 36 * M)
    sc.esc("R12", "routine", 30 * M)
    sc.never("R1", "R2")
    return sc


@scenario
def ngh_r5_hiv_fever_cel() -> Scenario:
    sc = Scenario(
        "ngh-10",
        "HIV infection, back pain and fever 38.6 Cel: R5; clinician review judges it non-specific",
        NGH,
        ngh_person(10, "Mensah", "Kofi", "1980-12-12", "male"),
        AUTUMN + 12 * D,
        "Immunosuppression arrives as an HIV Condition (the site overlay reads it as immunosuppression). "
        "A clinician review with a non-specific conclusion closes R5.",
        tags=["R5", "R4", "unit-Cel", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "hiv", onset="2012-01-01", recorded=-4000 * D))
    sc.add(40 * M, s.pain(c, 40 * M, 5, "lumbar", {"onset": "2025-10-14"}))
    sc.add(
        45 * M,
        s.lab_panel(
            c,
            45 * M,
            [("temperature", 38.6, "Cel", "36.0-37.5", "H")],
            panel=("OBS", "Observations"),
            collected=45 * M,
        ),
    )
    sc.add(46 * M, s.symptom(c, 46 * M, "fever", "Feverish and shivery", status="new"))
    sc.esc("R5", "urgent", 46 * M)
    sc.esc("R4", "routine", 46 * M)
    sc.add(
        6 * H,
        s.task(
            c,
            6 * H,
            "clinician-review",
            business_status="non-specific-back-pain",
            note="Viral illness with myalgia; CD4 normal; no spinal tenderness.",
        ),
    )
    sc.never("R1", "R2", "R3")
    return sc


@scenario
def rmc_r7_myeloma_screen_paraprotein() -> Scenario:
    sc = Scenario(
        "rmc-12",
        "Age 67, back pain for five weeks, no cancer: R7 screen, urgent once a paraprotein is found",
        RMC,
        rmc_person(12, "Gallagher", "Maureen", "1957-10-03", "female"),
        WINTER + 40 * D,
        "Persistent pain (onset five weeks earlier) raises R7 routine and R4; serum protein electrophoresis "
        "finds a paraprotein (detected above 0 g/L) and the ESR is high: R7 becomes urgent, R13 raised.",
        tags=["R7", "R4", "R13", "labs", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        30 * M, s.pain(c, 30 * M, 4, "lumbar", {"onset": "2025-01-17"}, note="Aching back for five weeks.")
    )
    sc.esc("R7", "routine", 30 * M)
    sc.esc("R4", "routine", 30 * M)
    sc.add(
        2 * D,
        s.lab_panel(
            c,
            2 * D,
            [("paraprotein", 6.2, "g/L", None, "H"), ("esr", 68, "mm/h", "0-30", "H")],
            panel=("MYEL", "Myeloma screen"),
        ),
    )
    sc.esc("R7", "urgent", 2 * D)
    sc.esc("R13", "routine", 2 * D)
    sc.esc("R4", "urgent", 2 * D)
    sc.never("R1", "R2")
    return sc


# ---------------------------------------------------------------------------------------------------------
# R6 - hypercalcaemia


@scenario
def rmc_r6a_mgdl_gdl_recheck() -> Scenario:
    sc = Scenario(
        "rmc-13",
        "Breast cancer, calcium 14.8 mg/dL with albumin 3.2 g/dL: R6a; zoledronic acid; recheck at 30 h",
        RMC,
        rmc_person(13, "Sorensen", "Ingrid", "1956-02-29", "female"),
        SPRING + 2 * D,
        "Adjusted calcium = 14.8/4.008 + 0.02 x (40 - 32) = 3.85 mmol/L: severe. Calcium and albumin in the "
        "same sample, US units. Zoledronic acid given opens F14; the recheck after 24 h satisfies it.",
        tags=["R6a", "F14", "unit-mg/dL", "unit-g/dL", "bundle", "zoledronic-acid", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "breast", onset="2022-08-01", recorded=-900 * D))
    sc.add(
        3 * H,
        s.lab_panel(
            c,
            3 * H,
            [("calcium_mg", 14.8, "mg/dL", "8.6-10.3", "HH"), ("albumin", 3.2, "g/dL", "3.5-5.0", "L")],
        ),
    )
    sc.esc("R6a", "emergency", 3 * H)
    ack(sc, c, 3 * H + 10 * M, "R6a", "hospitalist")
    sc.add(5 * H, s.med_admin(c, 5 * H, "zoledronic_4", 4, "mg", "IV"))
    sc.add(
        35 * H,
        s.lab_panel(
            c,
            35 * H,
            [("calcium_mg", 11.2, "mg/dL", "8.6-10.3", "H"), ("albumin", 3.2, "g/dL", "3.5-5.0", "L")],
        ),
    )
    sc.never_rem("F14", "overdue")
    sc.never_rem("A1", "overdue")
    return sc


@scenario
def ngh_r6a_symptomatic_confusion() -> Scenario:
    sc = Scenario(
        "ngh-11",
        "Prostate cancer, adjusted calcium 2.76 with confusion: symptomatic R6a; no recheck",
        NGH,
        ngh_person(11, "Whitmore", "Geoffrey", "1950-01-30", "male"),
        WINTER + 15 * D,
        "Confusion arrives as an encounter diagnosis (DG1). Calcium 2.72 mmol/L, albumin 38 g/L: adjusted "
        "2.76, raised, with confusion: severe. Zoledronic acid is given but calcium is never rechecked.",
        tags=["R6a", "F14", "unit-mmol/L", "unit-g/L", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "prostate", onset="2020-05-01", recorded=-1700 * D))
    sc.add(1 * H, s.condition(c, 1 * H, "confusion", category="encounter-diagnosis", via="DG1"))
    sc.add(
        2 * H,
        s.lab_panel(
            c,
            2 * H,
            [("calcium_mmol", 2.72, "mmol/L", "2.20-2.60", "H"), ("albumin", 38, "g/L", "35-50", None)],
        ),
    )
    sc.esc("R6a", "emergency", 2 * H)
    sc.add(4 * H, s.med_admin(c, 4 * H, "zoledronic", 4, "mg", "IV"))
    sc.rem("F14", "overdue", 52 * H)
    return sc


@scenario
def ngh_r6b_duplicate_result() -> Scenario:
    sc = Scenario(
        "ngh-12",
        "Lung cancer, adjusted calcium 3.25 (mmol/L, g/L): R6b once despite a duplicate result message",
        NGH,
        ngh_person(12, "Drummond", "Fiona", "1962-03-03", "female"),
        AUTUMN + 20 * D,
        "Calcium 3.05 mmol/L with albumin 30 g/L: adjusted 3.25, moderate. The laboratory system resends the "
        "same result (same MSH-10; same Bundle and Observation ids and versionId).",
        tags=["R6b", "duplicate", "unit-mmol/L", "unit-g/L", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "lung", onset="2024-01-01", recorded=-600 * D))
    first = sc.add(
        2 * H,
        s.lab_panel(
            c,
            2 * H,
            [("calcium_mmol", 3.05, "mmol/L", "2.20-2.60", "H"), ("albumin", 30, "g/L", "35-50", "L")],
        ),
    )
    sc.again(2 * H + 30 * M, first, "resent by the laboratory system (same MSH-10, same ids and versionId)")
    sc.esc("R6b", "urgent", 2 * H, count=1)
    sc.never("R6a", "R6c")
    return sc


@scenario
def rmc_r6c_mild() -> Scenario:
    sc = Scenario(
        "rmc-14",
        "Prostate cancer, calcium 10.6 mg/dL with albumin 4.0 g/dL: R6c mild only",
        RMC,
        rmc_person(14, "Whitaker", "Lyle", "1955-07-07", "male"),
        SUMMER + 14 * D,
        "Adjusted calcium 10.6/4.008 = 2.64 mmol/L (albumin 40 g/L needs no adjustment): mild.",
        tags=["R6c", "unit-mg/dL", "unit-g/dL", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "prostate", onset="2021-01-01", recorded=-1500 * D))
    sc.add(
        3 * H,
        s.lab_panel(
            c,
            3 * H,
            [("calcium_mg", 10.6, "mg/dL", "8.6-10.3", "H"), ("albumin", 4.0, "g/dL", "3.5-5.0", None)],
        ),
    )
    sc.esc("R6c", "routine", 3 * H)
    sc.never("R6a", "R6b")
    return sc


# ---------------------------------------------------------------------------------------------------------
# R9 / R10 / R11 - imaging


@scenario
def ngh_r9_bone_scan() -> Scenario:
    sc = Scenario(
        "ngh-13",
        "Prostate cancer, isotope bone scan shows new vertebral metastases: R9",
        NGH,
        ngh_person(13, "Ormerod", "Keith", "1949-11-11", "male"),
        SPRING + 1 * D,
        "A nuclear medicine report (no compression can be seen on a bone scan): R9 urgent, acknowledged.",
        tags=["R9", "A1", "bone-scan", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "prostate", onset="2024-02-01", recorded=-400 * D))
    sc.add(
        4 * H,
        s.imaging(
            c,
            4 * H,
            "nm_bone",
            "Whole body bone scintigraphy. Focal intense uptake in the T10 and L2 vertebral bodies and the right "
            "sixth rib, new since the staging scan, in keeping with metastases.",
            "New bone metastases T10, L2 and right sixth rib.",
            conclusion_codes=["bone_mets"],
        ),
    )
    sc.esc("R9", "urgent", 4 * H)
    ack(sc, c, 5 * H, "R9", "urology nurse specialist")
    sc.never("R8", "R11")
    sc.never_rem("A1", "overdue")
    return sc


@scenario
def rmc_r10_unstable_opinion_in_time() -> Scenario:
    sc = Scenario(
        "rmc-15",
        "Lung cancer, CT lytic T8 metastasis, SINS 13: R10 urgent; spinal surgical opinion in time",
        RMC,
        rmc_person(15, "Vasquez", "Miguel", "1964-09-09", "male"),
        AUTUMN + 2 * D,
        "Unstable spine without neurological signs or collapse: urgent. The spinal surgeons' opinion at 12 h "
        "satisfies F9.",
        tags=["R9", "R10", "F9", "sins", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "lung", onset="2025-05-01", recorded=-150 * D))
    sc.add(
        2 * H,
        s.imaging(
            c,
            2 * H,
            "ct_thoracic",
            "CT thoracic spine. Lytic lesion of the T8 vertebral body involving both pedicles. Alignment "
            "maintained. No vertebral collapse.",
            "Lytic T8 metastasis, bilateral posterior element involvement.",
            conclusion_codes=["bone_mets"],
        ),
    )
    sc.esc("R9", "urgent", 2 * H)
    sc.add(
        3 * H,
        s.sins(
            c,
            3 * H,
            13,
            "Location 2; pain mechanical 3; lytic 2; alignment 0; no collapse but >50% body involved 1; bilateral posterolateral 3; (+2) = 13",
        ),
    )
    sc.esc("R10", "urgent", 3 * H)
    sc.add(
        15 * H,
        s.task(
            c,
            15 * H,
            "spinal-surgical-opinion",
            note="Spinal surgery: brace, for posterior stabilisation next list.",
        ),
    )
    sc.never("R8", "R11")
    sc.never_rem("F9", "overdue")
    return sc


@scenario
def rmc_r11_osteoporotic_collapse_vertebroplasty() -> Scenario:
    sc = Scenario(
        "rmc-16",
        "Age 78, no cancer, X-ray wedge fracture 'pathological fracture cannot be excluded': R11, R7",
        RMC,
        rmc_person(16, "Dunmore", "Edith", "1946-08-19", "female"),
        WINTER + 50 * D,
        "R11 applies to every patient; a fracture at 60 or over also raises the myeloma screen (R7). "
        "Surgical opinion in time, then vertebroplasty (SNOMED CT procedure).",
        tags=["R11", "R7", "F9", "xray", "hedged", "vertebroplasty", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(20 * M, s.pain(c, 20 * M, 6, "lumbar", {"onset": "2025-02-28"}, note="Sudden pain bending down."))
    sc.add(
        3 * H,
        s.imaging(
            c,
            3 * H,
            "xr_lumbar",
            "Lumbar spine two views. Wedge compression fracture of L1 with about 40 percent loss of anterior "
            "height. Diffuse osteopenia. An underlying pathological fracture cannot be excluded.",
            "L1 wedge compression fracture; pathological fracture cannot be excluded.",
            conclusion_codes=["path_fracture"],
        ),
    )
    sc.esc("R4", "routine", 20 * M)
    sc.esc("R11", "urgent", 3 * H)
    sc.esc("R7", "routine", 3 * H)
    sc.add(
        20 * H,
        s.task(c, 20 * H, "spinal-surgical-opinion", note="Stable fracture; suitable for vertebroplasty."),
    )
    sc.add(
        3 * D, s.procedure(c, 3 * D, "vertebroplasty", "Percutaneous vertebroplasty L1", body_site="lumbar")
    )
    sc.never("R1", "R8")
    sc.never_rem("F9", "overdue")
    return sc


@scenario
def ngh_r11_collapse_neuro_emergency() -> Scenario:
    sc = Scenario(
        "ngh-14",
        "Breast cancer, MRI pathological fracture with collapse after new weakness: R11 emergency",
        NGH,
        ngh_person(14, "Lockwood", "Patricia", "1958-12-24", "female"),
        AUTUMN + 15 * D,
        "Weakness reported two days before the MRI makes R11 an emergency. No surgical opinion follows "
        "(F9 overdue). Fentanyl patch started (SNOMED CT clinical drug), no pain review (F10 overdue).",
        tags=["R1", "R9", "R11", "F1", "F2", "F3", "F9", "F10", "fentanyl", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "breast", onset="2021-06-01", recorded=-1500 * D))
    sc.add(
        1 * H,
        s.symptom(
            c, 1 * H, "weakness", "Left leg weaker than last week", site="lower_limb", status="worsening"
        ),
    )
    sc.esc("R1", "emergency", 1 * H)
    sc.add(
        2 * D,
        s.imaging(
            c,
            2 * D,
            "mr_spine",
            "MRI whole spine. Pathological fracture of T12 with vertebral collapse of 60 percent. Mild "
            "retropulsion without cord compression. Further metastases at T5 and L3.",
            "Pathological T12 fracture with collapse; no cord compression.",
            conclusion_codes=["path_fracture", "bone_mets"],
        ),
    )
    sc.esc("R11", "emergency", 2 * D)
    sc.esc("R9", "urgent", 2 * D)
    sc.rem("F1", "overdue", 2 * H)
    sc.rem("F2", "overdue", 5 * H)
    sc.rem("F3", "warning", 13 * H)
    sc.rem("F3", "overdue", 25 * H)
    sc.add(
        2 * D + 2 * H,
        s.med_request(
            c,
            2 * D + 2 * H,
            "fentanyl_patch",
            "25 micrograms/hour patch every 72 hours",
            25,
            "ug/h",
            "Transdermal",
        ),
    )
    sc.rem("F9", "overdue", 3 * D)
    sc.rem("F10", "overdue", 5 * D + 2 * H)
    return sc


# ---------------------------------------------------------------------------------------------------------
# R12 - pain escalation, F10 opioid review


@scenario
def rmc_r12_rise_known_mets_oxycodone() -> Scenario:
    sc = Scenario(
        "rmc-17",
        "Known spinal metastases, NRS 3 to 6: R12 urgent; oxycodone started and reviewed in time",
        RMC,
        rmc_person(17, "Feldman", "Ruth", "1967-04-14", "female"),
        SPRING + 30 * D,
        "Known spinal metastases arrive as a Condition (secondary malignant neoplasm of bone) with a vertebral "
        "body site. A 3-point rise from baseline raises R12 at urgent severity. Oxycodone started; a pain "
        "report the next day satisfies F10.",
        tags=["R12", "F10", "oxycodone", "known-spinal-metastases", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "breast", onset="2021-01-01", recorded=-1500 * D))
    sc.add(
        6 * M,
        s.condition(c, 6 * M, "bone_mets", onset="2024-09-01", recorded=-200 * D, vertebral_site="lumbar"),
    )
    sc.add(1 * H, s.pain(c, 1 * H, 3, "lumbar", {}))
    sc.add(3 * D, s.pain(c, 3 * D, 6, "lumbar", {}, note="Pain worse over the weekend."))
    sc.esc("R12", "urgent", 3 * D)
    sc.add(
        3 * D + 1 * H,
        s.med_request(c, 3 * D + 1 * H, "oxycodone_5", "5 mg PO every 4 hours as needed", 5, "mg", "PO"),
    )
    sc.add(4 * D, s.pain(c, 4 * D, 3, "lumbar", {}, note="Settled on oxycodone; mild constipation."))
    sc.never_rem("F10", "overdue")
    return sc


@scenario
def ngh_r12_severe_no_cancer_morphine() -> Scenario:
    sc = Scenario(
        "ngh-15",
        "Age 33, no cancer, NRS 8 mechanical back pain: R12 routine; oral morphine, no review",
        NGH,
        ngh_person(15, "Quinn", "Declan", "1992-02-14", "male"),
        WINTER + 60 * D,
        "A first report can raise R12 by NRS 7 or more. Morphine oral solution is sent with the trust's "
        "formulary code and name only (no national code); nobody records a pain review within 72 h.",
        tags=["R12", "F10", "morphine", "formulary-only", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        30 * M,
        s.pain(c, 30 * M, 8, "lumbar", {"onset": "2025-03-12", "mechanical": True, "new_episode": True}),
    )
    sc.esc("R12", "routine", 30 * M)
    sc.add(
        1 * H,
        s.med_request(c, 1 * H, "morphine_oral", "5 mg (2.5 ml) every 4 hours when required", 5, "mg", "PO"),
    )
    sc.rem("F10", "overdue", 73 * H)
    sc.never("R1", "R2", "R3", "R4")
    return sc


@scenario
def rmc_r12_oxycontin_dose_change() -> Scenario:
    sc = Scenario(
        "rmc-18",
        "Myeloma, OxyContin dose increased (RDE^O11 XO): F10 reopens; no review",
        RMC,
        rmc_person(18, "Barros", "Antonio", "1951-05-05", "male"),
        SUMMER + 20 * D,
        "A change of dose of a strong opioid (order control XO, MedicationRequest version 2) opens F10; no "
        "pain report follows.",
        tags=["F10", "oxycontin", "dose-change", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "myeloma", onset="2023-01-01", recorded=-900 * D))
    sc.add(
        2 * H, s.med_request(c, 2 * H, "oxycontin_10", "10 mg PO every 12 hours", 10, "mg", "PO", change="XO")
    )
    sc.rem("F10", "overdue", 74 * H)
    sc.never("R7")
    return sc


@scenario
def rmc_morphine_er_reviewed() -> Scenario:
    sc = Scenario(
        "rmc-19",
        "Lung cancer, MS Contin-type morphine ER started: pain review within 72 h",
        RMC,
        rmc_person(19, "Ekwueme", "Grace", "1960-10-10", "female"),
        AUTUMN + 25 * D,
        "F10 satisfied by a nursing pain report two days after the start.",
        tags=["F10", "morphine", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "lung", onset="2024-12-01", recorded=-300 * D))
    sc.add(1 * H, s.med_request(c, 1 * H, "morphine_er_15", "15 mg PO every 12 hours", 15, "mg", "PO"))
    sc.add(2 * D, s.pain(c, 2 * D, 3, "lumbar", {}))
    sc.never_rem("F10", "overdue")
    return sc


# ---------------------------------------------------------------------------------------------------------
# F11 / F12 / F6 / F14 and friends


@scenario
def ngh_radiotherapy_no_response_assessment() -> Scenario:
    sc = Scenario(
        "ngh-16",
        "Palliative radiotherapy to a painful spinal metastasis; no pain assessment afterwards",
        NGH,
        ngh_person(16, "Ridley", "Norman", "1948-07-07", "male"),
        WINTER + 3 * D,
        "Radiotherapy start (Procedure in-progress / PR1) opens F11: warning at day 24, overdue at day 28.",
        tags=["F11", "radiotherapy", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "prostate", onset="2019-01-01", recorded=-2000 * D))
    sc.add(
        10 * M,
        s.condition(c, 10 * M, "bone_mets", onset="2024-11-01", recorded=-60 * D, vertebral_site="thoracic"),
    )
    sc.add(
        1 * D,
        s.procedure(
            c,
            1 * D,
            "radiotherapy",
            "Palliative radiotherapy 8 Gy single fraction to T9",
            status="in-progress",
            body_site="thoracic",
        ),
    )
    sc.rem("F11", "warning", 25 * D)
    sc.rem("F11", "overdue", 29 * D)
    return sc


@scenario
def rmc_f12_nonspecific_reviewed() -> Scenario:
    sc = Scenario(
        "rmc-20",
        "Breast cancer history, back pain judged non-specific; repeat review at day 10",
        RMC,
        rmc_person(20, "Olsen", "Tamara", "1976-03-30", "female"),
        SPRING + 40 * D,
        "A clinician review concluding non-specific back pain in a patient with cancer opens F12; the repeat "
        "review at day 10 satisfies it.",
        tags=["F12", "clinician-review", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        5 * M, s.condition(c, 5 * M, "breast", clinical="remission", onset="2015-01-01", recorded=-3500 * D)
    )
    sc.add(1 * H, s.pain(c, 1 * H, 2, "lumbar", {}))
    sc.add(
        2 * H,
        s.task(
            c,
            2 * H,
            "clinician-review",
            business_status="non-specific-back-pain",
            note="Muscular; no red flags on examination.",
        ),
    )
    sc.add(
        10 * D,
        s.task(c, 10 * D, "clinician-review", business_status="non-specific-back-pain", note="Resolved."),
    )
    sc.never_rem("F12", "overdue")
    return sc


@scenario
def ngh_f12_nonspecific_not_reviewed() -> Scenario:
    sc = Scenario(
        "ngh-17",
        "Lung cancer in remission, back pain judged non-specific; no repeat review",
        NGH,
        ngh_person(17, "Farrant", "Gillian", "1969-09-19", "female"),
        SUMMER + 30 * D,
        "F12 overdue at 14 days.",
        tags=["F12", "clinician-review", "nhs"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "lung", clinical="remission", onset="2018-01-01", recorded=-2400 * D))
    sc.add(
        1 * H,
        s.task(
            c,
            1 * H,
            "clinician-review",
            business_status="non-specific-back-pain",
            note="Postural back ache, no red flags.",
        ),
    )
    sc.rem("F12", "overdue", 14 * D + 1 * H)
    return sc


@scenario
def rmc_r1_dex_not_stopped() -> Scenario:
    sc = Scenario(
        "rmc-21",
        "Myeloma, new numbness of both feet; MRI excludes MSCC but dexamethasone is not stopped",
        RMC,
        rmc_person(21, "Kaminski", "Joseph", "1958-12-01", "male"),
        WINTER + 70 * D,
        "R1 from new numbness of the legs; dexamethasone 4 mg tablets given; a final whole-spine MRI excludes "
        "compression (closing R1); nobody stops the dexamethasone, so F6 is overdue after 24 h.",
        tags=["R1", "F6", "negation", "us"],
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(5 * M, s.condition(c, 5 * M, "myeloma", onset="2022-10-01", recorded=-800 * D))
    sc.add(
        40 * M,
        s.symptom(
            c, 40 * M, "numbness", "Tingling and numbness of both feet, new", site="lower_limb", status="new"
        ),
    )
    sc.esc("R1", "emergency", 40 * M)
    coordinator(sc, c, 1 * H)
    sc.add(1 * H + 30 * M, s.med_request(c, 1 * H + 30 * M, "dex_tab_4", "16 mg PO daily", 16, "mg", "PO"))
    sc.add(2 * H, s.med_admin(c, 2 * H, "dex_tab_4", 16, "mg", "PO"))
    sc.add(
        8 * H,
        s.imaging(
            c,
            8 * H,
            "mr_spine",
            "MRI whole spine. Diffuse heterogeneous marrow signal in keeping with known myeloma. No epidural "
            "disease. No evidence of cord or cauda equina compression.",
            "No cord compression.",
        ),
    )
    sc.rem("F6", "overdue", 32 * H)
    sc.never("R8")
    return sc


# ---------------------------------------------------------------------------------------------------------
# Controls: benign back pain that must raise nothing


def control(sc: Scenario) -> Scenario:
    sc.control = True
    sc.tags.append("control")
    sc.never(*ALL_RULES)
    return sc


@scenario
def ngh_control_young_mechanical_improving() -> Scenario:
    sc = control(
        Scenario(
            "ngh-c1",
            "Control: age 28, mechanical low back pain improving",
            NGH,
            ngh_person(21, "Abbott", "Chloe", "1997-05-05", "female"),
            WINTER + 11 * D,
            "Gym injury, mechanical, better a week later. No cancer, no red flags.",
            tags=["nhs"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        1 * H,
        s.pain(
            c,
            1 * H,
            4,
            "lumbar",
            {"onset": "2025-01-22", "new_episode": True, "mechanical": True},
            note="Strained back deadlifting.",
        ),
    )
    sc.add(7 * D, s.pain(c, 7 * D, 2, "lumbar", {"mechanical": True, "improving": True}, note="Much better."))
    return sc


@scenario
def rmc_control_muscle_strain() -> Scenario:
    sc = control(
        Scenario(
            "rmc-c1",
            "Control: age 34, lumbar muscle strain, pain falling from 5 to 1",
            RMC,
            rmc_person(31, "Kowalczyk", "Adam", "1991-01-21", "male"),
            SPRING + 5 * D,
            "A fall in pain never raises R12.",
            tags=["us"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        1 * H, s.pain(c, 1 * H, 5, "lumbar", {"onset": "2025-03-12", "mechanical": True, "new_episode": True})
    )
    sc.add(4 * D, s.pain(c, 4 * D, 1, "lumbar", {"mechanical": True, "improving": True}))
    return sc


@scenario
def ngh_control_normal_labs() -> Scenario:
    sc = control(
        Scenario(
            "ngh-c2",
            "Control: age 42, back pain with normal calcium, ALP, ESR and CRP",
            NGH,
            ngh_person(22, "Sinclair", "Moira", "1983-08-08", "female"),
            AUTUMN + 3 * D,
            "Results within the laboratory's ranges; calcium 2.35 mmol/L with albumin 42 g/L.",
            tags=["labs", "nhs"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(1 * H, s.pain(c, 1 * H, 3, "lumbar", {"onset": "2025-10-01"}))
    sc.add(
        1 * D,
        s.lab_panel(
            c,
            1 * D,
            [
                ("calcium_mmol", 2.35, "mmol/L", "2.20-2.60", "N"),
                ("albumin", 42, "g/L", "35-50", "N"),
                ("alp", 80, "U/L", "30-130", "N"),
                ("esr", 8, "mm/h", "1-20", "N"),
                ("crp", 3, "mg/L", "0-5", "N"),
            ],
            panel=("BONEINF", "Bone profile and inflammatory markers"),
        ),
    )
    return sc


@scenario
def rmc_control_normal_temperature() -> Scenario:
    sc = control(
        Scenario(
            "rmc-c2",
            "Control: age 29, back pain with a normal temperature 98.6 [degF]",
            RMC,
            rmc_person(32, "Tran", "Minh", "1996-04-04", "male"),
            SUMMER + 3 * D,
            "Normal temperature in Fahrenheit is not a fever.",
            tags=["unit-degF", "us"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(30 * M, s.pain(c, 30 * M, 3, "lumbar", {"onset": "2025-07-05", "mechanical": True}))
    sc.add(
        35 * M,
        s.lab_panel(
            c,
            35 * M,
            [("temperature", 98.6, "[degF]", "97.0-99.5", "N")],
            panel=("VITALS", "Vital signs"),
            collected=35 * M,
        ),
    )
    return sc


@scenario
def ngh_control_negated_mri() -> Scenario:
    sc = control(
        Scenario(
            "ngh-c3",
            "Control: age 38, lumbar MRI 'no evidence of cord compression or cauda equina compression'",
            NGH,
            ngh_person(23, "Pryce", "Gareth", "1987-10-31", "male"),
            SPRING + 15 * D,
            "Negated findings in the conclusion, the attachment and TX lines (split across lines) must not raise "
            "R8, R9 or R11.",
            tags=["negation", "nhs"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(20 * M, s.pain(c, 20 * M, 5, "lumbar", {"onset": "2025-03-01", "mechanical": True}))
    sc.add(
        5 * D,
        s.imaging(
            c,
            5 * D,
            "mr_lumbar",
            "MRI lumbar spine. Mild L4/5 disc desiccation with a small central protrusion. No evidence of cord "
            "compression or cauda equina compression. No suspicious marrow lesion. No fracture.",
            "No evidence of cord compression or cauda equina compression. Mild degenerative change.",
            tx_width=56,
        ),
    )
    return sc


@scenario
def rmc_control_negated_ct() -> Scenario:
    sc = control(
        Scenario(
            "rmc-c3",
            "Control: age 45, CT lumbar spine without fracture or metastatic lesion",
            RMC,
            rmc_person(33, "Bellamy", "Craig", "1980-02-20", "male"),
            WINTER + 80 * D,
            "'No fracture. No lytic or sclerotic lesion to suggest metastatic disease.'",
            tags=["negation", "us"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(1 * H, s.pain(c, 1 * H, 4, "lumbar", {"onset": "2025-03-28", "mechanical": True}))
    sc.add(
        6 * H,
        s.imaging(
            c,
            6 * H,
            "ct_lumbar",
            "CT lumbar spine after a fall from standing. No fracture. Vertebral body heights are preserved. No lytic "
            "or sclerotic lesion to suggest metastatic disease. Facet joint arthropathy at L4/5.",
            "No fracture and no evidence of metastatic disease.",
        ),
    )
    return sc


@scenario
def ngh_control_young_neck_pain() -> Scenario:
    sc = control(
        Scenario(
            "ngh-c4",
            "Control: age 31, mechanical neck pain after a long drive",
            NGH,
            ngh_person(24, "Harcourt", "Emily", "1994-06-15", "female"),
            SUMMER + 22 * D,
            "Cervical site is an R2 feature only with cancer.",
            tags=["bst", "nhs"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        1 * H,
        s.pain(c, 1 * H, 3, "cervical", {"onset": "2025-07-27", "mechanical": True, "new_episode": True}),
    )
    sc.add(3 * D, s.pain(c, 3 * D, 2, "cervical", {"mechanical": True, "improving": True}))
    return sc


@scenario
def rmc_control_pregnancy_back_pain() -> Scenario:
    sc = control(
        Scenario(
            "rmc-c4",
            "Control: age 30, low back pain in pregnancy",
            RMC,
            rmc_person(34, "Ferreira", "Ana", "1995-09-09", "female"),
            AUTUMN + 30 * D,
            "Stable moderate pain across two reports, no red flags.",
            tags=["us"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        1 * H,
        s.pain(c, 1 * H, 4, "lumbar", {"onset": "2025-10-20", "mechanical": True}, note="28 weeks pregnant."),
    )
    sc.add(7 * D, s.pain(c, 7 * D, 4, "lumbar", {"mechanical": True}, note="Physiotherapy started."))
    return sc


@scenario
def ngh_control_sciatica_young() -> Scenario:
    sc = control(
        Scenario(
            "ngh-c5",
            "Control: age 36, sciatica without neurological deficit or cancer",
            NGH,
            ngh_person(25, "Doyle", "Sean", "1989-03-17", "male"),
            WINTER + 25 * D,
            "Radicular pain is a neurological feature for R1 only in a person with cancer; without weakness, "
            "numbness or bladder/bowel symptoms nothing is raised.",
            tags=["nhs"],
        )
    )
    c = sc.ctx()
    sc.add(0 * H, s.patient(c, 0 * H))
    sc.add(
        1 * H,
        s.pain(
            c,
            1 * H,
            5,
            "lumbar",
            {"onset": "2025-02-01", "radicular": True, "new_episode": True},
            note="Shooting pain down the back of the left leg to the knee.",
        ),
    )
    sc.add(10 * D, s.pain(c, 10 * D, 3, "lumbar", {"radicular": True, "improving": True}))
    return sc


# ---------------------------------------------------------------------------------------------------------
# Writing the files


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def render(sc: Scenario) -> dict[str, Any]:
    p = sc.person
    patient: dict[str, Any] = {
        "id": p.mrn,
        "mrn": {"system": sc.site.mrn_system, "value": p.mrn, "hl7_assigning_authority": sc.site.code},
        "birth_date": p.birth_date,
        "sex": p.sex,
    }
    if p.nhs_number:
        patient["nhs_number"] = {"system": s.NHS_NUMBER, "value": p.nhs_number}
    steps: list[dict[str, Any]] = []
    for i, st in enumerate(sc.steps):
        entry: dict[str, Any] = {"at": iso(st.at), "description": st.msg.description}
        if st.note:
            entry["note"] = st.note
        if st.duplicate_of is not None:
            entry["duplicate_of"] = st.duplicate_of
        if st.msg.about:
            entry["about"] = st.msg.about
        entry["fhir"] = s.to_json(st.msg.fhir) + "\n"
        if st.msg.hl7 is None:
            entry["hl7"] = None
            entry["hl7_absent_reason"] = st.msg.hl7_absent_reason
        else:
            entry["hl7"] = "\n".join(st.msg.hl7) + "\n"
        steps.append(entry)
        assert i == len(steps) - 1
    expect: dict[str, Any] = {
        "escalations": sc.escalations,
        "reminders": sc.reminders,
        "forbidden": {
            "escalations": sorted(set(sc.forbidden_escalations), key=ALL_RULES.index),
            "reminders": sc.forbidden_reminders,
        },
    }
    return {
        "id": sc.key,
        "title": sc.title,
        "summary": sc.summary,
        "site": sc.site.code,
        "sender": {
            "organisation": sc.site.name,
            "style": "nhs" if sc.site.nhs else "us",
            "hl7_version": sc.site.hl7_version,
            "timezone": sc.site.timezone,
            "hl7_timestamps": "local time without offset" if sc.site.nhs else "local time with UTC offset",
        },
        "control": sc.control,
        "tags": sc.tags,
        "start": sc.start.isoformat().replace("+00:00", "Z"),
        "patient": patient,
        "steps": steps,
        "expect": expect,
    }


HEADER = (
    "# carepath conformance timeline: written as {org} sends it.\n"
    "# Each step is the FHIR R4 resource (JSON) and the equivalent HL7 v{ver} message; HL7 segments are\n"
    "# one per line here and are joined with carriage returns (\\r) by tests/conformance/loader.py.\n"
    "# Offsets (at, by) are ISO 8601 durations from `start`. See tests/conformance/README.md.\n"
)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].rstrip("-")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.yaml"):
        old.unlink()
    seen: set[str] = set()
    for make in SCENARIOS:
        sc = make()
        if sc.key in seen:
            raise SystemExit(f"duplicate timeline key {sc.key}")
        seen.add(sc.key)
        doc = render(sc)
        name = f"{sc.key}-{slug(sc.title)}.yaml"
        text = HEADER.format(org=sc.site.name, ver=sc.site.hl7_version) + yaml.dump(
            doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110
        )
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(seen)} timelines to {OUT}")


if __name__ == "__main__":
    main()
