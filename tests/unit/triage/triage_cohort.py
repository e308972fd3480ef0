"""A deterministic synthetic cohort of clinical events, for tests that check properties over many patients.

Every event type and most codes appear, including the awkward cases: calcium in mg/dL, albumin in g/dL,
refuted diagnoses, preliminary and cancelled reports, events that arrive late (an older clinical time
after newer ones) and redelivered events. Events are valid against the contract.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from tests.unit.triage.triage_spec import DAY_ONE

PRIMARIES = (
    "breast",
    "lung",
    "prostate",
    "kidney",
    "thyroid",
    "myeloma",
    "colorectal",
    "unknown_primary",
    "other",
)
SITES = ("cervical", "thoracic", "lumbar", "sacral")
CHARACTER = (
    "night_pain",
    "mechanical",
    "worse_on_straining",
    "radicular",
    "localised_tenderness",
    "progressive",
)
SYSTEMIC = ("weight_loss", "fever", "night_sweats", "confusion", "vomiting")
NEURO = ("limb_weakness", "walking_difficulty", "sensory_loss", "bladder_dysfunction", "saddle_anaesthesia")
FINDINGS = (
    "cord_compression",
    "cauda_equina_compression",
    "new_vertebral_metastasis",
    "pathological_fracture",
    "epidural_disease",
    "vertebral_collapse",
)
STEPS = (
    ("clinician_review", {"conclusion": "non_specific_back_pain"}),
    ("clinician_review", {"conclusion": "mscc_excluded"}),
    ("decision_to_treat", {"decision": "radiotherapy"}),
    ("referral_made", {}),
    ("spinal_surgical_opinion", {}),
    ("mscc_coordinator_contacted", {}),
)


def _some(rng: random.Random, codes: tuple[str, ...], p: float) -> list[str]:
    return [c for c in codes if rng.random() < p]


def _pain(rng: random.Random) -> dict[str, Any]:
    data: dict[str, Any] = {"nrs": rng.choice((0, 2, 3, 4, 5, 6, 7, 8, 9)), "site": [rng.choice(SITES)]}
    for key, codes, p in (
        ("character", CHARACTER, 0.12),
        ("systemic", SYSTEMIC, 0.06),
        ("neurological", NEURO, 0.05),
    ):
        chosen = _some(rng, codes, p)
        if chosen:
            data[key] = chosen
    if "neurological" in data and rng.random() < 0.4:
        data["neurological_status"] = rng.choice(("new", "worsening", "stable"))
    if "limb_weakness" in data.get("neurological", ()) and rng.random() < 0.5:
        data["weakness_severity"] = rng.choice(("mild", "moderate", "severe"))
    if rng.random() < 0.3:
        data["duration_days"] = rng.choice((2, 10, 27, 28, 35, 60))
    if rng.random() < 0.2:
        data["improving"] = rng.random() < 0.5
    return data


def _lab(rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.35:
        mmol = rng.choice((2.3, 2.55, 2.6, 2.8, 3.0, 3.2, 3.5, 3.6, 4.1))
        if rng.random() < 0.3:
            return {"test": "calcium", "value": round(mmol * 4.008, 1), "unit": "mg/dL"}
        return {
            "test": rng.choice(("calcium", "calcium", "adjusted_calcium")),
            "value": mmol,
            "unit": "mmol/L",
        }
    if kind < 0.55:
        if rng.random() < 0.3:
            return {"test": "albumin", "value": rng.choice((2.5, 3.5, 4.2)), "unit": "g/dL"}
        return {"test": "albumin", "value": rng.choice((22, 30, 38, 45)), "unit": "g/L"}
    if kind < 0.65:
        return {"test": "creatinine", "value": rng.choice((70, 90, 140, 200)), "unit": "umol/L"}
    if kind < 0.75:
        return {"test": "paraprotein", "value": rng.choice((0, 0, 4)), "unit": "g/L"}
    test, unit, high = rng.choice(
        (("esr", "mm/h", 20), ("crp", "mg/L", 5), ("alkaline_phosphatase", "U/L", 130))
    )
    data: dict[str, Any] = {"test": test, "value": rng.choice((high // 2, high, high * 3)), "unit": unit}
    if rng.random() < 0.8:
        data["reference_range"] = {"low": 0, "high": high}
    elif rng.random() < 0.5:
        data["abnormal_flag"] = "H"
    return data


def _imaging(rng: random.Random) -> dict[str, Any]:
    findings = [
        {"code": code, "certainty": rng.choice(("confirmed", "possible", "excluded"))}
        for code in _some(rng, FINDINGS, 0.2)
    ]
    data: dict[str, Any] = {
        "modality": rng.choice(("mri", "mri", "ct", "xray", "bone_scan")),
        "region": rng.choice(("whole_spine", "whole_spine", "thoracic", "lumbar")),
        "report_status": rng.choice(("final", "final", "preliminary", "amended", "cancelled")),
        "findings": findings,
    }
    if rng.random() < 0.25:
        data["sins_score"] = rng.randint(3, 16)
    return data


def _diagnosis(rng: random.Random, when_days: float) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if rng.random() < 0.6:
        cancer: dict[str, Any] = {
            "primary_site": rng.choice(PRIMARIES),
            "status": rng.choice(("active", "remission", "history")),
        }
        if rng.random() < 0.3:
            cancer["spinal_metastases"] = rng.choice(("known", "suspected", "none", "unknown"))
        data["cancer"] = cancer
    if rng.random() < 0.4:
        data["birth_date"] = f"{rng.randint(1930, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    elif rng.random() < 0.3:
        data["age_years"] = rng.randint(20, 90)
    if rng.random() < 0.15:
        data["risk_factors"] = _some(rng, ("immunosuppression", "iv_drug_use", "recent_infection"), 0.5) or [
            "iv_drug_use"
        ]
    if not data:
        data["age_years"] = 55
    if rng.random() < 0.08:
        data["verification"] = rng.choice(("refuted", "entered_in_error", "provisional"))
    return data


def _step(rng: random.Random) -> dict[str, Any]:
    step, extra = rng.choice(STEPS)
    return {"step": step, **extra}


def cohort(patients: int, seed: int = 11) -> list[dict[str, Any]]:
    """CloudEvents of ``patients`` patients, in the order a feed delivers them (some late, some twice),
    each with an ``arrives`` attribute that is not part of the contract (strip it before validating)."""
    rng = random.Random(seed)
    delivered: list[tuple[float, int, dict[str, Any]]] = []
    for p in range(patients):
        patient = f"cohort-{p:05d}"
        for n in range(rng.randint(2, 14)):
            days = rng.uniform(0, 60)
            pick = rng.random()
            if pick < 0.40:
                etype, data = "carepath.pain.reported.v1", _pain(rng)
            elif pick < 0.62:
                etype, data = "carepath.lab.resulted.v1", _lab(rng)
            elif pick < 0.76:
                etype, data = "carepath.diagnosis.recorded.v1", _diagnosis(rng, days)
            elif pick < 0.88:
                etype, data = "carepath.imaging.resulted.v1", _imaging(rng)
            elif pick < 0.96:
                etype, data = "carepath.care_step.recorded.v1", _step(rng)
            else:
                etype, data = (
                    "carepath.treatment.changed.v1",
                    {"category": "strong_opioid", "change": "started"},
                )
            when = DAY_ONE + timedelta(days=days)
            delay = timedelta(days=rng.choice((0, 0, 0, 0, 0.5, 3))) if rng.random() < 0.25 else timedelta(0)
            event = {
                "specversion": "1.0",
                "id": f"{patient}-e{n}",
                "source": "urn:test:cohort",
                "type": etype,
                "subject": patient,
                "time": when.isoformat().replace("+00:00", "Z"),
                "data": data,
            }
            arrives = (when + delay).timestamp()
            delivered.append((arrives, len(delivered), event))
            if rng.random() < 0.03:  # redelivered later
                delivered.append((arrives + 3600, len(delivered), event))
    delivered.sort(key=lambda item: (item[0], item[1]))
    return [dict(event, arrives=arrives) for arrives, _, event in delivered]
