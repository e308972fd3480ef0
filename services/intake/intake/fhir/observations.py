"""Observation -> a pain report (LOINC 72514-3 with its spinal site and features) or a laboratory result."""

from __future__ import annotations

from typing import Any

from carepath import envelope
from intake.fhir import reading
from intake.fhir.codemap import Entry
from intake.fhir.context import Context
from intake.fhir.issues import CODE_INVALID, REQUIRED, VALUE
from intake.fhir.mapped import Mapped, build
from intake.fhir.node import Node

PAIN = "carepath.pain.reported.v1"
LAB = "carepath.lab.resulted.v1"
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
    lab = reading.lookup(ctx.codes.table("labs"), code)
    if lab is not None:
        return _lab(root, ctx, lab)
    raise reading.unsupported(code, "an Observation code (a pain score or a listed laboratory test)")


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
    for component in root.items("component"):
        _component(component, ctx, data, features, origins)
    for name, values in features.items():
        data[name] = list(dict.fromkeys(values))
    return build(
        event_type=PAIN,
        patient=patient,
        time=when,
        data=data,
        origins=origins,
        root=root,
    )


def _score(root: Node) -> tuple[Any, Node]:
    integer = root.get("valueInteger")
    if integer is not None:
        return integer.value, integer
    quantity = root.get("valueQuantity")
    if quantity is not None:
        value = quantity.require("value")
        number = value.value
        if not isinstance(number, int | float) or float(number) != int(number):
            raise value.fail(f"{number!r}: a 0-10 pain score is a whole number", VALUE)
        return int(number), value
    raise root.field("valueInteger").fail(
        "required: the 0-10 pain score (valueInteger, or valueQuantity with a whole number)", REQUIRED
    )


def _component(
    component: Node,
    ctx: Context,
    data: dict[str, Any],
    features: dict[str, list[str]],
    origins: dict[str, Node],
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
        raise reading.unsupported(code, "a pain feature or detail")
    name = detail["detail"]
    if name == "neurological_status":
        value = component.require("valueCodeableConcept")
        data[name] = reading.coded(ctx.codes.table("neurological_statuses"), value, "a neurological status")[
            "status"
        ]
    elif name == "weakness_severity":
        value = component.require("valueCodeableConcept")
        data[name] = reading.coded(ctx.codes.table("weakness_severities"), value, "a weakness severity")[
            "severity"
        ]
    elif name == "improving":
        value = component.require("valueBoolean")
        data[name] = bool(value.value)
    elif name == "duration_days":
        value = component.require("valueQuantity")
        data[name] = _days(value)
    else:  # onset
        value = component.require("valueDateTime")
        data[name] = envelope.iso(reading.instant(value))
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
