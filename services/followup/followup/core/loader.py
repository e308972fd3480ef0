"""Read and validate the follow-up pathway: ``pathway.yaml`` (id, version) and ``followup.yaml``.

Every problem is a ``PathwayError`` naming the file, the place in it and what is wrong, so that a
clinical safety officer editing the file sees at start-up exactly which line to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carepath import yamlfile
from followup.core.durations import Duration, parse_duration
from followup.core.pathway import (
    Condition,
    Deadline,
    ExpectationRule,
    FollowupPathway,
    Level,
    PathwayError,
    Requirement,
    Satisfier,
    Timing,
    WarningAt,
)
from followup.core.patterns import EventPattern, OpeningPattern
from followup.core.vocabulary import (
    CANCER_STATUSES,
    CARE_STEPS,
    COMPRESSION,
    CONCLUSIONS,
    DECISIONS,
    LAB_TESTS,
    MODALITIES,
    REGIONS,
    REPORT_STATUSES,
    ROLES,
    SEVERITIES,
    TREATMENT_CATEGORIES,
    TREATMENT_CHANGES,
    TRIAGE_RULES,
    VERIFICATIONS,
)

EVIDENCE_TAGS = frozenset({"P", "S", "G"})
FREE_TEXT = frozenset[str]()  # marks a field whose values are free words (matched case-insensitively)

# For each pattern kind: its fields and the words each may hold.
PATTERN_FIELDS: dict[str, dict[str, frozenset[str]]] = {
    "pain_report": {},
    "symptom": {},
    "imaging": {
        "modality": MODALITIES,
        "region": REGIONS,
        "report_status": REPORT_STATUSES,
        "compression": COMPRESSION,
    },
    "treatment": {"category": TREATMENT_CATEGORIES, "change": TREATMENT_CHANGES, "agent": FREE_TEXT},
    "lab": {"test": LAB_TESTS},
    "care_step": {"step": CARE_STEPS, "decision": DECISIONS, "conclusion": CONCLUSIONS},
    "diagnosis": {"cancer_status": CANCER_STATUSES, "verification": VERIFICATIONS},
    "escalation_raised": {"rules": frozenset(TRIAGE_RULES), "severity": frozenset(SEVERITIES)},
    "escalation_resolved": {"rules": frozenset(TRIAGE_RULES)},
    "escalation_open": {"rules": frozenset(TRIAGE_RULES)},
    "acknowledgement": {},
}

_EXPECTATION_KEYS = {
    "required": {"id", "name", "expected", "opened_by", "satisfied_when", "source", "evidence"},
    "optional": {
        "only_if",
        "repeat_opening",
        "clock_starts",
        "satisfying_events",
        "cancelled_by",
        "deadline",
        "warnings",
        "chain",
        "timing_by_severity",
        "note",
    },
}


class _At:
    """A place in a file, for error messages: ``followup.yaml: expectations[2] (F3).deadline``."""

    def __init__(self, file: str, path: str = "") -> None:
        self.file = file
        self.path = path

    def __truediv__(self, key: str | int) -> _At:
        if isinstance(key, int):
            return _At(self.file, f"{self.path}[{key}]")
        return _At(self.file, f"{self.path}.{key}" if self.path else key)

    def error(self, message: str) -> PathwayError:
        return PathwayError(f"{self.file}: {self.path or 'top level'}: {message}")


def load_pathway(directory: Path) -> FollowupPathway:
    """Load ``pathway.yaml`` and the follow-up file it names from ``directory``; raise ``PathwayError``."""
    head_at = _At("pathway.yaml")
    head = _mapping(_read(directory / "pathway.yaml", head_at, "pathway"), head_at)
    pathway_id = _text(head.get("id"), head_at / "id")
    version = _text(str(head["version"]) if "version" in head else None, head_at / "version")
    files = head.get("files") or {}
    follow_name = files.get("follow_up", "followup.yaml") if isinstance(files, Mapping) else "followup.yaml"
    at = _At(str(follow_name))
    document = _mapping(
        _read(directory / str(follow_name), at, "followup"), at, required={"pathway", "expectations"}
    )
    if document["pathway"] != pathway_id:
        raise (at / "pathway").error(f"{document['pathway']!r} does not match pathway.yaml id {pathway_id!r}")
    items = document["expectations"]
    if not isinstance(items, list) or not items:
        raise (at / "expectations").error("a non-empty list of expectations is required")
    rules: list[ExpectationRule] = []
    for index, item in enumerate(items):
        rule = _expectation(item, at / "expectations" / index)
        if any(existing.id == rule.id for existing in rules):
            raise (at / "expectations" / index).error(f"expectation id {rule.id} appears twice")
        rules.append(rule)
    return FollowupPathway(
        id=pathway_id,
        version=version,
        title=str(head.get("title", "")),
        status=str(head.get("status", "")),
        expectations=tuple(rules),
        remembered=_remembered(rules),
        _by_id={rule.id: rule for rule in rules},
    )


def _read(path: Path, at: _At, kind: str) -> object:
    try:
        return yamlfile.load(path, kind)
    except yamlfile.YamlFileError as exc:
        raise PathwayError(f"{at.file}: {exc.detail}") from None


def _expectation(value: object, at: _At) -> ExpectationRule:
    rule_id = _text(_mapping(value, at).get("id"), at / "id")
    if not re.fullmatch(r"[FA]\d+", rule_id):
        raise (at / "id").error(f"{rule_id!r} is not an expectation id such as F3 or A1")
    at = _At(at.file, f"{at.path} ({rule_id})")
    raw = _mapping(value, at, **_EXPECTATION_KEYS)
    opened_by = tuple(
        _pattern(item, at / "opened_by" / index, relative=frozenset())
        for index, item in enumerate(_list(raw["opened_by"], at / "opened_by"))
    )
    opened_by_escalation = any(pattern.kind == "escalation_raised" for pattern in opened_by)
    for index, pattern in enumerate(opened_by):
        if not isinstance(pattern, EventPattern) or pattern.kind == "acknowledgement":
            raise (at / "opened_by" / index).error("an expectation cannot be opened by an acknowledgement")
    relative = frozenset({"opening", "reminder"}) if opened_by_escalation else frozenset({"reminder"})
    timing, by_severity = _timings(raw, at, opened_by)
    deadline = (timing or next(iter((by_severity or {}).values()))).deadline.within
    clock_starts = _choice(
        raw.get("clock_starts", "at_evidence"), at / "clock_starts", {"at_evidence", "at_raised"}
    )
    if "clock_starts" in raw and not opened_by_escalation:
        raise (at / "clock_starts").error("applies only to an expectation opened by an escalation")
    return ExpectationRule(
        id=rule_id,
        name=_text(raw["name"], at / "name"),
        expected=_text(raw["expected"], at / "expected"),
        opened_by=tuple(p for p in opened_by if isinstance(p, EventPattern)),
        satisfied_when=_requirements(raw["satisfied_when"], at / "satisfied_when", relative, deadline),
        cancelled_by=tuple(
            _pattern(item, at / "cancelled_by" / index, relative=relative & {"opening"})
            for index, item in enumerate(_list(raw.get("cancelled_by", []), at / "cancelled_by", empty=True))
        ),
        source=_text(raw["source"], at / "source"),
        evidence=_evidence(raw["evidence"], at / "evidence"),
        timing=timing,
        timing_by_severity=by_severity,
        only_if=_condition(raw["only_if"], at / "only_if") if "only_if" in raw else None,
        repeat_opening=_choice(
            raw.get("repeat_opening", "merge"), at / "repeat_opening", {"merge", "separate"}
        ),
        clock_starts=clock_starts,
        strictly_after=_choice(
            raw.get("satisfying_events", "at_or_after_opening"),
            at / "satisfying_events",
            {"at_or_after_opening", "after_opening"},
        )
        == "after_opening",
        note=_text(raw["note"], at / "note") if "note" in raw else "",
    )


def _timings(
    raw: Mapping[str, Any], at: _At, opened_by: tuple[EventPattern | OpeningPattern, ...]
) -> tuple[Timing | None, dict[str, Timing] | None]:
    flat = {"deadline", "warnings", "chain"} & raw.keys()
    if "timing_by_severity" in raw:
        if flat:
            raise at.error(f"give either timing_by_severity or {', '.join(sorted(flat))}, not both")
        if not all(pattern.kind == "escalation_raised" for pattern in opened_by):
            raise (at / "timing_by_severity").error(
                "needs every opening to be an escalation (it has a severity)"
            )
        table = _mapping(raw["timing_by_severity"], at / "timing_by_severity", required=set(SEVERITIES))
        return None, {
            severity: _timing(
                _mapping(
                    table[severity], at / "timing_by_severity" / severity, {"deadline", "chain"}, {"warnings"}
                ),
                at / "timing_by_severity" / severity,
            )
            for severity in SEVERITIES
        }
    if "deadline" not in raw:
        raise at.error("a deadline (or timing_by_severity) is required")
    if "chain" not in raw:
        raise at.error("an escalation chain is required")
    return _timing(raw, at), None


def _timing(raw: Mapping[str, Any], at: _At) -> Timing:
    deadline_raw = _mapping(raw["deadline"], at / "deadline", required={"within", "evidence"})
    within = _positive(deadline_raw["within"], at / "deadline" / "within")
    deadline = Deadline(within, _evidence(deadline_raw["evidence"], at / "deadline" / "evidence"))
    warnings: list[WarningAt] = []
    for index, item in enumerate(_list(raw.get("warnings", []), at / "warnings", empty=True)):
        where = at / "warnings" / index
        entry = _mapping(item, where, required={"at", "notify", "evidence"})
        when = _positive(entry["at"], where / "at")
        if when.delta >= within.delta:
            raise (where / "at").error(f"warning at {when} is not before the deadline {within}")
        if warnings and when.delta <= warnings[-1].at.delta:
            raise (where / "at").error(
                f"warning at {when} is not after the previous warning {warnings[-1].at}"
            )
        warnings.append(
            WarningAt(
                when,
                _role(entry["notify"], where / "notify"),
                _evidence(entry["evidence"], where / "evidence"),
            )
        )
    levels: list[Level] = []
    chain = _list(raw["chain"], at / "chain")
    for index, item in enumerate(chain):
        where = at / "chain" / index
        entry = _mapping(item, where, required={"notify", "evidence"}, optional={"after"})
        after: Duration | None = None
        if index == 0 and "after" in entry:
            raise (where / "after").error("level 1 fires at the deadline; 'after' belongs to later levels")
        if index > 0:
            if "after" not in entry:
                raise where.error(f"level {index + 1} needs 'after': how long after level {index} it fires")
            after = _positive(entry["after"], where / "after")
        levels.append(
            Level(
                _role(entry["notify"], where / "notify"),
                _evidence(entry["evidence"], where / "evidence"),
                after,
            )
        )
    return Timing(deadline, tuple(warnings), tuple(levels))


def _requirements(
    value: object, at: _At, relative: frozenset[str], deadline: Duration
) -> tuple[Requirement, ...]:
    requirements: list[Requirement] = []
    for index, item in enumerate(_list(value, at)):
        where = at / index
        raw = _mapping(item, where, required={"name", "any_of"})
        satisfiers: list[Satisfier] = []
        for number, entry in enumerate(_list(raw["any_of"], where / "any_of")):
            spot = where / "any_of" / number
            earliest: Duration | None = None
            if isinstance(entry, Mapping) and "earliest" in entry:
                earliest = _positive(entry["earliest"], spot / "earliest")
                if earliest.delta >= deadline.delta:
                    raise (spot / "earliest").error(f"{earliest} is not before the deadline {deadline}")
                entry = {key: val for key, val in entry.items() if key != "earliest"}
            pattern = _pattern(entry, spot, relative=relative)
            if isinstance(pattern, OpeningPattern) and pattern.kind != "acknowledgement":
                raise spot.error("an expectation cannot be met by its own escalation being resolved")
            satisfiers.append(Satisfier(pattern, earliest))
        requirements.append(Requirement(_text(raw["name"], where / "name"), tuple(satisfiers)))
    names = [requirement.name for requirement in requirements]
    if len(set(names)) != len(names):
        raise at.error("two requirements have the same name")
    return tuple(requirements)


def _condition(value: object, at: _At) -> Condition:
    raw = _mapping(value, at, required={"any_recorded"}, optional={"unless_later"})

    def absolute(key: str, empty: bool) -> tuple[EventPattern, ...]:
        patterns = []
        for index, item in enumerate(_list(raw.get(key, []), at / key, empty=empty)):
            pattern = _pattern(item, at / key / index, relative=frozenset(), state=key == "any_recorded")
            assert isinstance(pattern, EventPattern)  # relative patterns are refused above
            patterns.append(pattern)
        return tuple(patterns)

    return Condition(absolute("any_recorded", empty=False), absolute("unless_later", empty=True))


def _pattern(
    value: object, at: _At, relative: frozenset[str], state: bool = False
) -> EventPattern | OpeningPattern:
    raw = _mapping(value, at)
    if len(raw) != 1:
        raise at.error(
            f"one event kind per entry expected ({', '.join(sorted(PATTERN_FIELDS))}), got {sorted(raw)}"
        )
    kind, body = next(iter(raw.items()))
    if kind not in PATTERN_FIELDS:
        raise at.error(f"unknown event kind {kind!r}; known: {', '.join(sorted(PATTERN_FIELDS))}")
    if kind == "escalation_open" and not state:
        raise at.error("escalation_open describes the record: use it under only_if.any_recorded")
    at = at / kind
    fields = _mapping({} if body is None else body, at)
    if "of" in fields:
        return _opening_pattern(kind, fields, at, relative)
    if kind == "acknowledgement":
        raise at.error("an acknowledgement entry needs 'of' (opening and/or reminder)")
    constraints: list[tuple[str, frozenset[str]]] = []
    allowed_fields = PATTERN_FIELDS[kind]
    for name, values in fields.items():
        if name not in allowed_fields:
            known = ", ".join(sorted(allowed_fields)) or "none"
            raise at.error(f"unknown field {name!r} for {kind}; known: {known}")
        if name == "rules" and values == "any":
            continue
        words = _list(values, at / name)
        vocabulary = allowed_fields[name]
        chosen: set[str] = set()
        for word in words:
            if not isinstance(word, str) or not word:
                raise (at / name).error(f"{word!r} is not a word")
            if vocabulary is FREE_TEXT:
                chosen.add(word.lower())
            elif word not in vocabulary:
                what = "triage rule id" if name == "rules" else f"{kind} {name}"
                raise (at / name).error(f"unknown {what} {word!r}; known: {', '.join(sorted(vocabulary))}")
            else:
                chosen.add(word)
        constraints.append((name, frozenset(chosen)))
    if kind in ("escalation_raised", "escalation_open") and "rules" not in fields:
        raise at.error("say which rules: rules: [R1, ...] or rules: any")
    if kind == "escalation_open" and fields["rules"] == "any":
        constraints.append(("rules", frozenset(TRIAGE_RULES)))
    return EventPattern(kind, tuple(sorted(constraints)))


def _opening_pattern(
    kind: str, fields: Mapping[str, Any], at: _At, relative: frozenset[str]
) -> OpeningPattern:
    allowed = {"escalation_resolved": {"of"}, "acknowledgement": {"of", "override"}}.get(kind)
    if allowed is None:
        raise (at / "of").error(f"'of' applies to escalation_resolved and acknowledgement, not {kind}")
    unknown = set(fields) - allowed
    if unknown:
        raise at.error(f"unknown field {sorted(unknown)[0]!r}; known: {', '.join(sorted(allowed))}")
    targets = fields["of"] if isinstance(fields["of"], list) else [fields["of"]]
    for target in targets:
        if target not in ("opening", "reminder") or (kind == "escalation_resolved" and target != "opening"):
            raise (at / "of").error(f"{target!r} is not a target here (opening or reminder)")
        if target not in relative:
            why = "it is not opened by an escalation" if target == "opening" else "not allowed here"
            raise (at / "of").error(f"{target!r} cannot be used: {why}")
    override = fields.get("override")
    if override is not None and not isinstance(override, bool):
        raise (at / "override").error("true or false expected")
    return OpeningPattern(kind, frozenset(targets), override)


def _remembered(rules: list[ExpectationRule]) -> tuple[EventPattern, ...]:
    found: dict[str, EventPattern] = {}
    for rule in rules:
        for requirement in rule.satisfied_when:
            for satisfier in requirement.any_of:
                if isinstance(satisfier.pattern, EventPattern):
                    found.setdefault(satisfier.pattern.key, satisfier.pattern)
        if rule.only_if is not None:
            for pattern in rule.only_if.any_recorded + rule.only_if.unless_later:
                if pattern.kind != "escalation_open":
                    found.setdefault(pattern.key, pattern)
    return tuple(found.values())


def _mapping(
    value: object, at: _At, required: set[str] | None = None, optional: set[str] | None = None
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise at.error(f"a mapping expected, got {type(value).__name__}")
    raw = {str(key): val for key, val in value.items()}
    required = required or set()
    missing = sorted(required - raw.keys())
    if missing:
        raise at.error(f"missing {', '.join(missing)}")
    if optional is not None or required:
        allowed = required | (optional or set())
        unknown = sorted(raw.keys() - allowed)
        if unknown:
            raise at.error(f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
    return raw


def _list(value: object, at: _At, empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise at.error(f"a list expected, got {type(value).__name__}")
    if not value and not empty:
        raise at.error("must not be empty")
    return value


def _text(value: object, at: _At) -> str:
    if not isinstance(value, str) or not value.strip():
        raise at.error("non-empty text expected")
    return value.strip()


def _choice(value: object, at: _At, choices: set[str]) -> str:
    if value not in choices:
        raise at.error(f"{value!r} is not one of {', '.join(sorted(choices))}")
    return str(value)


def _positive(value: object, at: _At) -> Duration:
    if not isinstance(value, str):
        raise at.error(f"an ISO 8601 duration such as PT24H expected, got {value!r}")
    try:
        duration = parse_duration(value)
    except ValueError as exc:
        raise at.error(str(exc)) from exc
    if duration.delta.total_seconds() <= 0:
        raise at.error(f"{value!r} must be longer than zero")
    return duration


def _evidence(value: object, at: _At) -> str:
    if value not in EVIDENCE_TAGS:
        raise at.error(f"{value!r} is not an evidence tag (P, S or G)")
    return str(value)


def _role(value: object, at: _At) -> str:
    if value not in ROLES:
        raise at.error(f"unknown role {value!r}; known: {', '.join(sorted(ROLES))}")
    return str(value)
