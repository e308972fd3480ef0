"""Spinal findings read from a free-text radiology report, with negation and uncertainty.

A small rule-based reader in the NegEx manner: sentences, finding phrases, and cue phrases (negation,
uncertainty, historical, new) that change a finding when they are in its scope. The rules are data
(``radiology.yaml``, loaded by :mod:`intake.hl7.radiology_rules`); this module only applies them and
imports nothing but the standard library.

"No evidence of cord compression" gives cord_compression *excluded*; "possible early cord compression"
gives *possible*, so that the report is escalated for review rather than ignored. Each finding keeps the
sentence it was read from as its evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

CONFIRMED, POSSIBLE, EXCLUDED = "confirmed", "possible", "excluded"
_RANK = {EXCLUDED: 0, POSSIBLE: 1, CONFIRMED: 2}
NEGATION, UNCERTAINTY, HISTORICAL, NEW, PSEUDO = "negation", "uncertainty", "historical", "new", "pseudo"
BEFORE, AFTER = "before", "after"
MAX_EVIDENCE = 2000

_WORD = re.compile(r"\w+|\?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class Cue:
    kind: str  # negation | uncertainty | historical | new | pseudo
    sides: frozenset[str]  # before and/or after the finding it modifies
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class FindingRule:
    code: str
    patterns: tuple[re.Pattern[str], ...]
    new_only: bool = False


@dataclass(frozen=True)
class RadiologyRules:
    findings: tuple[FindingRule, ...]
    cues: tuple[Cue, ...]
    terminators: re.Pattern[str]
    headings: re.Pattern[str]  # every known section heading, group 1 the heading
    skip_sections: frozenset[str]
    sins: tuple[re.Pattern[str], ...]
    window: int = 8
    window_after: int = 5


@dataclass(frozen=True)
class Finding:
    code: str
    certainty: str
    evidence: str

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "certainty": self.certainty, "evidence": self.evidence}


@dataclass(frozen=True)
class Reading:
    findings: tuple[Finding, ...]
    sins_score: int | None


@dataclass(frozen=True)
class _Span:
    kind: str
    sides: frozenset[str]
    start: int
    end: int


def read_report(text: str, rules: RadiologyRules) -> Reading:
    """The findings of a report: one per finding code, the most certain reading, with its sentence."""
    best: dict[str, Finding] = {}
    sins: list[int] = []
    for sentence in sentences(text, rules):
        sins += _sins(sentence, rules)
        cues = _cues(sentence, rules)
        stops = [m.start() for m in rules.terminators.finditer(sentence)]
        for rule in rules.findings:
            for pattern in rule.patterns:
                for match in pattern.finditer(sentence):
                    certainty = _certainty(sentence, match.span(), cues, stops, rules, rule.new_only)
                    if certainty is None:
                        continue
                    current = best.get(rule.code)
                    if current is None or _RANK[certainty] > _RANK[current.certainty]:
                        best[rule.code] = Finding(rule.code, certainty, sentence[:MAX_EVIDENCE])
    order = [rule.code for rule in rules.findings]
    findings = tuple(best[code] for code in order if code in best)
    return Reading(findings, max(sins) if sins else None)


def sentences(text: str, rules: RadiologyRules) -> Iterator[str]:
    """The sentences a report's answer is read from; the question asked (clinical details) is skipped."""
    for section in _sections(text, rules):
        for sentence in _SENTENCE_END.split(_unwrap(section)):
            cleaned = " ".join(sentence.split())
            if cleaned:
                yield cleaned


# A report sent as display lines (HL7 TX rows of 60-80 characters, a text attachment wrapped by the RIS) breaks
# sentences in the middle: "no evidence of cord" / "compression at any level". A line break is read as a
# space when the text plainly goes on - the next line begins in lower case, or the line ends on a word that
# cannot end a sentence; otherwise it ends the sentence (lists and headings are written one per line).
_GOES_ON = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "or",
        "and",
        "to",
        "with",
        "at",
        "in",
        "on",
        "no",
        "not",
        "nor",
        "for",
        "by",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "any",
        "as",
        "than",
        "without",
        "within",
        "into",
        "suggest",
        "suggesting",
        "evidence",
        "there",
    ]
)
_LAST_WORD = re.compile(r"(\w+)\W*$")


def _unwrap(section: str) -> str:
    lines = section.split("\n")
    out = lines[0]
    for line in lines[1:]:
        head = line.lstrip()
        last = _LAST_WORD.search(out)
        wrapped = (
            bool(head)
            and out.strip() != ""
            and (
                head[0].islower()
                or (last is not None and out.rstrip()[-1:].isalnum() and last.group(1).lower() in _GOES_ON)
            )
        )
        out += (" " if wrapped else "\n") + line
    return out


def _sections(text: str, rules: RadiologyRules) -> Iterator[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    position, reading = 0, True
    for heading in rules.headings.finditer(text):
        if reading:
            yield text[position : heading.start(1)]
        reading = " ".join(heading.group(1).lower().split()) not in rules.skip_sections
        position = heading.end()
    if reading:
        yield text[position:]


def _sins(sentence: str, rules: RadiologyRules) -> list[int]:
    values = []
    for pattern in rules.sins:
        for match in pattern.finditer(sentence):
            value = int(match.group(1))
            if 0 <= value <= 18:
                values.append(value)
    return values


def _cues(sentence: str, rules: RadiologyRules) -> list[_Span]:
    """Cue phrases in a sentence; where they overlap the longest wins (then the earliest)."""
    found: dict[tuple[int, int, str], set[str]] = {}
    for cue in rules.cues:
        for match in cue.pattern.finditer(sentence):
            found.setdefault((match.start(), match.end(), cue.kind), set()).update(cue.sides)
    ordered = sorted(found.items(), key=lambda item: (-(item[0][1] - item[0][0]), item[0][0]))
    kept: list[_Span] = []
    for (start, end, kind), sides in ordered:
        if all(end <= k.start or start >= k.end or (start, end) == (k.start, k.end) for k in kept):
            kept.append(_Span(kind, frozenset(sides), start, end))
    return [k for k in kept if k.kind != PSEUDO]


def _certainty(
    sentence: str,
    span: tuple[int, int],
    cues: Sequence[_Span],
    stops: Sequence[int],
    rules: RadiologyRules,
    new_only: bool,
) -> str | None:
    """confirmed, possible or excluded; None when a finding that must be new is not."""
    in_scope = [
        (cue, distance) for cue in cues if (distance := _distance(sentence, span, cue, stops, rules)) >= 0
    ]
    kinds = {cue.kind for cue, _ in in_scope}
    if UNCERTAINTY in kinds:
        certainty = POSSIBLE
    elif NEGATION in kinds:
        certainty = EXCLUDED
    else:
        certainty = CONFIRMED
    if new_only and certainty != EXCLUDED:
        timing = [(distance, cue.kind != NEW) for cue, distance in in_scope if cue.kind in (NEW, HISTORICAL)]
        if timing and min(timing)[1]:  # the nearest timing cue says "known/stable", and no nearer "new"
            return None
    return certainty


def _distance(
    sentence: str, span: tuple[int, int], cue: _Span, stops: Sequence[int], rules: RadiologyRules
) -> int:
    """Words between a cue and the finding when the cue is in the finding's scope, else -1."""
    start, end = span
    if cue.start >= start and cue.end <= end:
        return 0  # inside the finding's own phrase ("cord may be compressed")
    if BEFORE in cue.sides and cue.end <= start:
        gap = (cue.end, start)
        limit = rules.window
    elif AFTER in cue.sides and cue.start >= end:
        gap = (end, cue.start)
        limit = rules.window_after
    else:
        return -1
    if any(gap[0] <= stop < gap[1] for stop in stops) or ";" in sentence[gap[0] : gap[1]]:
        return -1
    words = len(_WORD.findall(sentence[gap[0] : gap[1]]))
    return words if words <= limit else -1
