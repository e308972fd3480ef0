"""The two fictional senders of the conformance corpus and how each writes FHIR R4 and HL7 v2.

Northgate Hospital NHS Foundation Trust (``NGH``) writes as an NHS trust: NHS number plus a local MRN,
HL7 v2.4, HL7 timestamps in Europe/London local time without an offset, SNOMED CT and ICD-10, its own
formulary codes beside the medicine's name. Riverbend Medical Center (``RMC``) writes as a US hospital:
MRN only, HL7 v2.5.1, timestamps with their UTC offset (America/Chicago), RxNorm and ICD-10-CM.

Every code used here is listed with its source in ``CODES.md``; every local code in ``HOSPITAL.md``.
These builders only exist to write the timeline files consistently: the files under ``timelines/`` are
the corpus, not this module.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"


@dataclass(frozen=True)
class Site:
    code: str  # HL7 assigning authority and coding-system suffix
    name: str
    base: str  # root of the site's FHIR URIs
    timezone: str
    hl7_version: str
    nhs: bool
    sending_application: str
    facility: str
    lab_prefix: str

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def mrn_system(self) -> str:
        return f"{self.base}/Id/mrn"

    def cs(self, name: str) -> str:
        """A local FHIR code system of the site."""
        return f"{self.base}/CodeSystem/{name}"

    @property
    def v2_local(self) -> str:
        """The site's HL7 v2 local coding-system name (HL7 table 0396 ``99zzz`` form)."""
        return f"99{self.code}"

    def fhir_time(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).isoformat(timespec="seconds")

    def v2_time(self, moment: datetime) -> str:
        local = moment.astimezone(self.tz)
        if self.nhs:  # local wall-clock time, no offset, as NHS v2.4 feeds commonly send it
            return local.strftime("%Y%m%d%H%M%S")
        return local.strftime("%Y%m%d%H%M%S%z")


NGH = Site(
    code="NGH",
    name="Northgate Hospital NHS Foundation Trust",
    base="https://fhir.northgate-hospital.example",
    timezone="Europe/London",
    hl7_version="2.4",
    nhs=True,
    sending_application="NGH_EPR",
    facility="NORTHGATE",
    lab_prefix="NGL",
)
RMC = Site(
    code="RMC",
    name="Riverbend Medical Center",
    base="https://fhir.riverbend-medical.example",
    timezone="America/Chicago",
    hl7_version="2.5.1",
    nhs=False,
    sending_application="RMC_EHR",
    facility="RIVERBEND",
    lab_prefix="RML",
)

# ---------------------------------------------------------------------------------------------------------
# Codes (see CODES.md for where each was confirmed)

BODY = {
    "cervical": ("122494005", "Cervical spine structure"),
    "thoracic": ("122495006", "Thoracic spine structure"),
    "lumbar": ("122496007", "Lumbar spine structure"),
    "perineum": ("38864007", "Perineal structure"),
    "lower_limb": ("61685007", "Lower limb structure"),
}

FINDING = {
    "weakness": ("26544005", "Muscle weakness"),
    "numbness": ("44077006", "Numbness"),
    "walking": ("719232003", "Difficulty walking"),
    "retention": ("267064002", "Retention of urine"),
    "urinary_incontinence": ("165232002", "Urinary incontinence"),
    "faecal_incontinence": ("72042002", "Incontinence of feces"),
    "fever": ("386661006", "Fever"),
    "night_sweats": ("42984000", "Night sweats"),
    "weight_loss": ("89362005", "Weight loss"),
    "confusion": ("40917007", "Clouded consciousness"),
    "vomiting": ("422400008", "Vomiting"),
    "sciatica": ("23056005", "Sciatica"),
    "low_back_pain": ("279039007", "Low back pain"),
}

CANCER = {
    # key: (SNOMED, display, ICD-10-CM, ICD-10 (WHO/UK) or None when not confirmed)
    "prostate": ("399068003", "Malignant tumor of prostate", "C61", "C61"),
    "breast": ("254837009", "Malignant neoplasm of breast", "C50.911", None),
    "lung": ("363358000", "Malignant tumor of lung", "C34.90", None),
    "myeloma": ("109989006", "Multiple myeloma", "C90.00", None),
    "bone_mets": ("94222008", "Secondary malignant neoplasm of bone", "C79.51", None),
}

OTHER_CONDITION = {
    "ivdu": ("228388006", "Intravenous drug user", None),
    "hiv": ("86406008", "Human immunodeficiency virus infection", "B20"),
    "retention": ("267064002", "Retention of urine", "R33.9"),
    "urinary_incontinence": ("165232002", "Urinary incontinence", "R32"),
    "faecal_incontinence": ("72042002", "Incontinence of feces", "R15.9"),
    "confusion": ("40917007", "Clouded consciousness", "R41.0"),
    "vomiting": ("422400008", "Vomiting", "R11.10"),
}

LAB = {
    # key: (LOINC, display, short v2 text)
    "calcium_mmol": ("2000-8", "Calcium [Moles/volume] in Serum or Plasma", "Calcium"),
    "calcium_mg": ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "Calcium"),
    "albumin": ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "Albumin"),
    "alp": ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "ALP"),
    "esr": ("4537-7", "Erythrocyte sedimentation rate by Westergren method", "ESR"),
    "crp": ("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "CRP"),
    "paraprotein": (
        "33358-3",
        "Protein.monoclonal [Mass/volume] in Serum or Plasma by Electrophoresis",
        "Paraprotein",
    ),
    "creatinine_umol": ("14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "Creatinine"),
    "temperature": ("8310-5", "Body temperature", "Temperature"),
}

IMAGING = {
    # key: (LOINC, display, modality word used in the report title)
    "mr_spine": ("36531-2", "MR Spine WO contrast", "MRI whole spine"),
    "mr_thoracic": ("24980-5", "MR Thoracic spine", "MRI thoracic spine"),
    "mr_lumbar": ("24968-0", "MR Lumbar spine", "MRI lumbar spine"),
    "ct_spine": ("36530-4", "CT Spine WO contrast", "CT whole spine"),
    "ct_thoracic": ("24978-9", "CT Thoracic spine", "CT thoracic spine"),
    "ct_lumbar": ("24963-1", "CT Lumbar spine", "CT lumbar spine"),
    "xr_lumbar": ("24970-6", "XR Lumbar spine AP and Lateral", "X-ray lumbar spine"),
    "xr_thoracic": ("24983-9", "XR Thoracic spine Views", "X-ray thoracic spine"),
    "nm_bone": ("25031-6", "NM Bone Views", "Isotope bone scan"),
}

CONCLUSION_CODE = {
    "bone_mets": ("94222008", "Secondary malignant neoplasm of bone"),
    "path_fracture": ("268029009", "Pathological fracture"),
}

# Medicines. RxNorm for Riverbend; Northgate sends its formulary code and the dm+d-style name (no dm+d
# code could be confirmed, see CODES.md), with SNOMED CT where an international clinical-drug concept
# was confirmed.
RX = {
    "dex_tab_4": ("197582", "dexamethasone 4 MG Oral Tablet"),
    "dex_inj_4": ("1116927", "dexamethasone phosphate 4 MG/ML Injectable Solution"),
    "oxycodone_5": ("1049621", "oxycodone hydrochloride 5 MG Oral Tablet"),
    "oxycontin_10": (
        "1049504",
        "Abuse-Deterrent 12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet [Oxycontin]",
    ),
    "morphine_er_15": ("891878", "12 HR morphine sulfate 15 MG Extended Release Oral Tablet"),
    "morphine_inj_10": ("892531", "morphine sulfate 10 MG/ML Injectable Solution"),
    "fentanyl_25": ("261184", "72 HR fentanyl 0.025 MG/HR Transdermal System [Duragesic]"),
    "hydromorphone_2": ("897696", "hydromorphone hydrochloride 2 MG Oral Tablet"),
    "dilaudid_2": ("897698", "hydromorphone hydrochloride 2 MG Oral Tablet [Dilaudid]"),
    "zoledronic_4": ("1114085", "100 ML zoledronic acid 0.04 MG/ML Injection"),
    "xgeva": ("1046402", "1.7 ML denosumab 70 MG/ML Injection [Xgeva]"),
}

NGH_FORMULARY = {
    # key: (local formulary code, dm+d style name, SNOMED CT clinical drug or None)
    "dex_inj": ("NGHF0412", "Dexamethasone 3.3mg/1ml solution for injection ampoules", None),
    "dex_tab": ("NGHF0410", "Dexamethasone 2mg tablets", None),
    "morphine_oral": ("NGHF1021", "Morphine sulfate 10mg/5ml oral solution", None),
    "oxycodone_caps": ("NGHF1033", "Oxycodone 5mg capsules", None),
    "fentanyl_patch": (
        "NGHF1047",
        "Fentanyl 25micrograms/hour transdermal patches",
        (
            "769510009",
            "Product containing precisely fentanyl 25 microgram/1 hour prolonged-release transdermal patch (clinical drug)",
        ),
    ),
    "zoledronic": ("NGHF2210", "Zoledronic acid 4mg/100ml infusion bags", None),
}

PROCEDURE = {
    "radiotherapy": ("108290001", "Radiation oncology AND/OR radiotherapy"),
    "vertebroplasty": ("392010000", "Percutaneous vertebroplasty"),
}


# ---------------------------------------------------------------------------------------------------------
# Patients


@dataclass(frozen=True)
class Person:
    mrn: str
    family: str
    given: str
    birth_date: str  # YYYY-MM-DD
    sex: str  # male | female
    nhs_number: str | None = None
    address: tuple[str, str, str] = ("1 Example Road", "Northgate", "NG1 1AA")

    @property
    def v2_sex(self) -> str:
        return "M" if self.sex == "male" else "F"


def nhs_number(seed: int) -> str:
    """A syntactically valid NHS number (modulus 11) in the 999 test range, never a real person's."""
    for extra in range(100):
        body = f"999{(seed * 7 + extra) % 1000000:06d}"
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return body + str(check)
    raise ValueError("no valid NHS number")


# ---------------------------------------------------------------------------------------------------------
# One message: the FHIR resource and its HL7 v2 twin


@dataclass
class Message:
    fhir: dict[str, Any]
    hl7: list[str] | None
    hl7_absent_reason: str | None = None
    description: str = ""
    about: dict[str, str] | None = None


@dataclass
class Ctx:
    """The state a timeline's builders share: the site, the patient and counters for ids."""

    site: Site
    person: Person
    start: datetime
    key: str  # short timeline key used in ids
    counter: int = 0
    order: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    def at(self, offset: timedelta) -> datetime:
        return self.start + offset

    def next_id(self, kind: str) -> str:
        self.counter += 1
        return f"{self.key}-{kind}-{self.counter}"

    def control_id(self) -> str:
        self.order += 1
        return f"{self.site.code}{self.key.upper().replace('-', '')}{self.order:03d}"

    @property
    def patient_ref(self) -> dict[str, str]:
        return {"reference": f"Patient/{self.person.mrn}"}


def cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


def meta(version: str = "1") -> dict[str, Any]:
    return {"versionId": version}


def msh(ctx: Ctx, when: datetime, msg_type: str, control: str | None = None) -> str:
    s = ctx.site
    return (
        f"MSH|^~\\&|{s.sending_application}|{s.facility}|CAREPATH|CAREPATH|{s.v2_time(when)}||{msg_type}|"
        f"{control or ctx.control_id()}|P|{s.hl7_version}|||AL|NE|{'GBR' if s.nhs else 'USA'}"
    )


def pid(ctx: Ctx) -> str:
    p = ctx.person
    ids = f"{p.mrn}^^^{ctx.site.code}^MR"
    if p.nhs_number:
        ids += f"~{p.nhs_number}^^^NHS^NH"
    street, city, post = p.address
    country = "GBR" if ctx.site.nhs else "USA"
    return (
        f"PID|1||{ids}||{p.family.upper()}^{p.given}||{p.birth_date.replace('-', '')}|{p.v2_sex}|||"
        f"{street}^^{city}^^{post}^{country}"
    )


def pv1(ctx: Ctx, patient_class: str = "O") -> str:
    return f"PV1|1|{patient_class}|{ctx.site.facility}^^^{ctx.site.code}"


# ---------------------------------------------------------------------------------------------------------
# Builders


def patient(ctx: Ctx, offset: timedelta, event: str = "A04") -> Message:
    p = ctx.person
    ident: list[dict[str, Any]] = [
        {
            "type": cc(V2_0203, "MR", "Medical record number"),
            "system": ctx.site.mrn_system,
            "value": p.mrn,
        }
    ]
    if p.nhs_number:
        ident.insert(0, {"system": NHS_NUMBER, "value": p.nhs_number})
    street, city, post = p.address
    res = {
        "resourceType": "Patient",
        "id": p.mrn,
        "meta": meta(),
        "identifier": ident,
        "name": [{"use": "official", "family": p.family, "given": [p.given]}],
        "gender": p.sex,
        "birthDate": p.birth_date,
        "address": [
            {"line": [street], "city": city, "postalCode": post, "country": "GB" if ctx.site.nhs else "US"}
        ],
        "managingOrganization": {"display": ctx.site.name},
    }
    when = ctx.at(offset)
    structure = "ADT_A01"
    hl7 = [
        msh(ctx, when, f"ADT^{event}^{structure}"),
        f"EVN|{event}|{ctx.site.v2_time(when)}",
        pid(ctx),
        pv1(ctx),
    ]
    return Message(res, hl7, description=f"Patient registered (ADT^{event})")


def _pain_components(ctx: Ctx, flags: dict[str, Any]) -> list[dict[str, Any]]:
    cs = ctx.site.cs("pain-flowsheet")
    names = {
        "onset": "Pain onset date",
        "new_episode": "New episode of pain",
        "night_pain": "Night pain disturbing sleep",
        "mechanical": "Mechanical pain",
        "worse_on_straining": "Worse on straining, coughing or sneezing",
        "spinal_tenderness": "Spinal tenderness on palpation",
        "progressive": "Progressive pain",
        "radicular": "Radicular pain",
        "improving": "Pain improving",
    }
    comps: list[dict[str, Any]] = []
    for key, value in flags.items():
        entry: dict[str, Any] = {"code": cc(cs, key.replace("_", "-"), names[key])}
        if key == "onset":
            entry["valueDateTime"] = value
        else:
            entry["valueBoolean"] = bool(value)
        comps.append(entry)
    return comps


V2_PAIN_ROWS = {
    "onset": "PAINONSET",
    "new_episode": "PAINNEW",
    "night_pain": "PAINNIGHT",
    "mechanical": "PAINMECH",
    "worse_on_straining": "PAINSTRAIN",
    "spinal_tenderness": "PAINTENDER",
    "progressive": "PAINPROG",
    "radicular": "PAINRADIC",
    "improving": "PAINIMPROV",
}


def pain(
    ctx: Ctx,
    offset: timedelta,
    nrs: int,
    region: str,
    flags: dict[str, Any] | None = None,
    note: str | None = None,
    fhir_id: str | None = None,
    control: str | None = None,
    version: str = "1",
) -> Message:
    """A nursing pain assessment: NRS (LOINC 72514-3), spinal region, flowsheet rows, free text."""
    flags = flags or {}
    when = ctx.at(offset)
    site_code, site_display = BODY[region]
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": fhir_id or ctx.next_id("pain"),
        "meta": meta(version),
        "status": "final",
        "category": [cc(OBS_CATEGORY, "survey", "Survey")],
        "code": cc(LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
        "subject": ctx.patient_ref,
        "effectiveDateTime": ctx.site.fhir_time(when),
        "valueInteger": nrs,
        "bodySite": cc(SCT, site_code, site_display, f"{region} spine"),
    }
    comps = _pain_components(ctx, flags)
    if comps:
        res["component"] = comps
    if note:
        res["note"] = [{"text": note}]
    t = ctx.site.v2_time(when)
    local = ctx.site.v2_local
    lines = [
        msh(ctx, when, "ORU^R01^ORU_R01", control),
        pid(ctx),
        f"OBR|1||{res['id']}|PAINASSESS^Pain assessment^{local}|||{t}|||||||||||||||{t}||NUR|F",
        f"OBX|1|NM|72514-3^Pain severity 0-10 NRS^LN||{nrs}|{{score}}^{{score}}^UCUM|0-10||||F|||{t}",
        f"OBX|2|CWE|38204-4^Pain primary location^LN||{site_code}^{site_display}^SCT^^^^^^{region} spine||||||F|||{t}",
    ]
    n = 3
    for key, value in flags.items():
        code = V2_PAIN_ROWS[key]
        label = _pain_components(ctx, {key: value})[0]["code"]["coding"][0]["display"]
        if key == "onset":
            lines.append(f"OBX|{n}|DT|{code}^{label}^{local}||{value.replace('-', '')}||||||F|||{t}")
        else:
            yn = "Y^Yes^HL70136" if value else "N^No^HL70136"
            lines.append(f"OBX|{n}|CWE|{code}^{label}^{local}||{yn}||||||F|||{t}")
        n += 1
    if note:
        lines.append(f"NTE|1|L|{note}")
    return Message(res, lines, description=f"Pain assessment NRS {nrs}/10, {region} spine")


def symptom(
    ctx: Ctx,
    offset: timedelta,
    finding: str,
    text: str,
    site: str | None = None,
    status: str | None = "new",
    severity: str | None = None,
    record_time: timedelta | None = None,
) -> Message:
    """A symptom or neurological finding: LOINC 75325-1 with the SNOMED CT finding as its value."""
    when = ctx.at(offset)
    effective = ctx.at(record_time) if record_time is not None else when
    code, display = FINDING[finding]
    cs = ctx.site.cs("symptom-assessment")
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": ctx.next_id("sym"),
        "meta": meta(),
        "status": "final",
        "category": [cc(OBS_CATEGORY, "exam", "Exam")],
        "code": cc(LOINC, "75325-1", "Symptom"),
        "subject": ctx.patient_ref,
        "effectiveDateTime": ctx.site.fhir_time(effective),
        "valueCodeableConcept": cc(SCT, code, display, text),
    }
    if site:
        scode, sdisplay = BODY[site]
        res["bodySite"] = cc(SCT, scode, sdisplay)
    comps: list[dict[str, Any]] = []
    if status:
        comps.append(
            {
                "code": cc(cs, "progression", "Progression since last assessment"),
                "valueCodeableConcept": cc(cs, status, status.capitalize()),
            }
        )
    if severity:
        comps.append(
            {
                "code": cc(cs, "severity", "Severity"),
                "valueCodeableConcept": cc(cs, severity, severity.capitalize()),
            }
        )
    if comps:
        res["component"] = comps
    t = ctx.site.v2_time(effective)
    local = ctx.site.v2_local
    lines = [
        msh(ctx, when, "ORU^R01^ORU_R01"),
        pid(ctx),
        f"OBR|1||{res['id']}|SYMPTOM^Symptom assessment^{local}|||{t}|||||||||||||||{t}||NUR|F",
        f"OBX|1|CWE|75325-1^Symptom^LN|1|{code}^{display}^SCT^^^^^^{text}||||||F|||{t}",
    ]
    n = 2
    if site:
        scode, sdisplay = BODY[site]
        lines.append(f"OBX|{n}|CWE|BODYSITE^Body site^{local}|1|{scode}^{sdisplay}^SCT||||||F|||{t}")
        n += 1
    if status:
        lines.append(
            f"OBX|{n}|CWE|SYMPROG^Progression since last assessment^{local}|1|{status.upper()}^{status.capitalize()}^{local}||||||F|||{t}"
        )
        n += 1
    if severity:
        lines.append(
            f"OBX|{n}|CWE|SYMSEV^Severity^{local}|1|{severity.upper()}^{severity.capitalize()}^{local}||||||F|||{t}"
        )
    return Message(res, lines, description=f"Symptom: {display} ({status or 'no progression recorded'})")


def condition(
    ctx: Ctx,
    offset: timedelta,
    key: str,
    clinical: str = "active",
    category: str = "problem-list-item",
    onset: str | None = None,
    recorded: timedelta | None = None,
    vertebral_site: str | None = None,
    via: str = "PPR",
    note: str | None = None,
) -> Message:
    """A diagnosis: Condition with SNOMED CT (+ ICD-10-CM / ICD-10 where confirmed)."""
    when = ctx.at(offset)
    rec = ctx.at(recorded) if recorded is not None else when
    if key in CANCER:
        sct, display, icd_cm, icd_uk = CANCER[key]
        icd = icd_uk if ctx.site.nhs else icd_cm
    else:
        sct, display, icd = OTHER_CONDITION[key]
        if ctx.site.nhs:
            icd = None
    code: dict[str, Any] = cc(SCT, sct, display)
    if icd:
        code["coding"].append({"system": ICD10 if ctx.site.nhs else ICD10CM, "code": icd, "display": display})
    code["text"] = display
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": ctx.next_id("cond"),
        "meta": meta(),
        "clinicalStatus": cc(COND_CLINICAL, clinical, clinical.capitalize()),
        "verificationStatus": cc(COND_VERIFICATION, "confirmed", "Confirmed"),
        "category": [
            cc(
                COND_CATEGORY,
                category,
                "Problem List Item" if category == "problem-list-item" else "Encounter Diagnosis",
            )
        ],
        "code": code,
        "subject": ctx.patient_ref,
        "recordedDate": ctx.site.fhir_time(rec),
    }
    if onset:
        res["onsetDateTime"] = onset
    if vertebral_site:
        scode, sdisplay = BODY[vertebral_site]
        res["bodySite"] = [cc(SCT, scode, sdisplay)]
    if note:
        res["note"] = [{"text": note}]
    t = ctx.site.v2_time(rec)
    v2code = f"{sct}^{display}^SCT"
    if icd:
        v2code += f"^{icd}^{display}^{'I10' if ctx.site.nhs else 'I10C'}"
    if via == "PPR":
        life = {"active": "A^Active", "remission": "R^Remission", "resolved": "C^Resolved"}[clinical]
        onset_v2 = onset.replace("-", "") if onset else ""
        lines = [
            msh(ctx, when, "PPR^PC1^PPR_PC1"),
            pid(ctx),
            f"PRB|AD|{t}|{v2code}|{res['id']}||||||||||{life}^{ctx.site.v2_local}|{t}|{onset_v2}",
        ]
        if note:
            lines.append(f"NTE|1||{note}")
    else:  # an encounter diagnosis sent with the visit update
        lines = [
            msh(ctx, when, "ADT^A08^ADT_A01"),
            f"EVN|A08|{ctx.site.v2_time(when)}",
            pid(ctx),
            pv1(ctx, "I"),
            f"DG1|1||{v2code}|{display}|{t}|W",
        ]
    return Message(res, lines, description=f"Diagnosis recorded: {display} ({clinical})")


def lab_panel(
    ctx: Ctx,
    offset: timedelta,
    results: list[tuple[str, float, str, str | None, str | None]],
    panel: tuple[str, str] = ("BONE", "Bone profile"),
    bundle: bool = True,
    fhir_id: str | None = None,
    control: str | None = None,
    version: str = "1",
    collected: timedelta | None = None,
) -> Message:
    """Laboratory results of one sample. results: (lab key, value, UCUM unit, reference range, flag)."""
    when = ctx.at(offset)
    coll = ctx.at(collected) if collected is not None else when - timedelta(hours=1)
    specimen_id = fhir_id or ctx.next_id("spec")
    observations: list[dict[str, Any]] = []
    for i, (key, value, unit, ref, flag) in enumerate(results, start=1):
        loinc, display, _short = LAB[key]
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"{specimen_id}-{i}",
            "meta": meta(version),
            "status": "final",
            "category": [
                cc(
                    OBS_CATEGORY,
                    "vital-signs" if key == "temperature" else "laboratory",
                    "Vital Signs" if key == "temperature" else "Laboratory",
                )
            ],
            "code": cc(LOINC, loinc, display),
            "subject": ctx.patient_ref,
            "effectiveDateTime": ctx.site.fhir_time(coll),
            "issued": ctx.site.fhir_time(when),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
        if key != "temperature":
            obs["specimen"] = {"display": f"Serum sample {specimen_id}"}
        if ref:
            low, _, high = ref.partition("-")
            rr: dict[str, Any] = {}
            if low:
                rr["low"] = {"value": float(low), "unit": unit, "system": UCUM, "code": unit}
            if high:
                rr["high"] = {"value": float(high), "unit": unit, "system": UCUM, "code": unit}
            obs["referenceRange"] = [rr]
        if flag:
            names = {"H": "High", "HH": "Critical high", "L": "Low", "N": "Normal"}
            obs["interpretation"] = [cc(INTERPRETATION, flag, names[flag])]
        observations.append(obs)
    if bundle and len(observations) > 1:
        res: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": f"{specimen_id}-bundle",
            "meta": meta(version),
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"{ctx.site.base}/fhir/Observation/{o['id']}",
                    "resource": o,
                    "request": {"method": "PUT", "url": f"Observation/{o['id']}"},
                }
                for o in observations
            ],
        }
    else:
        res = observations[0]
    t_coll = ctx.site.v2_time(coll)
    t_rep = ctx.site.v2_time(when)
    lines = [
        msh(ctx, when, "ORU^R01^ORU_R01", control),
        pid(ctx),
        f"OBR|1||{specimen_id}^{ctx.site.lab_prefix}|{panel[0]}^{panel[1]}^{ctx.site.v2_local}|||{t_coll}|||||||||||||||{t_rep}||CH|F",
    ]
    for i, (key, value, unit, ref, flag) in enumerate(results, start=1):
        loinc, display, short = LAB[key]
        lines.append(
            f"OBX|{i}|NM|{loinc}^{short}^LN||{value:g}|{unit}^{unit}^UCUM|{ref or ''}|{flag or ''}|||F|||{t_coll}"
        )
    summary = ", ".join(f"{LAB[k][2]} {v:g} {u}" for k, v, u, _r, _f in results)
    return Message(res, lines, description=f"Results: {summary}")


def _wrap_tx(text: str, width: int = 78) -> list[str]:
    """Report text as TX lines of at most `width` characters, sentences running on across lines."""
    out: list[str] = []
    for para in text.split("\n"):
        words = para.split()
        line = ""
        for w in words:
            if line and len(line) + 1 + len(w) > width:
                out.append(line)
                line = w
            else:
                line = f"{line} {w}" if line else w
        out.append(line)
    return out


def imaging(
    ctx: Ctx,
    offset: timedelta,
    study: str,
    report: str,
    conclusion: str | None,
    status: str = "final",
    conclusion_codes: list[str] | None = None,
    in_conclusion: bool = True,
    performed: timedelta | None = None,
    tx_width: int = 78,
) -> Message:
    """A radiology report: DiagnosticReport with conclusion, presentedForm (base64) and narrative."""
    when = ctx.at(offset)
    perf = ctx.at(performed) if performed is not None else when - timedelta(hours=2)
    loinc, display, title = IMAGING[study]
    full = f"{title.upper()}\n{report}" + (f"\nCONCLUSION: {conclusion}" if conclusion else "")
    res: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": ctx.next_id("rad"),
        "meta": meta(),
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>'
            + full.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "</p><p>")
            + "</p></div>",
        },
        "status": status,
        "category": [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD", "Radiology")],
        "code": cc(LOINC, loinc, display, title),
        "subject": ctx.patient_ref,
        "effectiveDateTime": ctx.site.fhir_time(perf),
        "issued": ctx.site.fhir_time(when),
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "language": "en-GB" if ctx.site.nhs else "en-US",
                "data": base64.b64encode(full.encode("utf-8")).decode("ascii"),
                "title": title,
            }
        ],
    }
    if conclusion and in_conclusion:
        res["conclusion"] = conclusion
    if conclusion_codes:
        res["conclusionCode"] = [cc(SCT, *CONCLUSION_CODE[k]) for k in conclusion_codes]
    v2status = {"preliminary": "P", "final": "F", "amended": "C"}[status]
    t_perf = ctx.site.v2_time(perf)
    t_rep = ctx.site.v2_time(when)
    lines = [
        msh(ctx, when, "ORU^R01^ORU_R01"),
        pid(ctx),
        f"OBR|1||{res['id']}|{loinc}^{display}^LN|||{t_perf}|||||||||||||||{t_rep}||RAD|{v2status}",
    ]
    for i, line in enumerate(_wrap_tx(full, tx_width), start=1):
        lines.append(f"OBX|{i}|TX|{loinc}^{display}^LN|1|{line}||||||{v2status}|||{t_perf}")
    return Message(res, lines, description=f"{title} report ({status})")


def sins(ctx: Ctx, offset: timedelta, score: int, breakdown: str) -> Message:
    """A SINS score (no LOINC code exists): a local observation code, value 0-18, breakdown in note."""
    when = ctx.at(offset)
    cs = ctx.site.cs("spine-scores")
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": ctx.next_id("sins"),
        "meta": meta(),
        "status": "final",
        "category": [cc(OBS_CATEGORY, "imaging", "Imaging")],
        "code": cc(cs, "SINS", "Spinal Instability Neoplastic Score", "SINS"),
        "subject": ctx.patient_ref,
        "effectiveDateTime": ctx.site.fhir_time(when),
        "valueInteger": score,
        "note": [{"text": breakdown}],
    }
    t = ctx.site.v2_time(when)
    local = ctx.site.v2_local
    lines = [
        msh(ctx, when, "ORU^R01^ORU_R01"),
        pid(ctx),
        f"OBR|1||{res['id']}|SINS^Spinal Instability Neoplastic Score^{local}|||{t}|||||||||||||||{t}||RAD|F",
        f"OBX|1|NM|SINS^Spinal Instability Neoplastic Score^{local}||{score}|{{score}}^{{score}}^UCUM|0-18||||F|||{t}",
        f"NTE|1|L|{breakdown}",
    ]
    return Message(res, lines, description=f"SINS {score}")


def _med_code(ctx: Ctx, med: str) -> tuple[dict[str, Any], str, str]:
    """The medicine as the site codes it: CodeableConcept, v2 CE and a readable name."""
    if ctx.site.nhs:
        local, name, snomed = NGH_FORMULARY[med]
        concept: dict[str, Any] = {"coding": [], "text": name}
        if snomed:
            concept["coding"].append({"system": SCT, "code": snomed[0], "display": snomed[1]})
        concept["coding"].append({"system": ctx.site.cs("formulary"), "code": local, "display": name})
        v2 = f"{local}^{name}^{ctx.site.v2_local}"
        if snomed:
            v2 += f"^{snomed[0]}^{name}^SCT"
        return concept, v2, name
    code, name = RX[med]
    return cc(RXNORM, code, name, name), f"{code}^{name}^RXNORM", name


def med_request(
    ctx: Ctx,
    offset: timedelta,
    med: str,
    dose: str,
    dose_value: float,
    dose_unit: str,
    route: str,
    status: str = "active",
    change: str = "NW",
) -> Message:
    """A prescription (MedicationRequest / RDE^O11); status 'stopped' is sent as a discontinue."""
    when = ctx.at(offset)
    concept, v2code, name = _med_code(ctx, med)
    res: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": ctx.ids.get(med) or ctx.next_id("rx"),
        "meta": meta("2" if status == "stopped" else "1"),
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": ctx.patient_ref,
        "authoredOn": ctx.site.fhir_time(when),
        "dosageInstruction": [
            {
                "text": dose,
                "route": {"text": route},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": dose_value,
                            "unit": dose_unit,
                            "system": UCUM,
                            "code": dose_unit,
                        }
                    }
                ],
            }
        ],
    }
    ctx.ids[med] = res["id"]
    t = ctx.site.v2_time(when)
    orc = "DC" if status == "stopped" else change
    order_status = "DC" if status == "stopped" else "IP"
    lines = [
        msh(ctx, when, "RDE^O11^RDE_O11"),
        pid(ctx),
        f"ORC|{orc}|{res['id']}|||{order_status}||||{t}",
        f"RXE|^^^{t}|{v2code}|{dose_value:g}||{dose_unit}^{dose_unit}^UCUM|||||||||||||||||||||||||||||",
        f"TQ1|1||||||{t}",
        f"RXR|{route}",
    ]
    if ctx.site.hl7_version == "2.4":  # TQ1 arrived in v2.5; a v2.4 RDE carries the timing in RXE-1
        lines = [ln for ln in lines if not ln.startswith("TQ1")]
    verb = "stopped" if status == "stopped" else ("dose changed" if change == "XO" else "prescribed")
    return Message(res, lines, description=f"{name} {verb}")


def med_admin(
    ctx: Ctx, offset: timedelta, med: str, dose_value: float, dose_unit: str, route: str
) -> Message:
    """A dose given (MedicationAdministration / RAS^O17)."""
    when = ctx.at(offset)
    concept, v2code, name = _med_code(ctx, med)
    res: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": ctx.next_id("adm"),
        "meta": meta(),
        "status": "completed",
        "medicationCodeableConcept": concept,
        "subject": ctx.patient_ref,
        "effectiveDateTime": ctx.site.fhir_time(when),
        "dosage": {
            "route": {"text": route},
            "dose": {"value": dose_value, "unit": dose_unit, "system": UCUM, "code": dose_unit},
        },
    }
    if med in ctx.ids:
        res["request"] = {"reference": f"MedicationRequest/{ctx.ids[med]}"}
    t = ctx.site.v2_time(when)
    lines = [
        msh(ctx, when, "RAS^O17^RAS_O17"),
        pid(ctx),
        f"ORC|RE|{ctx.ids.get(med, res['id'])}|||CM||||{t}",
        f"RXA|0|1|{t}|{t}|{v2code}|{dose_value:g}|{dose_unit}^{dose_unit}^UCUM||||||||||||||CP",
        f"RXR|{route}",
    ]
    return Message(res, lines, description=f"{name} {dose_value:g} {dose_unit} given")


def procedure(
    ctx: Ctx,
    offset: timedelta,
    key: str | None,
    text: str,
    status: str = "completed",
    local_code: str | None = None,
    body_site: str | None = None,
) -> Message:
    """A procedure (Procedure / ADT^A08 PR1): radiotherapy started, vertebroplasty, decompression."""
    when = ctx.at(offset)
    coding: list[dict[str, str]] = []
    v2code = ""
    if key:
        code, display = PROCEDURE[key]
        coding.append({"system": SCT, "code": code, "display": display})
        v2code = f"{code}^{display}^SCT"
    if local_code:
        coding.append({"system": ctx.site.cs("procedures"), "code": local_code, "display": text})
        if not v2code:
            v2code = f"{local_code}^{text}^{ctx.site.v2_local}"
        else:
            v2code += f"^{local_code}^{text}^{ctx.site.v2_local}"
    res: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": ctx.next_id("proc"),
        "meta": meta(),
        "status": status,
        "code": {"coding": coding, "text": text},
        "subject": ctx.patient_ref,
    }
    if status == "in-progress":
        res["performedPeriod"] = {"start": ctx.site.fhir_time(when)}
    else:
        res["performedDateTime"] = ctx.site.fhir_time(when)
    if body_site:
        scode, sdisplay = BODY[body_site]
        res["bodySite"] = [cc(SCT, scode, sdisplay)]
    t = ctx.site.v2_time(when)
    lines = [
        msh(ctx, when, "ADT^A08^ADT_A01"),
        f"EVN|A08|{t}",
        pid(ctx),
        pv1(ctx, "I"),
        f"PR1|1||{v2code}|{text}|{t}|",
    ]
    return Message(res, lines, description=f"Procedure: {text} ({status})")


FHIR_ONLY = (
    "no HL7 v2 equivalent: care-pathway steps are recorded as FHIR Task/Communication by the "
    "hospital's workflow system and have no v2 message in this hospital's feed"
)


def task(
    ctx: Ctx,
    offset: timedelta,
    step: str,
    business_status: str | None = None,
    decision: str | None = None,
    note: str | None = None,
) -> Message:
    """A care step recorded as a FHIR Task (decision to treat, plan agreed, review, surgical opinion)."""
    when = ctx.at(offset)
    cs = ctx.site.cs("care-steps")
    names = {
        "decision-to-treat": "Decision to treat",
        "treatment-plan-agreed": "Treatment plan agreed",
        "clinician-review": "Clinician review",
        "spinal-surgical-opinion": "Spinal surgical opinion",
    }
    res: dict[str, Any] = {
        "resourceType": "Task",
        "id": ctx.next_id("task"),
        "meta": meta(),
        "status": "completed",
        "intent": "order",
        "code": cc(cs, step, names[step]),
        "for": ctx.patient_ref,
        "authoredOn": ctx.site.fhir_time(when),
        "lastModified": ctx.site.fhir_time(when),
        "executionPeriod": {"end": ctx.site.fhir_time(when)},
    }
    if business_status:
        bs = ctx.site.cs("review-outcome")
        labels = {
            "non-specific-back-pain": "Non-specific back pain",
            "mscc-excluded": "MSCC excluded",
            "instability-suspected": "Spinal instability suspected",
        }
        res["businessStatus"] = cc(bs, business_status, labels[business_status])
    if decision:
        dc = ctx.site.cs("treatment-decision")
        labels = {
            "radiotherapy": "Radiotherapy",
            "surgery": "Decompression surgery",
            "systemic": "Systemic therapy",
        }
        res["output"] = [
            {
                "type": cc(dc, "decision", "Decision"),
                "valueCodeableConcept": cc(dc, decision, labels[decision]),
            }
        ]
    if note:
        res["note"] = [{"text": note}]
    label = (
        names[step]
        + (f": {business_status}" if business_status else "")
        + (f": {decision}" if decision else "")
    )
    return Message(res, None, hl7_absent_reason=FHIR_ONLY, description=label)


def communication(
    ctx: Ctx,
    offset: timedelta,
    kind: str,
    text: str,
    escalation: str | None = None,
    override: bool = False,
) -> Message:
    """MSCC coordinator contacted, or an escalation acknowledged (about = the escalation raised)."""
    when = ctx.at(offset)
    cs = ctx.site.cs("communication-kind")
    labels = {
        "mscc-coordinator-contact": "MSCC coordinator contacted",
        "escalation-acknowledgement": "Escalation acknowledged",
    }
    res: dict[str, Any] = {
        "resourceType": "Communication",
        "id": ctx.next_id("comm"),
        "meta": meta(),
        "status": "completed",
        "category": [cc(cs, kind, labels[kind])],
        "subject": ctx.patient_ref,
        "sent": ctx.site.fhir_time(when),
        "payload": [{"contentString": text}],
    }
    if kind == "mscc-coordinator-contact":
        res["recipient"] = [{"display": "MSCC coordinator"}]
    about = None
    if escalation:
        about = {"escalation": escalation}
        res["about"] = [
            {
                "identifier": {
                    "system": "https://carepath.example/escalation",
                    "value": f"{{{{escalation:{escalation}}}}}",
                },
                "display": f"carepath escalation {escalation}",
            }
        ]
        if override:
            res["statusReason"] = cc(cs, "override", "Acknowledged with override", text)
    return Message(res, None, hl7_absent_reason=FHIR_ONLY, description=labels[kind], about=about)


def to_json(resource: dict[str, Any]) -> str:
    return json.dumps(resource, indent=2, ensure_ascii=False)
