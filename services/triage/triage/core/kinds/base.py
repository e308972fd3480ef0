"""What every rule kind provides, and the parts several kinds share (neurological signs, evidence).

A *kind* is a piece of code that knows how to test one shape of rule ("a cancer history plus features
in a pain report", "a value in a band", ...). The rules themselves, with their thresholds and code sets,
are data in the pathway YAML: a new rule of an existing kind, or a changed threshold, needs no code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from triage.core.definitions import Definitions
from triage.core.events import DIAGNOSIS, LAB, PAIN, SYMPTOM
from triage.core.facts import ALL_FACTS, FEVER, Entry, Facts, features_in, status_of
from triage.core.facts import SYMPTOM as SYMPTOM_ENTRY
from triage.core.fields import Fields
from triage.core.finding import Evidence, Finding, Resolution, evidence, rounded
from triage.core.pathway import CodeSet, Labels, join_words
from triage.core.times import describe_duration
from triage.core.units import from_canonical


class Detector:
    """What each kind's detector is: a subclass of this class (not a protocol, so that the compiled engine
    calls its methods directly rather than through Python attribute look-ups; README "The compiled core")."""

    def detect(self, facts: Facts, since: int | None) -> Finding | None:
        """The rule's finding from facts newer than ``since`` (the end of the last episode), or None."""
        raise NotImplementedError

    def cleared(self, facts: Facts, after: int, since: int | None) -> Resolution | None:
        """A fact at or after ``after`` showing the condition has gone (kinds that can tell), or None: the
        default, for kinds whose condition is closed only by a clinical step or a new result elsewhere."""
        return None


@dataclass(frozen=True)
class Context:
    """What a kind may read while its rule is parsed."""

    labels: Labels
    definitions: Definitions


@dataclass(frozen=True)
class KindSpec:
    name: str
    summary: str  # what the kind tests, for the sign-off document
    parse: Callable[[Fields, Context], Any]  # rule facts -> parameters
    build: Callable[[Sequence[Member], Context], Detector]  # the rules of one group
    cases: Callable[[Any], tuple[str, ...]] = lambda params: ("default",)
    words: frozenset[str] = frozenset()  # placeholders the kind fills in a reason
    conditions: Callable[[Any], tuple[str, ...]] = lambda params: ()  # extra conditions for actions
    clears: bool = False  # supports the resolver 'condition_cleared'
    grouped: bool = False  # several rules may share one escalation
    check_group: Callable[[Sequence[Member], str], None] | None = None
    references: Callable[[Any], tuple[str, ...]] = field(default=lambda params: ())  # rule ids it reads
    reads: frozenset[str] = ALL_FACTS  # the fact categories its detector reads
    # Fact categories its detector cannot find anything without: with any of them absent from the state,
    # ``detect`` returns None whatever ``since`` is (so a group with nothing open need not run).
    requires: frozenset[str] = frozenset()
    # Fact categories of which its detector needs at least one (none recorded: ``detect`` returns None).
    requires_one_of: frozenset[str] = frozenset()


# --- neurological signs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeuroSigns:
    """New or worsening neurological features reported within ``within`` of a clinical time."""

    fields: tuple[tuple[str, frozenset[str]], ...]
    statuses: frozenset[str]
    within: int
    within_text: str

    def around(self, facts: Facts, t: int) -> list[tuple[Entry, list[tuple[str, str]]]]:
        found = []
        for report in facts.pain:
            if abs(report["t"] - t) <= self.within and status_of(report) in self.statuses:
                features = features_in(report, self.fields)
                if features:
                    found.append((report, features))
        return found

    def threshold(self) -> str:
        return f"new or worsening neurological feature within {describe_duration(self.within)}"


PAIN_FIELDS: Final = ("site", "character", "systemic", "neurological")


def parse_neuro_signs(fields: Fields) -> NeuroSigns:
    code_set: CodeSet = fields.required_code_set("features", PAIN_FIELDS)
    statuses = fields.codes("feature_status", "neurological_status")
    within_text, within = fields.duration("within")
    fields.finish()
    return NeuroSigns(code_set.pain_fields, statuses, within, within_text)


# --- evidence and words shared by kinds ----------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One rule of a group as its kind's detector sees it."""

    rule_id: str
    params: Any
    severity: Mapping[str, str]  # case -> severity


def feature_evidence(report: Entry, features: list[tuple[str, str]], threshold: str) -> list[Evidence]:
    by_field: dict[str, list[str]] = {}
    for field_name, code in features:
        by_field.setdefault(field_name, []).append(code)
    kind = SYMPTOM if SYMPTOM_ENTRY in report else PAIN
    items = [
        evidence(report["e"], kind, field_name, codes, report["t"], threshold=threshold)
        for field_name, codes in by_field.items()
    ]
    temperature = report.get("temperature")
    if temperature is not None and FEVER in by_field.get("systemic", ()):  # fever read from a temperature
        value, unit = temperature
        items.append(evidence(report["e"], kind, "temperature", value, report["t"], unit=unit))
    if kind == SYMPTOM and "with" in report:
        items.append(evidence(report["with"], PAIN, "nrs", report["nrs"], report["with_t"], "points (0-10)"))
    return items


def cancer_evidence(cancers: list[tuple[str, Entry]], threshold: str) -> list[Evidence]:
    return [
        evidence(
            entry["e"], DIAGNOSIS, "cancer", f"{site} ({entry['status']})", entry["t"], threshold=threshold
        )
        for site, entry in cancers
    ]


def feature_words(labels: Labels, features: list[tuple[str, str]]) -> str:
    return join_words([labels.word(field_name, code) for field_name, code in features])


def status_word(statuses: set[str]) -> str:
    """'new', 'worsening' or 'new or worsening' for the neurological status of the reports used."""
    ordered = [s for s in ("new", "worsening", "stable") if s in statuses]
    return " or ".join(ordered)


def nrs_filter(fields: Fields, key: str = "pain_nrs_at_least") -> int | None:
    if not fields.has(key):
        return None
    return fields.integer(key, minimum=0)


def lab_evidence(test: str, result: Entry, threshold: str | None = None) -> Evidence:
    value, unit = result["reported"]
    return evidence(result["e"], LAB, test, value, result["t"], unit=unit, threshold=threshold)


def pain_duration_evidence(report: Entry, days: float, threshold: str) -> Evidence:
    """How long the pain of ``report`` has lasted, in days, against the rule's ``threshold``."""
    return evidence(report["e"], PAIN, "pain duration", rounded(days), report["t"], "days", threshold)


def raised_threshold(test: str, result: Entry) -> str:
    """The limit a raised result crossed, in the unit it was reported in."""
    unit = result["reported"][1]
    high = result.get("high")
    if high is not None and result["value"] > high:
        return f"> {from_canonical(test, high, unit):g} {unit} (laboratory upper limit)"
    return f"flagged {result.get('flag')} by the laboratory"


NUMBER_WORDS: Final = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def number_word(n: int) -> str:
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)
