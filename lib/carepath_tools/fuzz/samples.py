"""Built-in valid samples (invented patients), the fuzzer's seeds when the conformance timelines are not
beside the package. ``{control_id}``, ``{patient}`` and ``{rid}`` are filled in per input."""

from __future__ import annotations

from typing import Any

HL7: dict[str, str] = {
    "adt_a08": "MSH|^~\\&|PAS|RLH^1.2.826.0.1.285000^ISO|CAREPATH|RLH|20240501093000+0100||ADT^A08^ADT_A01|{control_id}|P|2.5.1|||AL|NE|GBR|UNICODE "
    "UTF-8\r"
    "EVN|A08|20240501100000+0100\r"
    "PID|1||{patient}^^^RLH^MR~9434765919^^^NHS^NH||SMITH^JANE^ANNE^^MRS||19480722|F|||12 HIGH "
    "STREET^^LONDON^^N1 9GU^GBR||020 7946 0000\r"
    "PV1|1|I|ONC7^BAY2^BED3^RLH||||C1234567^JONES^ALUN^^^DR|||ONC\r"
    "DG1|1|I10|C61^Malignant neoplasm of prostate^I10||20230115|F\r"
    "DG1|2|I10|C79.5^Secondary malignant neoplasm of bone and bone marrow^I10||20240420|F\r"
    "PR1|1|OPCS4|X65.4^Delivery of fraction of external beam radiotherapy NEC^OPCS4|Palliative "
    "radiotherapy to thoracic spine|20240425140000+0100",
    "oru_labs": "MSH|^~\\&|WINPATH|RLHPATH|CAREPATH|RLH|20240501093000+0100||ORU^R01^ORU_R01|{control_id}|P|2.5.1|||AL|NE|GBR|UNICODE "
    "UTF-8\r"
    "PID|1||{patient}^^^RLH^MR~9434765919^^^NHS^NH||SMITH^JANE^ANNE^^MRS||19610314|F|||12 HIGH "
    "STREET^^LONDON^^N1 9GU^GBR||020 7946 0000\r"
    "ORC|RE|LAB55123|LAB55123\r"
    "OBR|1|LAB55123|LAB55123|BONE^Bone "
    "profile^L|||20240501071500+0100|||||||||||||||20240501083000+0100||CH|F\r"
    "OBX|1|NM|2000-8^Calcium^LN||3.12|mmol/L^^UCUM|2.20-2.60|H|||F|||20240501071500+0100\r"
    "OBX|2|NM|1751-7^Albumin^LN||31|g/L^^UCUM|35-50|L|||F|||20240501071500+0100\r"
    "OBX|3|NM|6768-6^Alkaline phosphatase^LN||412|IU/L|30-130|H|||F|||20240501071500+0100\r"
    "OBX|4|NM|2823-3^Potassium^LN||4.1|mmol/L|3.5-5.3|N|||F|||20240501071500+0100\r"
    "OBR|2|LAB55124|LAB55124|ESRCRP^ESR and "
    "CRP^L|||20240501071500+0100|||||||||||||||20240501083000+0100||HM|F\r"
    "OBX|1|NM|4537-7^ESR^LN||88|mm/hr|1-20|H|||F\r"
    "OBX|2|SN|1988-5^CRP^LN||<^4|mg/L|<5|N|||F",
    "oru_pain": "MSH|^~\\&|EPR|RLH^1.2.826.0.1.285000^ISO|CAREPATH|RLH|20240501093000+0100||ORU^R01^ORU_R01|{control_id}|P|2.5.1|||AL|NE|GBR|UNICODE "
    "UTF-8\r"
    "PID|1||{patient}^^^RLH^MR~9434765919^^^NHS^NH||SMITH^JANE^ANNE^^MRS||19610314|F|||12 HIGH "
    "STREET^^LONDON^^N1 9GU^GBR||020 7946 0000\r"
    "PV1|1|I|ONC7^BAY2^BED3^RLH||||C1234567^JONES^ALUN^^^DR|||ONC\r"
    "OBR|1|PA77120||PAINASSESS^Pain assessment^L|||20240501090000+0100\r"
    "OBX|1|NM|72514-3^Pain severity - 0-10 verbal numeric rating [Score] - "
    "Reported^LN||8|{score}^score^UCUM|0-10||||F|||20240501085500+0100||||||122495006^Thoracic "
    "spine structure^SCT\r"
    "OBX|2|CWE|limb_weakness^Limb weakness^99CP||Y^Yes^HL70136||||||F\r"
    "OBX|3|CWE|walking_difficulty^Difficulty walking^99CP||Y^Yes^HL70136||||||F\r"
    "OBX|4|CWE|neurological_status^Neurological status^99CP||worsening||||||F\r"
    "OBX|5|CWE|night_pain^Night pain^99CP||N^No^HL70136||||||F",
    "oru_radiology": "MSH|^~\\&|RIS|RLH^1.2.826.0.1.285000^ISO|CAREPATH|RLH|20240501093000+0100||ORU^R01^ORU_R01|{control_id}|P|2.5.1|||AL|NE|GBR|UNICODE "
    "UTF-8\r"
    "PID|1||{patient}^^^RLH^MR~9434765919^^^NHS^NH||SMITH^JANE^ANNE^^MRS||19610314|F|||12 "
    "HIGH STREET^^LONDON^^N1 9GU^GBR||020 7946 0000\r"
    "PV1|1|I|ONC7^BAY2^BED3^RLH||||C1234567^JONES^ALUN^^^DR|||ONC\r"
    "ORC|RE|ORD448812|ACC99123||CM\r"
    "OBR|1|ORD448812|ACC99123|MRSPW^MRI whole "
    "spine^L|||20240501080500+0100|||||||||C1234567^JONES^ALUN||||||20240501092800+0100||MR|F\r"
    "OBX|1|TX|18782-3^Radiology Study observation^LN||CLINICAL DETAILS: Known breast "
    "cancer. New thoracic back pain and leg weakness. ?MSCC~TECHNIQUE: Sagittal T1 and "
    "STIR whole spine, axial T2 through levels of concern.~FINDINGS: There is a new T9 "
    "vertebral metastasis. Epidural tumour at T10 compresses the cord.~No evidence of "
    "cauda equina compression. Pathological fracture of L2 with 30% loss of height.~SINS "
    "score of 11.~IMPRESSION: Metastatic cord compression at T10. Urgent oncology "
    "review.||||||F|||20240501092800+0100",
    "ppr_problems": "MSH|^~\\&|EPR|RLH^1.2.826.0.1.285000^ISO|CAREPATH|RLH|20240501093000+0100||PPR^PC1^PPR_PC1|{control_id}|P|2.5.1|||AL|NE|GBR|UNICODE "
    "UTF-8\r"
    "PID|1||{patient}^^^RLH^MR~9434765919^^^NHS^NH||SMITH^JANE^ANNE^^MRS||19610314|F|||12 "
    "HIGH STREET^^LONDON^^N1 9GU^GBR||020 7946 0000\r"
    "PV1|1|O\r"
    "PRB|AD|20240430110000+0100|C50.9^Malignant neoplasm of breast, "
    "unspecified^I10|PRB1001|||||||||C^Confirmed|A^Active\r"
    "PRB|AD|20240430110000+0100|94602001^Secondary malignant neoplasm of vertebral "
    "column^SCT|PRB1002\r"
    "PRB|AD|20240430110000+0100|D84.9^Immunodeficiency, unspecified^I10|PRB1003\r"
    "PRB|AD|20240430110000+0100|K21.9^Gastro-oesophageal reflux disease^I10|PRB1004",
    "ras_o17": "MSH|^~\\&|EPMA|RLH^1.2.826.0.1.285000^ISO|CAREPATH|RLH|20240501093000+0100||RAS^O17^RAS_O17|{control_id}|P|2.5.1|||AL|NE|GBR|UNICODE "
    "UTF-8\r"
    "PID|1||{patient}^^^RLH^MR~9434765919^^^NHS^NH||SMITH^JANE^ANNE^^MRS||19610314|F|||12 HIGH "
    "STREET^^LONDON^^N1 9GU^GBR||020 7946 0000\r"
    "PV1|1|I|ONC7^BAY2^BED3^RLH||||C1234567^JONES^ALUN^^^DR|||ONC\r"
    "ORC|RE|RX88124\r"
    "RXA|0|1|20240501101500+0100|20240501101500+0100|MORPH10^Morphine sulfate 10mg/5mL oral "
    "solution^L|5|mg^milligram^UCUM|||||||||||||CP\r"
    "RXA|0|2|20240501101600+0100|20240501101600+0100|PARA1G^Paracetamol 1g "
    "tablets^L|1|g|||||||||||||RE",
    "rde_o11": "MSH|^~\\&|EPMA|RLH^1.2.826.0.1.285000^ISO|CAREPATH|RLH|20240501093000+0100||RDE^O11^RDE_O11|{control_id}|P|2.5.1|||AL|NE|GBR|UNICODE "
    "UTF-8\r"
    "PID|1||{patient}^^^RLH^MR~9434765919^^^NHS^NH||SMITH^JANE^ANNE^^MRS||19610314|F|||12 HIGH "
    "STREET^^LONDON^^N1 9GU^GBR||020 7946 0000\r"
    "PV1|1|I|ONC7^BAY2^BED3^RLH||||C1234567^JONES^ALUN^^^DR|||ONC\r"
    "ORC|NW|RX88123|||||||20240501094500+0100\r"
    "RXE|^^^20240501100000+0100|DEXA8^Dexamethasone 8mg tablets^L|16||mg^milligram^UCUM|TAB\r"
    "RXR|PO^Oral^HL70162",
}

FHIR: dict[str, dict[str, Any]] = {
    "pain_observation": {
        "resourceType": "Observation",
        "id": "{rid}",
        "status": "final",
        "code": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": "72514-3",
                    "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                }
            ]
        },
        "subject": {"reference": "Patient/{patient}"},
        "effectiveDateTime": "2024-05-01T09:30:00+01:00",
        "valueInteger": 8,
        "bodySite": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "122495006",
                    "display": "Thoracic spine structure",
                }
            ]
        },
        "component": [
            {
                "code": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "26544005", "display": "Muscle weakness"}
                    ]
                },
                "valueBoolean": True,
            }
        ],
        "meta": {"versionId": "1"},
    },
    "cancer_condition": {
        "resourceType": "Condition",
        "id": "{rid}",
        "meta": {"versionId": "1"},
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
            ]
        },
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "254837009",
                    "display": "Malignant neoplasm of breast",
                }
            ]
        },
        "subject": {"reference": "Patient/{patient}"},
        "recordedDate": "2024-04-01",
    },
    "lab_observation": {
        "resourceType": "Observation",
        "id": "{rid}",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2000-8"}]},
        "subject": {"reference": "Patient/{patient}"},
        "effectiveDateTime": "2024-05-01T09:30:00+01:00",
        "valueQuantity": {
            "value": 3.1,
            "unit": "mmol/L",
            "system": "http://unitsofmeasure.org",
            "code": "mmol/L",
        },
    },
    "transaction_bundle": {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "{rid}-a",
                    "status": "final",
                    "code": {
                        "coding": [
                            {
                                "system": "http://loinc.org",
                                "code": "72514-3",
                                "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                            }
                        ]
                    },
                    "subject": {"reference": "Patient/{patient}"},
                    "effectiveDateTime": "2024-05-01T09:30:00+01:00",
                    "valueInteger": 8,
                    "bodySite": {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "122495006",
                                "display": "Thoracic spine structure",
                            }
                        ]
                    },
                    "component": [
                        {
                            "code": {
                                "coding": [
                                    {
                                        "system": "http://snomed.info/sct",
                                        "code": "26544005",
                                        "display": "Muscle weakness",
                                    }
                                ]
                            },
                            "valueBoolean": True,
                        }
                    ],
                    "meta": {"versionId": "1"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "{rid}-b",
                    "meta": {"versionId": "1"},
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "2000-8"}]},
                    "subject": {"reference": "Patient/{patient}"},
                    "effectiveDateTime": "2024-05-01T09:30:00+01:00",
                    "valueQuantity": {
                        "value": 3.1,
                        "unit": "mmol/L",
                        "system": "http://unitsofmeasure.org",
                        "code": "mmol/L",
                    },
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    },
    "batch_bundle": {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "{rid}-c",
                    "meta": {"versionId": "1"},
                    "clinicalStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                "code": "active",
                            }
                        ]
                    },
                    "verificationStatus": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                "code": "confirmed",
                            }
                        ]
                    },
                    "code": {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "254837009",
                                "display": "Malignant neoplasm of breast",
                            }
                        ]
                    },
                    "subject": {"reference": "Patient/{patient}"},
                    "recordedDate": "2024-04-01",
                },
                "request": {"method": "PUT", "url": "Condition/{rid}-c"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "{rid}-d",
                    "status": "final",
                    "code": {
                        "coding": [
                            {
                                "system": "http://loinc.org",
                                "code": "72514-3",
                                "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
                            }
                        ]
                    },
                    "subject": {"reference": "Patient/{patient}"},
                    "effectiveDateTime": "2024-05-01T09:30:00+01:00",
                    "valueInteger": 8,
                    "bodySite": {
                        "coding": [
                            {
                                "system": "http://snomed.info/sct",
                                "code": "122495006",
                                "display": "Thoracic spine structure",
                            }
                        ]
                    },
                    "component": [
                        {
                            "code": {
                                "coding": [
                                    {
                                        "system": "http://snomed.info/sct",
                                        "code": "26544005",
                                        "display": "Muscle weakness",
                                    }
                                ]
                            },
                            "valueBoolean": True,
                        }
                    ],
                    "meta": {"versionId": "1"},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    },
}
