"""Loading ``radiology.yaml`` into :class:`intake.hl7.radiology.RadiologyRules`, checked at start-up."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from carepath import contracts, yamlfile
from intake.hl7.radiology import (
    AFTER,
    BEFORE,
    HISTORICAL,
    NEGATION,
    NEW,
    PSEUDO,
    UNCERTAINTY,
    Cue,
    FindingRule,
    RadiologyRules,
)

BUILTIN = Path(__file__).with_name("radiology.yaml")
LEVEL = r"(?:[CTLS]\d{1,2}(?:\s*[-/]\s*[CTLS]?\d{1,2})?)"
_KINDS = (NEGATION, UNCERTAINTY, HISTORICAL, NEW)


class RadiologyRulesError(ValueError):
    """The rules file is wrong; the message names the entry."""


def load_rules(path: Path = BUILTIN) -> RadiologyRules:
    try:
        doc = yamlfile.load(path, "radiology")
    except yamlfile.YamlFileError as exc:
        raise RadiologyRulesError(str(exc)) from None
    try:
        return _rules(doc)
    except (KeyError, TypeError, ValueError, re.error) as exc:
        raise RadiologyRulesError(f"{path.name}: {exc}") from None


def _rules(doc: Any) -> RadiologyRules:
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise ValueError("expected a mapping with `version: 1`")
    codes = contracts.schema_enum("carepath.imaging.resulted.v1", "/findings/code")
    findings = []
    for code, spec in (doc.get("findings") or {}).items():
        if code not in codes:
            raise ValueError(
                f"findings.{code}: not a finding code of the contract ({', '.join(sorted(codes))})"
            )
        patterns = spec.get("patterns") if isinstance(spec, dict) else spec
        new_only = bool(spec.get("new_only", False)) if isinstance(spec, dict) else False
        if not isinstance(patterns, list) or not patterns:
            raise ValueError(f"findings.{code}: expected a list of patterns")
        compiled = tuple(_finding_pattern(f"findings.{code}", p) for p in patterns)
        findings.append(FindingRule(code, compiled, new_only))
    cues: list[Cue] = []
    raw_cues = doc.get("cues") or {}
    unknown = set(raw_cues) - {*_KINDS, PSEUDO}
    if unknown:
        raise ValueError(f"cues: unknown kind {', '.join(sorted(unknown))}")
    for kind in _KINDS:
        sides = raw_cues.get(kind) or {}
        for side in (BEFORE, AFTER):
            for phrase in _phrases(f"cues.{kind}.{side}", sides.get(side) or []):
                cues.append(Cue(kind, frozenset({side}), _phrase_pattern(phrase)))
    for phrase in _phrases("cues.pseudo", raw_cues.get(PSEUDO) or []):
        cues.append(Cue(PSEUDO, frozenset({BEFORE, AFTER}), _phrase_pattern(phrase)))
    skip = frozenset(
        " ".join(s.lower().split()) for s in _phrases("skip_sections", doc.get("skip_sections") or [])
    )
    read = frozenset(
        " ".join(s.lower().split()) for s in _phrases("read_sections", doc.get("read_sections") or [])
    )
    terminators = _phrases("terminators", doc.get("terminators") or [])
    sins = tuple(_sins_pattern(p) for p in _phrases("sins", doc.get("sins") or []))
    window, window_after = int(doc.get("window", 8)), int(doc.get("window_after", 5))
    if not (0 < window <= 30 and 0 < window_after <= 30):
        raise ValueError("window and window_after must be between 1 and 30 words")
    return RadiologyRules(
        findings=tuple(findings),
        cues=tuple(cues),
        terminators=_alternatives(terminators),
        headings=_headings(skip | read),
        skip_sections=skip,
        sins=sins,
        window=window,
        window_after=window_after,
    )


def _phrases(where: str, values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{where}: expected a list of phrases")
    return [v.strip() for v in values]


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    if phrase == "?":
        return re.compile(r"\?")
    body = r"\s+".join(re.escape(w) for w in phrase.lower().split())
    return re.compile(r"(?<!\w)" + body + r"(?!\w)", re.IGNORECASE)


def _finding_pattern(where: str, pattern: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError(f"{where}: expected a pattern")
    body = pattern.strip().replace("{level}", LEVEL).replace(" ", r"\s+")
    try:
        return re.compile(r"(?<!\w)" + body + r"(?!\w)", re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"{where}: {pattern!r} is not a valid pattern ({exc})") from None


def _sins_pattern(pattern: str) -> re.Pattern[str]:
    compiled = re.compile(pattern.replace("{level}", LEVEL), re.IGNORECASE)
    if compiled.groups < 1:
        raise ValueError(f"sins: {pattern!r} needs a group that captures the score")
    return compiled


def _alternatives(phrases: Iterable[str]) -> re.Pattern[str]:
    bodies = sorted(
        (r"\s+".join(re.escape(w) for w in p.lower().split()) for p in phrases), key=len, reverse=True
    )
    if not bodies:
        return re.compile(r"(?!)")
    return re.compile(r"(?<!\w)(?:" + "|".join(bodies) + r")(?!\w)", re.IGNORECASE)


def _headings(names: Iterable[str]) -> re.Pattern[str]:
    bodies = sorted((r"[ \t]+".join(re.escape(w) for w in n.split()) for n in names), key=len, reverse=True)
    if not bodies:
        return re.compile(r"(?!)")
    return re.compile(
        r"(?:^|(?<=[.!?])[ \t]+)[ \t]*(" + "|".join(bodies) + r")[ \t]*:", re.IGNORECASE | re.MULTILINE
    )
