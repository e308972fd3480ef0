"""The red-flag pathway as the engine uses it: rules, their actions, code sets and words.

Built once by ``load_pathway`` from the YAML a clinician reviews, then shared read-only by every call of
``evaluate``. Nothing here knows a threshold: the numbers live in the rules' detectors, which were built
from the YAML too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from triage.core.categories import category_bits

# Three fields are declared ``Any`` and name their type beside them (a kinds.base.Detector, a
# resolvers.Resolver, a definitions.Definitions): those modules import this one, and the compiled core
# (README "The compiled core") resolves a dataclass's field types when its module is imported, before they
# exist. Where they are used they are read into variables of their type.

SEVERITIES: Final = ("routine", "urgent", "emergency")
SEVERITY_RANK: Final = {name: rank for rank, name in enumerate(SEVERITIES, start=1)}
EVIDENCE_TAGS: Final = ("P", "S", "G")


class PathwayError(ValueError):
    """The pathway definition is malformed; the message names the file, the rule and the problem."""


@dataclass(frozen=True)
class CodeSet:
    """A named list of contract codes, grouped by the event field they come from."""

    name: str
    description: str
    evidence: str
    codes: Mapping[str, tuple[str, ...]]

    def of(self, field_name: str) -> frozenset[str]:
        return frozenset(self.codes.get(field_name, ()))

    @property
    def pain_fields(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """(field, codes) pairs for the fields of a pain report, in the order they were written."""
        return tuple(
            (name, frozenset(codes)) for name, codes in self.codes.items() if name in PAIN_FEATURE_FIELDS
        )


PAIN_FEATURE_FIELDS: Final = ("site", "character", "systemic", "neurological")


@dataclass(frozen=True)
class Labels:
    """Clinical words for codes, used to write reasons a clinician reads."""

    words: Mapping[str, Mapping[str, str]]

    def word(self, field_name: str, code: str) -> str:
        return self.words.get(field_name, {}).get(code) or code.replace("_", " ")

    def join(self, field_name: str, codes: list[str] | tuple[str, ...]) -> str:
        return join_words([self.word(field_name, code) for code in codes])


def join_words(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    unique = list(dict.fromkeys(words))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + " and " + unique[-1]


@dataclass(frozen=True)
class Action:
    action: str  # what is asked for, in clinical words
    within: str  # ISO 8601 duration from the clinical time the escalation became true
    within_us: int
    evidence: str  # P | S | G
    when: str | None = None  # only for this case or condition of the rule


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    kind: str
    group: str  # escalation lifecycle key: the rule id unless several rules share one escalation
    trigger: str
    severity: Mapping[str, str]  # case -> severity
    reason: Mapping[str, str]  # case -> sentence template
    actions: tuple[Action, ...]
    resolvers: tuple[Any, ...]  # of Resolver (see the note above SEVERITIES)
    source: str
    evidence: tuple[str, ...]
    facts: Mapping[str, Any]  # as written in the YAML, for the sign-off document
    local_defaults: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""
    not_while_open: tuple[str, ...] = ()

    def actions_for(self, case: str, conditions: frozenset[str]) -> list[Action]:
        return [a for a in self.actions if a.when is None or a.when == case or a.when in conditions]


@dataclass(frozen=True)
class RuleGroup:
    """Rules that share one escalation (e.g. the three hypercalcaemia bands); usually a single rule."""

    key: str
    rules: tuple[Rule, ...]
    detector: Any  # a Detector (see the note above SEVERITIES)
    reads: frozenset[str]  # fact categories its rules and resolvers read: evaluated when one changes
    # fact categories its detector finds nothing without (KindSpec.requires): with one of them absent and no
    # escalation open, the group's answer is "nothing" without running it
    requires: frozenset[str] = frozenset()
    requires_one_of: frozenset[str] = frozenset()  # KindSpec.requires_one_of: at least one of them recorded
    # the three above as masks (facts.CATEGORY_BITS), for the engine's loop
    reads_bits: int = field(init=False, repr=False, compare=False)
    requires_bits: int = field(init=False, repr=False, compare=False)
    requires_one_of_bits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads_bits", category_bits(self.reads))
        object.__setattr__(self, "requires_bits", category_bits(self.requires))
        object.__setattr__(self, "requires_one_of_bits", category_bits(self.requires_one_of))

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass(frozen=True)
class Pathway:
    id: str
    version: str
    title: str
    status: str
    rules: tuple[Rule, ...]
    groups: tuple[RuleGroup, ...]
    code_sets: Mapping[str, CodeSet]
    labels: Labels
    definitions: Any  # Definitions (see the note above SEVERITIES): settings several rules share (pain episode, adjusted calcium)
    evidence_tags: Mapping[str, str]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
