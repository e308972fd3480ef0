"""Observation -> a pain report (LOINC 72514-3 with its spinal site and features), a symptom recorded on its
own (LOINC 75325-1 with the finding as its value), a body temperature, or a laboratory result.

A component whose code carepath does not know is not read, and the rest of the Observation is: the answer
says which component was not read (a warning naming its code), so a pain score is never lost to a
flowsheet row carepath has no use for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from carepath import envelope
from intake.fhir import reading
from intake.fhir.codemap import Entry
from intake.fhir.context import Context
from intake.fhir.issues import CODE_INVALID, NOT_SUPPORTED, REQUIRED, VALUE, Issue
from intake.fhir.mapped import Mapped, build, with_unread
from intake.fhir.node import Node

PAIN = "carepath.pain.reported.v1"
LAB = "carepath.lab.resulted.v1"
SYMPTOM = "carepath.symptom.recorded.v1"
IMAGING = "carepath.imaging.resulted.v1"
_TEMPERATURE_UNITS = frozenset({"Cel", "[degF]"})
_UCUM = "http://unitsofmeasure.org"
# Results that stand; registered (no result yet), cancelled and entered-in-error carry nothing to act on.
_STATUSES = {s: s for s in ("preliminary", "final", "amended", "corrected")}
_TIMES = ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued")
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_FLAGS = frozenset({"N", "H", "L", "HH", "LL"})
_DAYS_PER = {"d": 1.0, "h": 1 / 24, "min": 1 / 1440, "wk": 7.0}


def map_observation(root: Node, ctx: Context) -> Mapped:
    code = root.require("code")
    if reading.lookup(ctx.codes.table("pain_scores"), code) is not None:
        return _pain(root, ctx)
    if reading.lookup(ctx.codes.table("symptom_observations"), code) is not None:
        return _symptom(root, ctx)
    if reading.lookup(ctx.codes.table("temperatures"), code) is not None:
        return _temperature(root, ctx)
    lab = reading.lookup(ctx.codes.table("labs"), code)
    if lab is not None:
        return _lab(root, ctx, lab)
    if reading.lookup(ctx.codes.table("sins_scores"), code) is not None:
        return _sins(root, ctx)
    finding = reading.lookup(ctx.codes.table("pain_features"), code)
    if finding is not None:
        return _finding_as_code(root, ctx, finding)
    raise reading.unsupported(
        code,
        "an Observation code (a pain score, a symptom, a body temperature, a listed laboratory test or a "
        "SINS)",
    )


_SINS_STATUS = {"final": "final", "amended": "amended", "corrected": "amended", "preliminary": "preliminary"}


def _sins(root: Node, ctx: Context) -> Mapped:
    """A SINS scored on its own: the score 0-18 (valueInteger, or a whole valueQuantity), the breakdown in
    ``note``; the imaging it was scored from is not named, so neither modality nor region is."""
    patient, when, _, origins = _common(root, ctx)
    status, status_node = reading.status(root, _SINS_STATUS, "a SINS")
    score, score_node = _score(root, "a SINS (0-18)")
    if not 0 <= score <= 18:
        raise score_node.fail(f"SINS {score} is not 0-18", VALUE)
    data: dict[str, Any] = {"report_status": status, "sins_score": score}
    origins["/data/report_status"] = status_node
    origins["/data/sins_score"] = score_node
    notes = "\n".join(str(n.value.get("text", "")) for n in root.items("note")).strip()
    if notes:
        data["impression"] = notes[:20000]
    return build(event_type=IMAGING, patient=patient, time=when, data=data, origins=origins, root=root)


def _common(root: Node, ctx: Context) -> tuple[str, Any, Node, dict[str, Node]]:
    reading.status(root, _STATUSES, "an Observation")
    patient = reading.patient(root, ctx)
    when, when_node = reading.first_time(root, _TIMES)
    origins = {"/subject": root.field("subject").field("reference"), "/time": when_node}
    return patient, when, when_node, origins


def _pain(root: Node, ctx: Context) -> Mapped:
    patient, when, _, origins = _common(root, ctx)
    data: dict[str, Any] = {}
    data["nrs"], origins["/data/nrs"] = _score(root)
    site_node = root.require("bodySite", "the spinal site of the pain")
    site = reading.coded(ctx.codes.table("spinal_sites"), site_node, "a spinal site")
    data["site"] = [site["site"]]
    origins["/data/site"] = site_node
    features: dict[str, list[str]] = {}
    unread: list[Node] = []
    for component in root.items("component"):
        _component(component, ctx, data, features, origins, unread)
    for name, values in features.items():
        data[name] = list(dict.fromkeys(values))
    # A date alone is read as its first moment in UTC: the day of the assessment itself can be a few hours
    # "after" an assessment made early in the morning east of UTC; it is then the assessment's time.
    date_only = "onset" in data and len(str(origins["/data/onset"].value)) == 10
    if date_only and timedelta(0) < envelope.parse_time(data["onset"]) - when < timedelta(days=1):
        data["onset"] = envelope.iso(when)
    mapped = build(event_type=PAIN, patient=patient, time=when, data=data, origins=origins, root=root)
    return _unread(mapped, unread)


def _symptom(root: Node, ctx: Context) -> Mapped:
    """LOINC 75325-1 Symptom: the finding is the valueCodeableConcept (a SNOMED CT finding), its course and
    severity are components, its body site ``bodySite`` (numbness with a perineal site is saddle
    anaesthesia)."""
    patient, when, _, origins = _common(root, ctx)
    value = root.require("valueCodeableConcept", "the symptom or finding recorded")
    finding = reading.coded(ctx.codes.table("pain_features"), value, "a symptom or finding")
    feature, code = finding["feature"], finding["value"]
    unread: list[Node] = []
    data: dict[str, Any] = {}
    code = _symptom_site(root, ctx, code, data, origins, unread)
    data[feature] = [code]
    origins.setdefault(f"/data/{feature}", value)
    features: dict[str, list[str]] = {feature: [code]}
    for component in root.items("component"):
        _symptom_component(component, ctx, data, features, origins, unread)
    for name, values in features.items():
        data[name] = list(dict.fromkeys(values))
    if "weakness_severity" in data and "limb_weakness" not in data.get("neurological", ()):
        unread.append(origins.pop("/data/weakness_severity"))  # a severity of another finding: not read
        del data["weakness_severity"]
    mapped = build(event_type=SYMPTOM, patient=patient, time=when, data=data, origins=origins, root=root)
    return _unread(mapped, unread)


def _symptom_site(
    root: Node, ctx: Context, code: str, data: dict[str, Any], origins: dict[str, Node], unread: list[Node]
) -> str:
    """Read a symptom's ``bodySite``: numbness at a perineal site is saddle anaesthesia (the finding's code
    is returned changed), a spinal region is ``site``, a limb is known and not used, anything else unread."""
    site_node = root.get("bodySite")
    if site_node is None:
        return code
    if reading.lookup(ctx.codes.table("saddle_sites"), site_node) is not None:
        if code == "sensory_loss":
            origins["/data/neurological"] = site_node
            return "saddle_anaesthesia"
        return code
    site = reading.lookup(ctx.codes.table("spinal_sites"), site_node)
    if site is not None and site["site"] != "other":
        data["site"] = [site["site"]]
        origins["/data/site"] = site_node
    elif site is None:
        unread.append(site_node)
    return code


# The answers that say a finding recorded as the Observation's own code is present (HL7 table 0136 and the
# SNOMED CT qualifiers Yes / Present).
_PRESENT = frozenset(
    {
        ("http://terminology.hl7.org/CodeSystem/v2-0136", "Y"),
        ("http://snomed.info/sct", "373066001"),
        ("http://snomed.info/sct", "52101004"),
    }
)


def _finding_as_code(root: Node, ctx: Context, finding: Entry) -> Mapped:
    """A finding sent as the Observation's own code (SNOMED CT on FHIR's pattern, and how flowsheet rows are
    often exported): present when there is no value, ``valueBoolean`` true, or a coded Yes / Present - as an
    HL7 v2 OBX whose OBX-3 is the finding is read. A finding stated absent is refused, naming the value:
    carepath records findings that are present."""
    patient, when, _, origins = _common(root, ctx)
    code_node = root.require("code")
    answer = root.get("valueBoolean")
    if answer is not None and answer.value is not True:
        raise answer.fail("a finding stated absent: carepath records findings that are present", VALUE)
    coded = root.get("valueCodeableConcept")
    if coded is not None:
        pairs = {(str(c.get("system")), str(c.get("code"))) for c in coded.value.get("coding") or []}
        if not pairs & _PRESENT:
            raise coded.fail("the answer to a finding must be Yes or Present (HL7 0136 Y, SNOMED CT)", VALUE)
    feature, value = finding["feature"], finding["value"]
    unread: list[Node] = []
    data: dict[str, Any] = {}
    value = _symptom_site(root, ctx, value, data, origins, unread)
    data[feature] = [value]
    origins.setdefault(f"/data/{feature}", code_node)
    mapped = build(event_type=SYMPTOM, patient=patient, time=when, data=data, origins=origins, root=root)
    return _unread(mapped, unread)


def _symptom_component(
    component: Node,
    ctx: Context,
    data: dict[str, Any],
    features: dict[str, list[str]],
    origins: dict[str, Node],
    unread: list[Node],
) -> None:
    code = component.require("code")
    feature = reading.lookup(ctx.codes.table("pain_features"), code)
    if feature is not None:
        present = component.get("valueBoolean")
        if present is not None and present.value is True:
            features.setdefault(feature["feature"], []).append(feature["value"])
            origins.setdefault(f"/data/{feature['feature']}", code)
        elif present is None:
            unread.append(component)
        return
    detail = reading.lookup(ctx.codes.table("pain_details"), code)
    name = detail["detail"] if detail is not None else None
    answer = component.get("valueCodeableConcept")
    if name == "neurological_status" and answer is not None:
        data["status"] = reading.coded(ctx.codes.table("symptom_statuses"), answer, "a symptom's course")[
            "status"
        ]
        origins["/data/status"] = answer
    elif name == "weakness_severity" and answer is not None:
        table = ctx.codes.table("weakness_severities")
        data["weakness_severity"] = reading.coded(table, answer, "a severity")["severity"]
        origins["/data/weakness_severity"] = answer
    else:
        unread.append(component)


def _temperature(root: Node, ctx: Context) -> Mapped:
    """A body temperature (LOINC 8310-5 and the other codes of vital.temperature), in UCUM Cel or [degF]."""
    patient, when, _, origins = _common(root, ctx)
    quantity = root.require("valueQuantity", "the temperature measured")
    value = quantity.require("value")
    unit = quantity.value.get("code")
    system = quantity.value.get("system")
    if unit not in _TEMPERATURE_UNITS or (system is not None and system != _UCUM):
        shown = f"{system or '(no system)'}|{unit}" if isinstance(unit, str) else "no unit code"
        raise quantity.field("code").fail(
            f"{shown[:120]}: a body temperature is read in UCUM Cel or [degF] (system {_UCUM})", CODE_INVALID
        )
    if not isinstance(value.value, int | float) or isinstance(value.value, bool):
        raise value.fail("the temperature is not a number", VALUE)
    data = {"temperature": {"value": value.value, "unit": unit}}
    origins["/data/temperature"] = quantity
    origins["/data/temperature/value"] = value
    return build(event_type=SYMPTOM, patient=patient, time=when, data=data, origins=origins, root=root)


def _unread(mapped: Mapped, nodes: list[Node]) -> Mapped:
    issues = [
        Issue(
            NOT_SUPPORTED,
            f"not read: {reading.describe_codings(node.field('code') if node.get('code') else node)[:200]} is "
            "not a code carepath reads here; the rest of the resource was read",
            node.expression,
            node.pointer,
            severity="warning",
        )
        for node in nodes
    ]
    codes = tuple(
        (str(c.get("system", "")), str(c.get("code", "")))
        for node in nodes
        for c in reading.codings(node.field("code") if node.get("code") else node)
    )
    return with_unread(mapped, issues, codes)


def _score(root: Node, what: str = "the 0-10 pain score") -> tuple[Any, Node]:
    integer = root.get("valueInteger")
    if integer is not None:
        return integer.value, integer
    quantity = root.get("valueQuantity")
    if quantity is not None:
        value = quantity.require("value")
        number = value.value
        if not isinstance(number, int | float) or float(number) != int(number):
            raise value.fail(f"{number!r}: {what} is a whole number", VALUE)
        return int(number), value
    raise root.field("valueInteger").fail(
        f"required: {what} (valueInteger, or valueQuantity with a whole number)", REQUIRED
    )


def _component(
    component: Node,
    ctx: Context,
    data: dict[str, Any],
    features: dict[str, list[str]],
    origins: dict[str, Node],
    unread: list[Node],
) -> None:
    code = component.require("code")
    feature = reading.lookup(ctx.codes.table("pain_features"), code)
    if feature is not None:
        present = component.get("valueBoolean")
        if present is None:
            raise component.field("valueBoolean").fail(
                "required: true when the feature is present, false when it is stated absent", REQUIRED
            )
        if present.value is True:
            features.setdefault(feature["feature"], []).append(feature["value"])
            origins.setdefault(f"/data/{feature['feature']}", code)
        return
    detail = reading.lookup(ctx.codes.table("pain_details"), code)
    if detail is None:
        unread.append(component)
        return
    name = detail["detail"]
    if name == "neurological_status":
        value = component.require("valueCodeableConcept")
        status = reading.lookup(ctx.codes.table("neurological_statuses"), value)
        if status is None:  # a course the pain contract has no value for (improving), or an unlisted one
            unread.append(component)
            return
        data[name] = status["status"]
    elif name == "weakness_severity":
        value = component.require("valueCodeableConcept")
        data[name] = reading.coded(ctx.codes.table("weakness_severities"), value, "a weakness severity")[
            "severity"
        ]
    elif name in ("improving", "new_episode"):
        value = component.require("valueBoolean")
        data[name] = bool(value.value)
    elif name == "duration_days":
        value = component.require("valueQuantity")
        data[name] = _days(value)
    else:  # onset: a flowsheet often records the day alone
        value = component.require("valueDateTime")
        data[name] = envelope.iso(reading.instant(value, date_allowed=True))
    origins[f"/data/{name}"] = value


def _days(quantity: Node) -> float:
    amount = quantity.require("value")
    unit = quantity.value.get("code") or quantity.value.get("unit")
    if unit not in _DAYS_PER:
        raise quantity.field("code").fail(
            f"duration unit {unit!r}: carepath reads durations in UCUM d, h, min or wk", VALUE
        )
    return round(float(amount.value) * _DAYS_PER[unit], 6)


def _lab(root: Node, ctx: Context, lab: Entry) -> Mapped:
    patient, when, _, origins = _common(root, ctx)
    test = lab["test"]
    quantity = root.get("valueQuantity")
    if quantity is None:
        raise root.field("valueQuantity").fail(f"required: the {test} result as a Quantity", REQUIRED)
    if quantity.get("comparator") is not None:
        raise quantity.field("comparator").fail(
            f"a bounded result ({quantity.value['comparator']}{quantity.value.get('value')}) is not a value "
            "carepath can compare with a threshold; send the measured value",
            VALUE,
        )
    value = quantity.require("value")
    unit_node, unit = _unit(quantity, ctx, test)
    data: dict[str, Any] = {"test": test, "value": value.value, "unit": unit}
    origins.update({"/data/test": root.field("code"), "/data/value": value, "/data/unit": unit_node})
    reference = _reference_range(root, ctx, test, unit)
    if reference:
        data["reference_range"] = reference
        origins["/data/reference_range"] = root.items("referenceRange")[0]
    flag = _flag(root)
    if flag:
        data["abnormal_flag"] = flag
    return build(
        event_type=LAB,
        patient=patient,
        time=when,
        data=data,
        origins=origins,
        root=root,
    )


def _unit(quantity: Node, ctx: Context, test: str) -> tuple[Node, str]:
    code = quantity.get("code")
    node = code if code is not None else quantity.field("unit")
    ucum = node.value
    if ucum is None:
        raise quantity.field("code").fail(f"required: the UCUM unit of the {test} result", REQUIRED)
    unit = ctx.codes.unit("lab_units", str(ucum))
    if unit is None:
        raise node.fail(
            f"unit {ucum!r} is not a UCUM unit carepath reads for {test}; it is never converted by guess",
            CODE_INVALID,
        )
    return node, unit


def _reference_range(root: Node, ctx: Context, test: str, unit: str) -> dict[str, float]:
    ranges = root.items("referenceRange")
    if not ranges:
        return {}
    out: dict[str, float] = {}
    for bound in ("low", "high"):
        node = ranges[0].get(bound)
        if node is None or node.get("value") is None:
            continue
        if node.get("code") is None and node.get("unit") is None:
            out[bound] = node.value["value"]  # a bound without a unit is in the result's unit
            continue
        bound_unit_node, bound_unit = _unit(node, ctx, test)
        if bound_unit != unit:
            raise bound_unit_node.fail(
                f"reference range in {bound_unit} but the result in {unit}: they must share one unit", VALUE
            )
        out[bound] = node.value["value"]
    return out


def _flag(root: Node) -> str | None:
    for concept in root.items("interpretation"):
        for coding in reading.codings(concept):
            if coding.get("system") == _INTERPRETATION and coding.get("code") in _FLAGS:
                return str(coding["code"])
    return None  # other interpretations are not carried: the value and reference range are
