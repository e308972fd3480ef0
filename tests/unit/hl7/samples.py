"""Realistic HL7 v2 messages as a hospital's systems send them (segments joined with ``\\r``).

Each builder takes the message control id and the patient's MRN so that tests on a shared broker can
tell their messages apart. Names, addresses and numbers are invented.
"""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)  # the intake clock of the unit tests


class FixedClock:
    def now(self) -> datetime:
        return NOW


SEP = "\r"


def segment(name: str, fields: dict[int, str]) -> str:
    """A segment from its fields by number (the rest empty), so no field lands in the wrong place."""
    last = max(fields)
    return "|".join([name, *(fields.get(n, "") for n in range(1, last + 1))])


def msh(
    control_id: str,
    message_type: str,
    *,
    version: str = "2.5.1",
    app: str = "RIS",
    facility: str = "RLH^1.2.826.0.1.285000^ISO",
    when: str = "20240501093000+0100",
    charset: str = "UNICODE UTF-8",
    accept_ack: str = "",
    application_ack: str = "",
) -> str:
    """MSH in original acknowledgement mode unless ``accept_ack`` (MSH-15) or ``application_ack`` (MSH-16)."""
    return (
        f"MSH|^~\\&|{app}|{facility}|CAREPATH|RLH|{when}||{message_type}|{control_id}|P|{version}"
        f"|||{accept_ack}|{application_ack}|GBR|{charset}"
    )


def pid(mrn: str, *, nhs: str = "9434765919", born: str = "19610314") -> str:
    return (
        f"PID|1||{mrn}^^^RLH^MR~{nhs}^^^NHS^NH||SMITH^JANE^ANNE^^MRS||{born}|F|||"
        "12 HIGH STREET^^LONDON^^N1 9GU^GBR||020 7946 0000"
    )


PV1 = "PV1|1|I|ONC7^BAY2^BED3^RLH||||C1234567^JONES^ALUN^^^DR|||ONC"

REPORT_LINES = [
    "CLINICAL DETAILS: Known breast cancer. New thoracic back pain and leg weakness. ?MSCC",
    "TECHNIQUE: Sagittal T1 and STIR whole spine, axial T2 through levels of concern.",
    "FINDINGS: There is a new T9 vertebral metastasis. Epidural tumour at T10 compresses the cord.",
    "No evidence of cauda equina compression. Pathological fracture of L2 with 30% loss of height.",
    "SINS score of 11.",
    "IMPRESSION: Metastatic cord compression at T10. Urgent oncology review.",
]


def oru_radiology(
    control_id: str,
    mrn: str,
    *,
    lines: list[str] | None = None,
    status: str = "F",
    version: str = "2.5.1",
    procedure: str = "MRSPW^MRI whole spine^L",
) -> str:
    text = "~".join(lines if lines is not None else REPORT_LINES)
    return SEP.join(
        [
            msh(control_id, "ORU^R01^ORU_R01", version=version),
            pid(mrn),
            PV1,
            "ORC|RE|ORD448812|ACC99123||CM",
            f"OBR|1|ORD448812|ACC99123|{procedure}|||20240501080500+0100|||||||||C1234567^JONES^ALUN"
            f"||||||20240501092800+0100||MR|{status}",
            f"OBX|1|TX|18782-3^Radiology Study observation^LN||{text}||||||{status}|||20240501092800+0100",
        ]
    )


def oru_pain(
    control_id: str,
    mrn: str,
    *,
    nrs: str = "8",
    site: str = "122495006^Thoracic spine structure^SCT",
    version: str = "2.5.1",
    extra: list[str] | None = None,
) -> str:
    return SEP.join(
        [
            msh(control_id, "ORU^R01^ORU_R01", version=version, app="EPR"),
            pid(mrn),
            PV1,
            "OBR|1|PA77120||PAINASSESS^Pain assessment^L|||20240501090000+0100",
            f"OBX|1|NM|72514-3^Pain severity - 0-10 verbal numeric rating [Score] - Reported^LN||{nrs}"
            f"|{{score}}^score^UCUM|0-10||||F|||20240501085500+0100||||||{site}",
            "OBX|2|CWE|limb_weakness^Limb weakness^99CP||Y^Yes^HL70136||||||F",
            "OBX|3|CWE|walking_difficulty^Difficulty walking^99CP||Y^Yes^HL70136||||||F",
            "OBX|4|CWE|neurological_status^Neurological status^99CP||worsening||||||F",
            "OBX|5|CWE|night_pain^Night pain^99CP||N^No^HL70136||||||F",
            *(extra or []),
        ]
    )


def oru_labs(control_id: str, mrn: str, *, calcium: str = "3.12", calcium_unit: str = "mmol/L") -> str:
    return SEP.join(
        [
            msh(control_id, "ORU^R01^ORU_R01", app="WINPATH", facility="RLHPATH"),
            pid(mrn),
            "ORC|RE|LAB55123|LAB55123",
            "OBR|1|LAB55123|LAB55123|BONE^Bone profile^L|||20240501071500+0100|||||||||||||||20240501083000+0100||CH|F",
            f"OBX|1|NM|2000-8^Calcium^LN||{calcium}|{calcium_unit}^^UCUM|2.20-2.60|H|||F|||20240501071500+0100",
            "OBX|2|NM|1751-7^Albumin^LN||31|g/L^^UCUM|35-50|L|||F|||20240501071500+0100",
            "OBX|3|NM|6768-6^Alkaline phosphatase^LN||412|IU/L|30-130|H|||F|||20240501071500+0100",
            "OBX|4|NM|2823-3^Potassium^LN||4.1|mmol/L|3.5-5.3|N|||F|||20240501071500+0100",
            "OBR|2|LAB55124|LAB55124|ESRCRP^ESR and CRP^L|||20240501071500+0100|||||||||||||||20240501083000+0100||HM|F",
            "OBX|1|NM|4537-7^ESR^LN||88|mm/hr|1-20|H|||F",
            "OBX|2|SN|1988-5^CRP^LN||<^4|mg/L|<5|N|||F",
        ]
    )


def ppr_problems(control_id: str, mrn: str) -> str:
    return SEP.join(
        [
            msh(control_id, "PPR^PC1^PPR_PC1", app="EPR"),
            pid(mrn),
            "PV1|1|O",
            segment(
                "PRB",
                {
                    1: "AD",
                    2: "20240430110000+0100",
                    3: "C50.9^Malignant neoplasm of breast, unspecified^I10",
                    4: "PRB1001",
                    13: "C^Confirmed",
                    14: "A^Active",
                },
            ),
            "PRB|AD|20240430110000+0100|94602001^Secondary malignant neoplasm of vertebral column^SCT|PRB1002",
            "PRB|AD|20240430110000+0100|D84.9^Immunodeficiency, unspecified^I10|PRB1003",
            "PRB|AD|20240430110000+0100|K21.9^Gastro-oesophageal reflux disease^I10|PRB1004",
        ]
    )


def adt_a08(control_id: str, mrn: str, *, version: str = "2.5.1") -> str:
    return SEP.join(
        [
            msh(control_id, "ADT^A08^ADT_A01", app="PAS", version=version),
            "EVN|A08|20240501100000+0100",
            pid(mrn, born="19480722"),
            PV1,
            "DG1|1|I10|C61^Malignant neoplasm of prostate^I10||20230115|F",
            "DG1|2|I10|C79.5^Secondary malignant neoplasm of bone and bone marrow^I10||20240420|F",
            "PR1|1|OPCS4|X65.4^Delivery of fraction of external beam radiotherapy NEC^OPCS4|"
            "Palliative radiotherapy to thoracic spine|20240425140000+0100",
        ]
    )


def rde_o11(control_id: str, mrn: str, *, order_control: str = "NW") -> str:
    return SEP.join(
        [
            msh(control_id, "RDE^O11^RDE_O11", app="EPMA"),
            pid(mrn),
            PV1,
            segment("ORC", {1: order_control, 2: "RX88123", 9: "20240501094500+0100"}),
            "RXE|^^^20240501100000+0100|DEXA8^Dexamethasone 8mg tablets^L|16||mg^milligram^UCUM|TAB",
            "RXR|PO^Oral^HL70162",
        ]
    )


def ras_o17(control_id: str, mrn: str) -> str:
    return SEP.join(
        [
            msh(control_id, "RAS^O17^RAS_O17", app="EPMA"),
            pid(mrn),
            PV1,
            "ORC|RE|RX88124",
            segment(
                "RXA",
                {
                    1: "0",
                    2: "1",
                    3: "20240501101500+0100",
                    4: "20240501101500+0100",
                    5: "MORPH10^Morphine sulfate 10mg/5mL oral solution^L",
                    6: "5",
                    7: "mg^milligram^UCUM",
                    20: "CP",
                },
            ),
            segment(
                "RXA",
                {
                    1: "0",
                    2: "2",
                    3: "20240501101600+0100",
                    4: "20240501101600+0100",
                    5: "PARA1G^Paracetamol 1g tablets^L",
                    6: "1",
                    7: "g",
                    20: "RE",
                },
            ),
        ]
    )
