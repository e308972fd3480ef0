"""Render the follow-up pathway as markdown for clinical sign-off.

    python -m followup.pathway_doc [--pathway DIR] [--out FILE]

The document is generated from the same validated definition the service runs on, so what is signed
is what runs. Local defaults ([G]) are marked where they appear.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from carepath.resources import pathways_dir
from followup.core import ExpectationRule, FollowupPathway, PathwayError, load_pathway
from followup.core.durations import describe
from followup.core.pathway import Condition, Satisfier, Timing
from followup.core.patterns import EventPattern, OpeningPattern
from followup.core.vocabulary import SEVERITIES, TRIAGE_RULES

TAGS = {
    "P": "[P]",
    "S": "[S]",
    "G": "**[G] local default**",
}

_KIND_WORDS = {
    "pain_report": "a pain report",
    "imaging": "imaging resulted",
    "treatment": "treatment changed",
    "lab": "lab result",
    "diagnosis": "diagnosis recorded",
    "care_step": "care step recorded",
    "escalation_raised": "escalation raised",
    "escalation_resolved": "escalation resolved",
    "escalation_open": "an escalation open",
}


def render(pathway: FollowupPathway) -> str:
    lines = [
        f"# Follow-up expectations: {pathway.title or pathway.id}",
        "",
        f"Pathway `{pathway.id}` version **{pathway.version}** ({pathway.status or 'no status'}). "
        "Generated from `followup.yaml`; every reminder carries this id and version.",
        "",
        "Evidence: [P] primary or official text; [S] secondary restatement; "
        "**[G] local default**: general practice or a design default that this site may change "
        "in `followup.yaml` without touching code.",
        "",
        "Times count from the clock start of each expectation. Level 1 of a chain fires at the deadline; "
        "each later level fires the stated time after the level before it, while the step is still missing.",
        "",
        "| id | after | expect | within | warnings | when overdue | source |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_row(rule) for rule in pathway.expectations]
    for rule in pathway.expectations:
        lines += ["", *_section(rule)]
    return "\n".join(lines) + "\n"


def _row(rule: ExpectationRule) -> str:
    cells = [
        f"**{rule.id}**",
        "; or ".join(_pattern(p) for p in rule.opened_by),
        rule.expected,
        _by_severity(rule, lambda t: f"{describe(t.deadline.within.delta)} {TAGS[t.deadline.evidence]}"),
        _by_severity(rule, _warnings) or "none",
        _by_severity(rule, _chain),
        f"{rule.source} {TAGS[rule.evidence]}",
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _section(rule: ExpectationRule) -> list[str]:
    lines = [f"## {rule.id} {rule.name}", "", f"Expect: **{rule.expected}**.", ""]
    lines.append(f"- Opened by: {'; or '.join(_pattern(p) for p in rule.opened_by)}.")
    if rule.only_if is not None:
        lines.append(f"- Only if: {_condition(rule.only_if)}.")
    if any(p.kind == "escalation_raised" for p in rule.opened_by):
        start = (
            "when triage raised the escalation"
            if rule.clock_starts == "at_raised"
            else "at the clinical time of the latest evidence behind the escalation"
        )
        lines.append(f"- Clock starts: {start}; for any other opening, at its clinical time.")
    else:
        lines.append("- Clock starts: at the clinical time of the opening event.")
    lines.append(
        "- Repeat openings: "
        + (
            "join the open expectation while it is not past its deadline."
            if rule.repeat_opening == "merge"
            else "each opening is followed up on its own."
        )
    )
    window = "strictly after the clock start" if rule.strictly_after else "at or after the clock start"
    lines.append(f"- Met when all of these are recorded ({window}):")
    for requirement in rule.satisfied_when:
        options = "; or ".join(_satisfier(s) for s in requirement.any_of)
        lines.append(f"  - {requirement.name}: {options}")
    cancelled = "; or ".join(_pattern(p) for p in rule.cancelled_by) or "nothing"
    lines.append(f"- Cancelled by: {cancelled}.")
    if rule.timing_by_severity is not None:
        for severity in SEVERITIES:
            lines.append(f"- Timing for {severity}: {_timing(rule.timing_by_severity[severity])}")
    elif rule.timing is not None:
        lines.append(f"- Timing: {_timing(rule.timing)}")
    lines.append(f"- Source: {rule.source} {TAGS[rule.evidence]}")
    if rule.note:
        lines.append(f"- Note: {rule.note}")
    return lines


def _by_severity(rule: ExpectationRule, show: Callable[[Timing], str]) -> str:
    if rule.timing_by_severity is None:
        return show(rule.timing_for(None))
    parts = [f"{severity}: {show(rule.timing_by_severity[severity])}" for severity in SEVERITIES]
    return "; ".join(part for part in parts if not part.endswith(": "))


def _timing(timing: Timing) -> str:
    within = f"due within {describe(timing.deadline.within.delta)} {TAGS[timing.deadline.evidence]}"
    warnings = _warnings(timing)
    return f"{within}; {('warn ' + warnings + '; ') if warnings else ''}when overdue: {_chain(timing)}."


def _warnings(timing: Timing) -> str:
    return ", ".join(
        f"at {describe(w.at.delta)} notify {w.notify} {TAGS[w.evidence]}" for w in timing.warnings
    )


def _chain(timing: Timing) -> str:
    parts = []
    for number, level in enumerate(timing.chain, start=1):
        when = "at the deadline" if level.after is None else f"{describe(level.after.delta)} later"
        parts.append(f"level {number} {when} notify {level.notify} {TAGS[level.evidence]}")
    return ", then ".join(parts)


def _satisfier(satisfier: Satisfier) -> str:
    text = _pattern(satisfier.pattern)
    if satisfier.earliest is not None:
        text += f" (counted from {describe(satisfier.earliest.delta)} after the clock start)"
    return text


def _condition(condition: Condition) -> str:
    parts = []
    recorded = [p for p in condition.any_recorded if p.kind != "escalation_open"]
    if recorded:
        text = " or ".join(_pattern(p) for p in recorded) + " is recorded"
        if condition.unless_later:
            text += ", with no later " + " or ".join(_pattern(p) for p in condition.unless_later)
        parts.append(text)
    for pattern in condition.any_recorded:
        if pattern.kind == "escalation_open":
            rules = next(values for name, values in pattern.constraints if name == "rules")
            named = [f"{rule} {TRIAGE_RULES[rule]}" for rule in sorted(rules, key=_rule_order)]
            parts.append(f"an escalation for {_or(named)} is open (not yet resolved)")
    return "; or ".join(parts)


def _pattern(pattern: EventPattern | OpeningPattern) -> str:
    if isinstance(pattern, OpeningPattern):
        return pattern.text
    parts = []
    for name, values in pattern.constraints:
        words = sorted(values)
        if name == "rules":
            words = [f"{rule} {TRIAGE_RULES[rule]}" for rule in sorted(values, key=_rule_order)]
        parts.append(f"{name.replace('_', ' ')} {_or(words)}")
    if pattern.kind == "escalation_raised" and not any(name == "rules" for name, _ in pattern.constraints):
        parts.insert(0, "any rule")
    head = _KIND_WORDS[pattern.kind]
    return f"{head} ({', '.join(parts)})" if parts else head


def _rule_order(rule: str) -> tuple[int, str]:
    digits = "".join(ch for ch in rule if ch.isdigit())
    return int(digits), rule


def _or(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m followup.pathway_doc", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--pathway", type=Path, default=pathways_dir() / "mscc", help="pathway directory")
    parser.add_argument("--out", type=Path, help="write the markdown here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        text = render(load_pathway(args.pathway))
    except PathwayError as exc:
        print(f"pathway_doc: {exc}", file=sys.stderr)
        return 1
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
