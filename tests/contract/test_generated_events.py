"""What intake accepts, every consumer reads: events generated from the input schemas, spelt as senders
spell JSON, admitted by intake and read by triage and followup.

For every input type, events are generated from its schema (``hypothesis-jsonschema``), written out as JSON
text with the number spellings senders use (``8.0``, ``8E0``, ``-0``, ``1e-400``), escaped or raw unicode,
and times with offsets, fractional seconds and lower-case ``t``/``z``. Each is parsed as intake parses a
body and admitted by ``intake.admission.admit``; every event admitted is then read from the published
bytes by triage (reader and rules, over a patient with a known cancer) and by followup (reader, core, and a
tick two days later, with triage's escalations). None of them may fail: a failure there is an event a
sender was told was stored and that no clinician would ever see.

Bounded and reproducible (derandomised); ``CAREPATH_CONTRACT_EXAMPLES`` raises the count for a longer run.
"""

from __future__ import annotations

import functools
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from carepath import contracts, envelope
from carepath.resources import pathways_dir
from followup.core import PatientExpectations, Tick, advance, parse_input
from followup.core import load_pathway as load_followup
from intake.admission import Admitted, admit
from triage.core import PatientState, evaluate, load_pathway, parse_event

pytestmark = pytest.mark.contract

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=5)
EXAMPLES = int(os.environ.get("CAREPATH_CONTRACT_EXAMPLES", "50"))
ACK = "carepath.escalation.acknowledged.v1"
TRIAGE = load_pathway(pathways_dir() / "mscc")
FOLLOWUP = load_followup(pathways_dir() / "mscc")
_ANNOTATIONS = frozenset({"$id", "$schema", "$comment", "errorMessage", "title", "description", "examples"})


# ---------------------------------------------------------------------------------------------------------
# The schema of a type, self-contained, in the dialect hypothesis-jsonschema generates from


def standalone(type_name: str) -> dict[str, Any]:
    catalogue = contracts._catalogue()
    schema = catalogue.schemas[f"{type_name}.schema.json"]
    out = _inline(schema, catalogue.registry.resolver(base_uri=schema["$id"]))
    assert isinstance(out, dict)
    return out


def _inline(node: Any, resolver: Any) -> Any:
    if isinstance(node, list):
        return [_inline(v, resolver) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    parts: list[Any] = []
    for key, value in node.items():
        if key in _ANNOTATIONS or key.startswith("x-") or key == "$defs":
            continue
        if key == "$ref":
            resolved = resolver.lookup(value)
            parts.append(_inline(resolved.contents, resolved.resolver))
        elif key == "format":
            continue  # the patterns give the shape; calendar validity is checked by admission below
        elif key in ("dependentSchemas", "dependentRequired"):
            deps = out.setdefault("dependencies", {})
            for name, dependent in value.items():
                deps[name] = _inline(dependent, resolver) if key == "dependentSchemas" else list(dependent)
        elif key in ("properties", "patternProperties"):
            out[key] = {k: _inline(v, resolver) for k, v in value.items()}
        else:
            out[key] = _inline(value, resolver)
    if parts:
        return {"allOf": [*parts, out]} if out else parts[0] if len(parts) == 1 else {"allOf": parts}
    return out


def _condition(cond: Any) -> tuple[str, Any] | None:
    """``(name, value)`` for an ``if`` that tests one property against a constant."""
    if not isinstance(cond, dict) or not set(cond) <= {"properties", "required"}:
        return None
    props = cond.get("properties", {})
    if len(props) != 1:
        return None
    [(name, sub)] = props.items()
    return (name, sub["const"]) if isinstance(sub, dict) and set(sub) == {"const"} else None


def specialise(node: Any, fixed: dict[str, Any]) -> Any:
    """``node`` with every ``if`` on a property whose value is fixed replaced by the branch it takes.

    if/then/else over a discriminator (a lab test, then its unit) is legal JSON Schema that the generator
    handles by trial and error; choosing the discriminator first makes generation direct."""
    if isinstance(node, list):
        return [specialise(v, fixed) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: specialise(v, fixed) for k, v in node.items() if k not in ("if", "then", "else")}
    if "if" in node:
        cond = _condition(node["if"])
        if cond is not None and cond[0] in fixed:
            branch = node.get("then", True) if fixed[cond[0]] == cond[1] else node.get("else", True)
            if branch is not True:
                out["allOf"] = [*out.get("allOf", []), specialise(branch, fixed)]
        else:
            out.update({k: specialise(node[k], fixed) for k in ("if", "then", "else") if k in node})
    return out


def open_conditions(node: Any) -> list[tuple[str, Any]]:
    if isinstance(node, list):
        return [c for v in node for c in open_conditions(v)]
    if not isinstance(node, dict):
        return []
    found = [c for k, v in node.items() if k != "if" for c in open_conditions(v)]
    cond = _condition(node.get("if"))
    return [cond, *found] if cond is not None else found


@st.composite
def from_contract(draw: st.DrawFn, type_name: str) -> Any:
    schema = STANDALONE[type_name]
    members = set(schema["properties"]["data"].get("properties", {}))  # discriminators of data itself
    fixed: dict[str, Any] = {}
    while True:
        conditions = open_conditions(specialise(schema["properties"]["data"], fixed))
        pending = [c for c in conditions if c[0] in members and c[0] not in fixed]
        if not pending:
            break
        name = pending[0][0]
        values = sorted({json.dumps(v) for k, v in pending if k == name})
        fixed[name] = json.loads(draw(st.sampled_from(values)))
    return draw(_strategy(type_name, json.dumps(fixed, sort_keys=True)))


@functools.cache
def _strategy(type_name: str, fixed: str) -> st.SearchStrategy[Any]:
    chosen = json.loads(fixed)
    schema = specialise(STANDALONE[type_name], chosen)
    if chosen:  # the discriminators themselves, fixed
        pinned = {"properties": {k: {"const": v} for k, v in chosen.items()}, "required": sorted(chosen)}
        schema["properties"]["data"] = {"allOf": [schema["properties"]["data"], pinned]}
    return from_schema(schema)


# ---------------------------------------------------------------------------------------------------------
# Writing an event as a sender might: numbers, strings and times in every spelling that means the same

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


# instants at the ends of the calendar, where a conversion to UTC overflows
EDGE_TIMES = [
    "0001-01-01T00:30:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:30:00-01:00",
    "1900-01-01T00:00:00Z",
]


@st.composite
def recent_time(draw: st.DrawFn) -> str:
    """A time in the last year, with any offset, precision and case the contract allows."""
    ago = draw(st.integers(min_value=0, max_value=365 * 86_400_000_000))
    moment = NOW - timedelta(microseconds=ago)
    minutes = draw(st.sampled_from([0, 0, 60, -300, 330, 345, -720, 840, -59]))
    local = moment.astimezone(UTC) + timedelta(minutes=minutes)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    digits = draw(st.sampled_from([0, 0, 1, 3, 6, 9]))
    if digits:
        text += "." + f"{local.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    if minutes == 0:
        text += draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"]))
    else:
        sign = "+" if minutes > 0 else "-"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text.replace("T", draw(st.sampled_from(["T", "T", "t"])))


def spell(value: Any, draw: st.DrawFn) -> str:
    if isinstance(value, dict):
        members = [f"{spell(k, draw)}:{spell(v, draw)}" for k, v in value.items()]
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(spell(v, draw) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return orjson.dumps(value).decode()
    if isinstance(value, int):
        spellings = [str(value), f"{value}.0", f"{value}E0", f"{value}e+0", f"{value * 10}e-1"]
        if value == 0:
            spellings += ["-0", "-0.0", "0e5", "1e-400", "-1e-400", "0.000"]
        return draw(st.sampled_from(spellings))
    if isinstance(value, float):
        text = orjson.dumps(value).decode()
        return draw(st.sampled_from([text, text.upper(), json.dumps(value)]))
    assert isinstance(value, str)
    return draw(st.sampled_from([orjson.dumps(value).decode(), json.dumps(value, ensure_ascii=True)]))


def with_times(value: Any, draw: st.DrawFn) -> Any:
    """Timestamps generated from the pattern are mostly centuries away: most become recent ones."""
    if isinstance(value, dict):
        return {k: with_times(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [with_times(v, draw) for v in value]
    if isinstance(value, str) and _TIMESTAMP.match(value):
        roll = draw(st.integers(0, 19))
        if roll < 16:
            return draw(recent_time())
        if roll < 18:
            return draw(st.sampled_from(EDGE_TIMES))
    return value


@st.composite
def sent(draw: st.DrawFn, type_name: str) -> bytes:
    event = with_times(draw(from_contract(type_name)), draw)
    return spell(event, draw).encode()


STANDALONE = {t: standalone(t) for t in sorted(contracts.INPUT_TYPES)}


# ---------------------------------------------------------------------------------------------------------
# Every consumer reads what intake admitted


def history(patient: str) -> list[dict[str, Any]]:
    """A patient with active cancer and known spinal metastases, so that the red-flag rules can fire."""
    return [
        envelope.cloudevent(
            id=f"history-{patient}",
            type="carepath.diagnosis.recorded.v1",
            source="urn:test",
            subject=patient,
            time=NOW - timedelta(days=30),
            data={"cancer": {"primary_site": "breast", "status": "active", "spinal_metastases": "known"}},
        )
    ]


def consume(published: dict[str, Any]) -> None:
    """triage then followup, as the workers run them; raises whatever a worker would dead-letter."""
    patient = published["subject"]
    state = PatientState.empty(patient)
    expectations = PatientExpectations.empty(patient)
    for item in [*history(patient), published]:
        escalations: list[dict[str, Any]] = []
        if item["type"] != ACK:
            outcome = evaluate(state, parse_event(item), NOW, TRIAGE)
            state = outcome.state
            escalations = [
                envelope.cloudevent(
                    id=e.cloudevent_id,
                    type=e.type,
                    source="urn:carepath:triage",
                    subject=patient,
                    time=NOW,
                    data=e.data,
                )
                for e in outcome.escalations
            ]
        for followup_item in [item, *escalations]:
            expectations = advance(expectations, parse_input(followup_item), NOW, FOLLOWUP).expectations
    for later in (timedelta(hours=1), timedelta(days=2)):
        expectations = advance(expectations, Tick(), NOW + later, FOLLOWUP).expectations


def check(raw: bytes) -> Admitted | None:
    verdict = admit(orjson.loads(raw), NOW, TOLERANCE)
    if not isinstance(verdict, Admitted):
        return None
    published = orjson.loads(verdict.value)  # what a consumer reads off the topic
    assert contracts.validate_event(published) == [], (raw, published)
    assert envelope.canonical_numbers(published) == published
    consume(published)
    return verdict


ADMITTED: dict[str, int] = {}


@pytest.mark.parametrize("type_name", sorted(contracts.INPUT_TYPES))
def test_every_event_intake_admits_is_read_by_every_consumer(type_name: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        raw = data.draw(sent(type_name))
        if check(raw) is not None:
            ADMITTED[type_name] = ADMITTED.get(type_name, 0) + 1

    run()
    # the generator reaches the consumers: a good share of what it writes is admitted
    assert ADMITTED.get(type_name, 0) >= EXAMPLES // 10, ADMITTED


WHOLE = ["8", "8.0", "8E0", "80e-1", "0.8e1", "7.0", "-0", "-0.0", "1e-400", "0e5", "10.000"]


@pytest.mark.parametrize("spelling", WHOLE)
def test_a_whole_pain_score_in_any_spelling_reaches_triage_as_an_integer(spelling: str) -> None:
    expected = int(float(spelling))
    raw = (
        '{"specversion":"1.0","id":"e-1","source":"urn:test","type":"carepath.pain.reported.v1",'
        '"subject":"p-1","time":"2026-11-21T08:30:00.123456789+01:00","data":{"nrs":' + spelling + ","
        '"site":["thoracic"],"neurological":["limb_weakness"],"duration_days":' + spelling + "}}"
    )
    verdict = check(raw.encode())
    assert verdict is not None
    published = orjson.loads(verdict.value)
    assert published["data"]["nrs"] == expected and type(published["data"]["nrs"]) is int
    assert parse_event(published).data["nrs"] == expected


@pytest.mark.parametrize("spelling", ["8.5", "11.0", "-1", "-0.5", "1e300", "true", '"8"', "null"])
def test_a_pain_score_that_is_not_a_whole_number_0_to_10_is_refused(spelling: str) -> None:
    raw = (
        '{"specversion":"1.0","id":"e-1","source":"urn:test","type":"carepath.pain.reported.v1",'
        '"subject":"p-1","time":"2026-11-21T08:30:00Z","data":{"nrs":' + spelling + ',"site":["thoracic"]}}'
    )
    verdict = admit(orjson.loads(raw), NOW, TOLERANCE)
    assert not isinstance(verdict, Admitted)
    assert verdict.errors[0].field == "/data/nrs"
