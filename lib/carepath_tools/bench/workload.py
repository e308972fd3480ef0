"""Synthetic, realistic clinical events for the bench: deterministic for a seed and a base instant.

Each patient gets a short timeline ending before ``base``: usually a diagnosis first (about a third
with cancer), one or two pain reports (mostly benign: mechanical lumbar pain, plain back pain in a cancer
patient), and for some a calcium result (mmol/L or mg/dL) with an albumin, imaging, a treatment change
or a care step. A small share of the cancer patients report new neurological features (the MSCC red
flag, R1); some others have spinal-metastasis features (R2). Timelines are interleaved by event time, as
a hospital feed would deliver them. Every event is valid against the contract (a sample is checked).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from carepath import contracts, envelope

SOURCE = "urn:carepath:bench"
DIAGNOSIS = "carepath.diagnosis.recorded.v1"
PAIN = "carepath.pain.reported.v1"
LAB = "carepath.lab.resulted.v1"
IMAGING = "carepath.imaging.resulted.v1"
TREATMENT = "carepath.treatment.changed.v1"
CARE_STEP = "carepath.care_step.recorded.v1"

CANCER_SHARE = 0.35  # of patients
R1_SHARE = 0.06  # of cancer patients: new neurological features (MSCC suspected)
R2_SHARE = 0.20  # of cancer patients: spinal pain with metastasis features, no neurology
TIMELINE_WINDOW = timedelta(hours=6)  # every timeline ends within this window before ``base``

_PRIMARIES = (
    ("breast", 24),
    ("lung", 20),
    ("prostate", 20),
    ("kidney", 6),
    ("thyroid", 3),
    ("myeloma", 8),
    ("colorectal", 10),
    ("melanoma", 3),
    ("lymphoma", 3),
    ("unknown_primary", 2),
    ("other", 1),
)
_BENIGN_NRS = (2, 3, 4, 5, 6, 7)
_BENIGN_NRS_WEIGHTS = (10, 20, 25, 20, 15, 2)
_NEURO = (
    ["limb_weakness"],
    ["sensory_loss"],
    ["walking_difficulty", "limb_weakness"],
    ["limb_weakness", "sensory_loss"],
    ["bladder_dysfunction", "limb_weakness"],
)


@dataclass(frozen=True, slots=True)
class Event:
    key: bytes  # the patient id, as every topic is keyed
    value: bytes  # the encoded CloudEvent
    type: str


@dataclass
class Workload:
    events: list[Event]
    patients: int
    seed: int
    base: datetime
    red_flag_patients: int  # R1 timelines
    types: Counter[str]

    @property
    def mean_bytes(self) -> float:
        return sum(len(e.value) for e in self.events) / len(self.events) if self.events else 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "events": len(self.events),
            "patients": self.patients,
            "seed": self.seed,
            "base": envelope.iso(self.base),
            "r1_patients": self.red_flag_patients,
            "mean_event_bytes": round(self.mean_bytes, 1),
            "types": dict(sorted(self.types.items())),
        }


def body(events: Sequence[Event]) -> bytes:
    """A JSON array of the events, as one intake request (no re-encoding)."""
    return b"[" + b",".join(e.value for e in events) + b"]"


def generate(patients: int, seed: int, base: datetime, prefix: str = "bench-") -> Workload:
    """``patients`` timelines, interleaved by time; the same arguments always give the same bytes."""
    rng = random.Random(seed)
    timed: list[tuple[float, int, Event]] = []
    types: Counter[str] = Counter()
    red = 0
    base_ts = base.timestamp()
    for i in range(patients):
        patient = f"{prefix}{i:07d}"
        timeline, is_red = _timeline(rng, base)
        red += is_red
        end = base_ts - rng.random() * TIMELINE_WINDOW.total_seconds()
        gaps = [rng.uniform(300, 5400) for _ in timeline]
        t = end - sum(gaps[1:])
        for n, ((etype, data), gap) in enumerate(zip(timeline, gaps, strict=True)):
            if n:
                t += gap
            ce = envelope.cloudevent(
                id=f"{patient}-{n}",
                type=etype,
                source=SOURCE,
                subject=patient,
                time=datetime.fromtimestamp(t, UTC),
                data=data,
            )
            # orjson hands back a buffer of at least 4 KB whatever the length: copy to the right size, or
            # the workload alone would hold a gigabyte.
            value = bytes(memoryview(envelope.encode(ce)))
            timed.append((t, len(timed), Event(patient.encode(), value, etype)))
            types[etype] += 1
    timed.sort()
    return Workload([e for _, _, e in timed], patients, seed, base, red, types)


def validate_sample(events: Sequence[Event], size: int = 500) -> int:
    """Check an evenly spread sample against the contract; raises ValueError naming the first problem."""
    if not events:
        return 0
    step = max(1, len(events) // size)
    checked = 0
    for e in events[::step]:
        errors = contracts.validate_event(envelope.decode(e.value))
        if errors:
            raise ValueError(f"synthetic {e.type} event is invalid: {errors[0].describe()}")
        checked += 1
    return checked


# --- single patients for the paced phases -------------------------------------------------------------


def r1_pair(patient: str, when: datetime, rng: random.Random) -> list[dict[str, Any]]:
    """A cancer diagnosis, then a pain report with new neurological features: raises R1 (MSCC suspected)."""
    return [
        _ce(patient, 0, DIAGNOSIS, when - timedelta(milliseconds=1), _cancer_diagnosis(rng, when, "r1")),
        _ce(patient, 1, PAIN, when, _r1_pain(rng)),
    ]


def benign(patient: str, when: datetime, rng: random.Random) -> dict[str, Any]:
    """One event for a patient without cancer that raises nothing urgent (pain, lab or care step)."""
    pick = rng.random()
    if pick < 0.6:
        return _ce(patient, 0, PAIN, when, _benign_pain(rng, cancer=False))
    if pick < 0.85:
        return _ce(patient, 0, LAB, when, _calcium(rng))
    return _ce(
        patient, 0, CARE_STEP, when, {"step": "clinician_review", "conclusion": "non_specific_back_pain"}
    )


def _ce(patient: str, n: int, etype: str, when: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return envelope.cloudevent(
        id=f"{patient}-{n}", type=etype, source=SOURCE, subject=patient, time=when, data=data
    )


# --- timelines -------------------------------------------------------------------------------------------

Step = tuple[str, dict[str, Any]]


def _timeline(rng: random.Random, base: datetime) -> tuple[list[Step], bool]:
    cancer = rng.random() < CANCER_SHARE
    kind = "plain"
    if cancer:
        u = rng.random()
        kind = "r1" if u < R1_SHARE else "r2" if u < R1_SHARE + R2_SHARE else "plain"
    steps: list[Step] = []
    if cancer:
        steps.append((DIAGNOSIS, _cancer_diagnosis(rng, base, kind)))
    elif rng.random() < 0.6:
        steps.append((DIAGNOSIS, _other_diagnosis(rng, base)))

    if kind == "r1":
        steps.append((PAIN, _r1_pain(rng)))
    elif kind == "r2":
        steps.append((PAIN, _r2_pain(rng)))
    else:
        first = _benign_pain(rng, cancer)
        steps.append((PAIN, first))
        if rng.random() < 0.3:  # a follow-up report: about the same, often better
            again = dict(first, nrs=max(0, first["nrs"] - rng.choice((0, 1, 1, 2))), improving=True)
            steps.append((PAIN, again))

    extras: list[Step] = []
    if rng.random() < 0.2:
        extras.append((LAB, _calcium(rng)))
        if rng.random() < 0.7:
            extras.append((LAB, _albumin(rng)))
    if rng.random() < 0.05:
        extras.append((LAB, _inflammatory(rng)))
    if rng.random() < (0.2 if cancer else 0.04):
        extras.append((IMAGING, _imaging(rng, cancer)))
    if rng.random() < 0.12:
        extras.append((TREATMENT, _treatment(rng)))
    if rng.random() < 0.08:
        extras.append((CARE_STEP, _care_step(rng, cancer)))
    if kind == "r1":
        if rng.random() < 0.5:
            extras.append(
                (
                    TREATMENT,
                    {
                        "category": "corticosteroid",
                        "change": "started",
                        "agent": "dexamethasone",
                        "dose": {"value": 16, "unit": "mg/day"},
                    },
                )
            )
        if rng.random() < 0.5:
            extras.append((CARE_STEP, {"step": "mscc_coordinator_contacted", "role": "acute oncology"}))
    rng.shuffle(extras)
    return steps + extras, kind == "r1"


def _weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _age(
    rng: random.Random, base: datetime, data: dict[str, Any], low: int, high: int, mode: int | None = None
) -> None:
    age = round(rng.triangular(low, high, mode)) if mode is not None else rng.randint(low, high)
    if rng.random() < 0.5:
        data["age_years"] = age
    else:
        data["birth_date"] = f"{base.year - age - 1:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _cancer_diagnosis(rng: random.Random, base: datetime, kind: str) -> dict[str, Any]:
    status = (
        "active" if kind == "r1" else _weighted(rng, (("active", 60), ("remission", 25), ("history", 15)))
    )
    cancer: dict[str, Any] = {"primary_site": _weighted(rng, _PRIMARIES), "status": status}
    if rng.random() < 0.7:
        cancer["spinal_metastases"] = _weighted(
            rng, (("none", 50), ("unknown", 30), ("suspected", 10), ("known", 10))
        )
    data: dict[str, Any] = {"cancer": cancer}
    _age(rng, base, data, 35, 90)
    return data


def _other_diagnosis(rng: random.Random, base: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {}
    _age(rng, base, data, 18, 85, mode=38)
    if rng.random() < 0.03:
        data["risk_factors"] = [rng.choice(["immunosuppression", "recent_infection"])]
    return data


def _benign_pain(rng: random.Random, cancer: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "nrs": rng.choices(_BENIGN_NRS, weights=_BENIGN_NRS_WEIGHTS)[0],
        "site": ["lumbar"] if rng.random() < 0.85 else ["lumbar", "sacral"],
    }
    if rng.random() < 0.6:
        data["duration_days"] = rng.randint(1, 21) if rng.random() < 0.85 else rng.randint(28, 120)
    if not cancer:
        data["character"] = ["mechanical"] if rng.random() < 0.8 else ["mechanical", "radicular"]
        if rng.random() < 0.4:
            data["improving"] = True
    return data


def _r1_pain(rng: random.Random) -> dict[str, Any]:
    data: dict[str, Any] = {
        "nrs": rng.randint(5, 8),
        "site": [rng.choice(["thoracic", "lumbar", "cervical"])],
        "neurological": list(rng.choice(_NEURO)),
        "neurological_status": "new",
    }
    if "limb_weakness" in data["neurological"]:
        data["weakness_severity"] = rng.choice(["mild", "moderate"])
    if rng.random() < 0.5:
        data["character"] = ["night_pain"]
    return data


def _r2_pain(rng: random.Random) -> dict[str, Any]:
    return {
        "nrs": rng.randint(3, 6),
        "site": [rng.choice(["thoracic", "lumbar", "cervical"])],
        "character": rng.choice([["night_pain"], ["progressive"], ["mechanical", "localised_tenderness"]]),
        "duration_days": rng.randint(7, 60),
    }


def _calcium(rng: random.Random) -> dict[str, Any]:
    high = rng.random() < 0.06
    if rng.random() < 0.7:
        value = round(rng.uniform(2.62, 3.2) if high else rng.uniform(2.15, 2.58), 2)
        return {
            "test": "calcium",
            "value": value,
            "unit": "mmol/L",
            "reference_range": {"low": 2.2, "high": 2.6},
            "abnormal_flag": "H" if value > 2.6 else "N",
        }
    value = round(rng.uniform(10.6, 12.8) if high else rng.uniform(8.6, 10.3), 1)
    return {
        "test": "calcium",
        "value": value,
        "unit": "mg/dL",
        "reference_range": {"low": 8.6, "high": 10.4},
        "abnormal_flag": "H" if value > 10.4 else "N",
    }


def _albumin(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.8:
        value = float(rng.randint(28, 48))
        return {"test": "albumin", "value": value, "unit": "g/L", "reference_range": {"low": 35, "high": 50}}
    return {"test": "albumin", "value": round(rng.uniform(2.8, 4.8), 1), "unit": "g/dL"}


def _inflammatory(rng: random.Random) -> dict[str, Any]:
    test, unit, high = rng.choice((("crp", "mg/L", 5.0), ("esr", "mm/h", 20.0)))
    return {
        "test": test,
        "value": round(rng.uniform(0.5, high * 1.2), 1),
        "unit": unit,
        "reference_range": {"low": 0, "high": high},
    }


def _imaging(rng: random.Random, cancer: bool) -> dict[str, Any]:
    if not cancer:
        return {"modality": "xray", "region": "lumbar", "report_status": "final", "findings": []}
    findings: list[dict[str, str]] = [{"code": "cord_compression", "certainty": "excluded"}]
    if rng.random() < 0.15:
        findings.append({"code": "new_vertebral_metastasis", "certainty": "possible"})
    return {
        "modality": "mri",
        "region": "whole_spine",
        "report_status": "final",
        "findings": findings,
        "impression": "No compression of the spinal cord or cauda equina.",
    }


def _treatment(rng: random.Random) -> dict[str, Any]:
    category = _weighted(
        rng,
        (("non_opioid_analgesic", 50), ("weak_opioid", 25), ("strong_opioid", 10), ("physiotherapy", 15)),
    )
    data: dict[str, Any] = {"category": category, "change": "started"}
    if category == "strong_opioid":
        data["agent"] = "morphine sulfate modified release"
        data["dose"] = {"value": 10, "unit": "mg"}
    return data


def _care_step(rng: random.Random, cancer: bool) -> dict[str, Any]:
    if cancer:
        return {"step": "referral_made", "role": "oncology"}
    return {"step": "clinician_review", "conclusion": "non_specific_back_pain", "role": "gp"}
