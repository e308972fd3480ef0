"""The words of the event contract that the follow-up pathway may refer to.

These are the enumerations of the carepath event contract (``schemas/``) and the triage rule ids. The
pathway loader checks every value in ``followup.yaml`` against them, so a misspelt category or step is
a load error rather than an expectation that silently never opens.
"""

from __future__ import annotations

from typing import Final

TRIAGE_RULES: Final[dict[str, str]] = {
    "R1": "MSCC_SUSPECTED",
    "R2": "SPINAL_METS_SUSPECTED",
    "R3": "CAUDA_EQUINA",
    "R4": "CANCER_RISK_NO_HISTORY",
    "R5": "SPINAL_INFECTION",
    "R6a": "HYPERCALCAEMIA_SEVERE",
    "R6b": "HYPERCALCAEMIA_MODERATE",
    "R6c": "HYPERCALCAEMIA_MILD",
    "R7": "MYELOMA_SCREEN",
    "R8": "IMAGING_CORD_COMPRESSION",
    "R9": "IMAGING_NEW_SPINAL_MET",
    "R10": "SINS_INSTABILITY",
    "R11": "PATHOLOGICAL_FRACTURE",
    "R12": "PAIN_ESCALATION",
    "R13": "NONSPECIFIC_LABS",
}

SEVERITIES: Final = ("emergency", "urgent", "routine")

ROLES: Final = frozenset(
    {
        "acute_oncology",
        "mscc_coordinator",
        "on_call_registrar",
        "consultant",
        "gp",
        "nurse",
        "spinal_surgeon",
        "other",
    }
)

MODALITIES: Final = frozenset({"mri", "ct", "xray", "bone_scan", "pet"})
REGIONS: Final = frozenset({"whole_spine", "cervical", "thoracic", "lumbar", "sacral", "other"})
REPORT_STATUSES: Final = frozenset({"preliminary", "final", "amended", "cancelled"})
COMPRESSION: Final = frozenset({"confirmed", "possible", "excluded"})
COMPRESSION_FINDINGS: Final = frozenset({"cord_compression", "cauda_equina_compression"})

TREATMENT_CATEGORIES: Final = frozenset(
    {
        "non_opioid_analgesic",
        "weak_opioid",
        "strong_opioid",
        "adjuvant_analgesic",
        "corticosteroid",
        "palliative_radiotherapy",
        "spinal_surgery",
        "vertebroplasty",
        "bisphosphonate",
        "systemic_anticancer_therapy",
        "nerve_block",
        "iv_fluids",
        "physiotherapy",
    }
)
TREATMENT_CHANGES: Final = frozenset({"started", "dose_changed", "stopped", "administered"})

LAB_TESTS: Final = frozenset(
    {
        "calcium",
        "adjusted_calcium",
        "albumin",
        "alkaline_phosphatase",
        "esr",
        "crp",
        "paraprotein",
        "creatinine",
    }
)

CARE_STEPS: Final = frozenset(
    {
        "mscc_coordinator_contacted",
        "referral_made",
        "decision_to_treat",
        "clinician_review",
        "spinal_surgical_opinion",
        "patient_discharged",
    }
)
DECISIONS: Final = frozenset({"radiotherapy", "surgery", "conservative", "best_supportive_care"})
CONCLUSIONS: Final = frozenset(
    {"non_specific_back_pain", "red_flags_present", "mscc_excluded", "immobilised", "instability_suspected"}
)

CANCER_STATUSES: Final = frozenset({"active", "remission", "history"})
VERIFICATIONS: Final = frozenset({"confirmed", "provisional", "refuted", "entered_in_error"})
