"""``evaluate``: one clinical event against one patient's state, under one pathway.

    evaluate(state, event, now, pathway) -> Outcome(state, escalations, duplicate)

Pure: no clock, no I/O, the given state is never changed. Every rule is re-evaluated against the whole
state on every event, so the order events arrive in does not matter (a cancer diagnosis arriving after
the symptoms still raises R1). Deadlines count from the clinical time the rule became true; ``now`` is
only the ``raised_at`` stamp.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from triage.core.categories import ALL_FACTS, OPEN_ESCALATIONS_BIT, category_bits
from triage.core.events import ClinicalEvent
from triage.core.facts import Facts, recorded_bits
from triage.core.finding import Finding, Resolution
from triage.core.kinds.base import Detector
from triage.core.lifecycle import raise_escalation, resolve_escalation, update_escalation
from triage.core.outcome import Escalation, Outcome
from triage.core.pathway import SEVERITY_RANK, Pathway, Rule
from triage.core.record import record, remember_id
from triage.core.resolvers import Resolver
from triage.core.state import PatientState
from triage.core.times import iso_datetime

__all__ = ["Escalation", "Outcome", "evaluate", "reevaluate"]

# Read in place of an escalation part the state does not hold; never changed (``_set`` makes new mappings).
_NONE_KEPT: Final[dict[str, Any]] = {}


def evaluate(state: PatientState, event: ClinicalEvent, now: datetime, pathway: Pathway) -> Outcome:
    if state.has_seen(event.id):
        return Outcome(state, [], True)
    d = dict(state.raw)
    changed = record(d, event, event.micros)
    if not changed:
        # Nothing a rule reads has changed, so no rule's answer has; and nothing of the event is kept, not
        # even its id (``d`` is dropped): the state given is the state returned. A redelivery records
        # nothing either: its type is still one no fact is kept of, its study still cancelled, and a fact
        # it did not replace is older than one kept (facts are only ever replaced by newer ones).
        return Outcome(state, [], False)
    remember_id(d, event.id)
    return Outcome(PatientState(d), _run_rules(d, state.patient_id, now, pathway, changed), False)


def reevaluate(state: PatientState, now: datetime, pathway: Pathway) -> Outcome:
    """Every rule against the state as it is, without a new event (e.g. after a pathway change).

    ``evaluate`` re-runs only the rules whose facts an event changed; on a state it produced, this
    publishes nothing - which is what makes skipping the other rules safe.
    """
    d = dict(state.raw)
    return Outcome(PatientState(d), _run_rules(d, state.patient_id, now, pathway, ALL_FACTS), False)


def _run_rules(
    d: dict[str, Any], patient_id: str, now: datetime, pathway: Pathway, changed: frozenset[str]
) -> list[Escalation]:
    facts = Facts(d, pathway.definitions.symptoms)
    # the fact parts do not change during the evaluation, only the escalation parts (masks: CATEGORY_BITS)
    present = recorded_bits(d)
    changed_bits = category_bits(changed)
    published: list[Escalation] = []
    closed: dict[str, int] = d.get("closed") or _NONE_KEPT
    opened: dict[str, Any] = d.get("open") or _NONE_KEPT
    for group in pathway.groups:
        if not changed_bits & group.reads_bits:
            continue
        key = group.key
        current = opened.get(key) if opened else None  # most patients have nothing open: no look-up
        if current is None and (
            group.requires_bits & present != group.requires_bits
            or (group.requires_one_of_bits and not group.requires_one_of_bits & present)
        ):
            continue  # nothing open, and a fact its detector cannot find anything without is not recorded
        since = closed.get(key)
        detector: Detector = group.detector
        finding = detector.detect(facts, since)
        if current is None and finding is None:
            continue
        published_before = len(published)
        if current is not None:
            rule = group.rule(current["rule"])
            after = max(current["last"], finding.last) if finding is not None else current["last"]
            resolution = _resolution(rule, facts, after, since, detector)
            if resolution is not None:
                published.append(resolve_escalation(current, resolution))
                opened = _set(d, "open", key, None)
                closed = _set(d, "closed", key, resolution.time)
                since = resolution.time
                current = None
                finding = detector.detect(facts, since)
            elif (
                finding is not None
                and _rank(group.rule(finding.rule_id), finding) > SEVERITY_RANK[current["severity"]]
            ):
                updated, escalation = update_escalation(
                    current, group.rule(finding.rule_id), finding, pathway
                )
                opened = _set(d, "open", key, updated)
                published.append(escalation)
            elif finding is not None and finding.last > current["last"]:
                # same severity: absorbed, not published
                opened = _set(d, "open", key, {**current, "last": finding.last})
        if current is None and finding is not None:
            rule = group.rule(finding.rule_id)
            blocked = any(facts.is_open(other) for other in rule.not_while_open)
            # not raised when the question was already answered after these facts
            if not blocked and _resolution(rule, facts, finding.last, since, detector) is None:
                episode = (d.get("episodes") or _NONE_KEPT).get(key, 0) + 1
                opening, escalation = raise_escalation(
                    patient_id, key, episode, rule, finding, iso_datetime(now), pathway
                )
                _set(d, "episodes", key, episode)
                opened = _set(d, "open", key, opening)
                published.append(escalation)
        if len(published) > published_before:
            changed_bits |= OPEN_ESCALATIONS_BIT
    return published


def _rank(rule: Rule, finding: Finding) -> int:
    return SEVERITY_RANK[rule.severity[finding.case]]


def _resolution(
    rule: Rule, facts: Facts, after: int, since: int | None, detector: Detector
) -> Resolution | None:
    resolvers: tuple[Resolver, ...] = rule.resolvers
    for resolver in resolvers:
        found = resolver.check(facts, after, since, detector)
        if found is not None:
            return found
    return None


def _set(d: dict[str, Any], part: str, key: str, value: Any) -> Any:
    """Copy-on-write: a new mapping for ``part`` with ``key`` set (or removed when value is None)."""
    mapping = dict(d.get(part) or {})
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value
    d[part] = mapping
    return mapping
