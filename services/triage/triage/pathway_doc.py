"""Render the red-flag pathway as a markdown document for clinical sign-off.

    python -m triage.pathway_doc [--pathway DIR] [--out FILE]

Everything in the document comes from the pathway files the engine runs on (never a separate copy), so
what is signed off is what runs. Local defaults [G] are flagged so the clinical safety officer can see
every choice that is the site's to make.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from carepath.resources import pathways_dir
from triage.core import Pathway, PathwayError, load_pathway
from triage.core.kinds import KINDS
from triage.core.pathway import Rule
from triage.core.times import describe_duration, parse_duration

G_FLAG = "**[G] local default**"


def render(pathway: Pathway) -> str:
    out: list[str] = []
    add = out.append
    title = pathway.title or pathway.id
    add(f"# {title}: red-flag rules (triage)\n")
    add(f"Pathway `{pathway.id}`, version **{pathway.version}**, status **{pathway.status}**.\n")
    add(
        "Each rule below is read from the pathway definition the triage service runs. Deadlines count from "
        "the clinical time the rule became true. Evidence tags:\n"
    )
    for tag, meaning in (
        pathway.evidence_tags or {"P": "primary", "S": "secondary", "G": "local default"}
    ).items():
        add(f"- **[{tag}]** {meaning}")
    add("")
    add("## Sign-off\n")
    add("| role | name | date | signature |\n|---|---|---|---|")
    add("| clinical safety officer | | | |\n| clinical lead | | | |\n")
    add("## Rules at a glance\n")
    add("| rule | name | severity | first deadline | source | evidence |\n|---|---|---|---|---|---|")
    for rule in pathway.rules:
        severities = " / ".join(dict.fromkeys(rule.severity.values()))
        first = min(rule.actions, key=lambda a: a.within_us)
        tags = " ".join(f"[{t}]" for t in rule.evidence)
        add(f"| {rule.id} | {rule.name} | {severities} | {_words(first.within)} | {rule.source} | {tags} |")
    add("")
    add("## Shared definitions\n")
    for name, written in pathway.definitions.written.items():
        add(f"### {name.replace('_', ' ').capitalize()}\n")
        add(_facts(written, pathway, skip=("local_defaults",)))
        defaults = written.get("local_defaults") or {}
        for key, why in defaults.items():
            add(f"- {G_FLAG} `{key}`: {why}")
        add("")
    add("## Code sets\n")
    add("| code set | codes | evidence | meaning |\n|---|---|---|---|")
    for code_set in pathway.code_sets.values():
        codes = "; ".join(f"{field}: {', '.join(values)}" for field, values in code_set.codes.items())
        tag = G_FLAG if code_set.evidence == "G" else f"[{code_set.evidence}]"
        add(f"| `{code_set.name}` | {codes} | {tag} | {code_set.description} |")
    add("")
    for rule in pathway.rules:
        add(_rule(rule, pathway))
    return "\n".join(out).rstrip() + "\n"


def _rule(rule: Rule, pathway: Pathway) -> str:
    lines: list[str] = []
    add = lines.append
    severities = " / ".join(dict.fromkeys(rule.severity.values()))
    add(f"## {rule.id} {rule.name} ({severities})\n")
    if rule.group != rule.id:
        add(f"Shares one escalation with the other rules of group **{rule.group}**.\n")
    add(f"**Trigger.** {rule.trigger}\n")
    add(f"**How it is tested** (kind `{rule.kind}`): {KINDS[rule.kind].summary}.\n")
    add("**Facts, thresholds and code sets.**\n")
    add(_facts(rule.facts, pathway))
    add("")
    add("**Severity.**\n")
    for case, severity in rule.severity.items():
        add(f"- {case.replace('_', ' ')}: **{severity}**")
    add("")
    add("**Reason sent with the escalation.**\n")
    for case, template in dict.fromkeys(rule.reason.items()):
        prefix = f"{case.replace('_', ' ')}: " if len(set(rule.reason.values())) > 1 else ""
        add(f"- {prefix}_{template}_")
    add("")
    add("**Actions and deadlines.**\n")
    add("| action | within | when | evidence |\n|---|---|---|---|")
    for action in rule.actions:
        when = action.when.replace("_", " ") if action.when else "always"
        tag = G_FLAG if action.evidence == "G" else f"[{action.evidence}]"
        add(f"| {action.action} | {_words(action.within)} (`{action.within}`) | {when} | {tag} |")
    add("")
    if rule.resolvers:
        add("**Closed (resolved) by.**\n")
        for resolver in rule.resolvers:
            add(f"- {resolver.describe(pathway.labels)}: _{resolver.resolution}_")
        add("")
    if rule.not_while_open:
        add(f"**Not raised while open:** {', '.join(rule.not_while_open)}.\n")
    add(f"**Source.** {rule.source} ({' '.join(f'[{t}]' for t in rule.evidence)})\n")
    if "G" in rule.evidence:
        add(f"{G_FLAG}: part of this rule is general practice or a local choice.\n")
    if rule.local_defaults:
        add("**Local defaults.**\n")
        for key, why in rule.local_defaults.items():
            add(f"- {G_FLAG} `{key}`: {why}")
        add("")
    if rule.notes:
        add(f"**Notes and readings.** {rule.notes}\n")
    return "\n".join(lines)


def _facts(facts: Mapping[str, Any], pathway: Pathway, depth: int = 0, skip: Sequence[str] = ()) -> str:
    lines = []
    indent = "  " * depth
    for key, value in facts.items():
        if key in skip:
            continue
        label = key.replace("_", " ")
        if isinstance(value, Mapping):
            lines.append(f"{indent}- {label}:")
            lines.append(_facts(value, pathway, depth + 1))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            lines.append(f"{indent}- {label}:")
            lines.extend(f"{indent}  - {_inline(item, pathway)}" for item in value)
        else:
            lines.append(f"{indent}- {label}: {_value(value, pathway)}")
    return "\n".join(lines)


def _inline(item: Mapping[str, Any], pathway: Pathway) -> str:
    """One list entry on one line: 'name: unstable; at least: 13; at most: 18'."""
    parts = []
    for key, value in item.items():
        shown = _inline(value, pathway) if isinstance(value, Mapping) else _value(value, pathway)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def _value(value: Any, pathway: Pathway) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and value in pathway.code_sets:
        code_set = pathway.code_sets[value]
        codes = "; ".join(f"{field}: {', '.join(values)}" for field, values in code_set.codes.items())
        return f"code set `{value}` ({codes})"
    if isinstance(value, str) and value.startswith("P"):
        try:
            return f"{_words(value)} (`{value}`)"
        except ValueError:
            return value
    return str(value)


def _words(duration: str) -> str:
    return describe_duration(parse_duration(duration))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m triage.pathway_doc", description=__doc__.splitlines()[0])
    parser.add_argument("--pathway", type=Path, default=pathways_dir() / "mscc", help="pathway directory")
    parser.add_argument("--out", type=Path, help="write the markdown here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        document = render(load_pathway(args.pathway))
    except PathwayError as exc:
        print(f"pathway_doc: the pathway definition is invalid: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_text(document, encoding="utf-8")
    else:
        sys.stdout.write(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
