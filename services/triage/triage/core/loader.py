"""Load and fully validate the pathway: ``pathway.yaml`` (id, version) and the red-flag rules.

Any problem - an unknown key, a missing field, a bad duration, an unknown severity, a code the event
contract does not have, a duplicate rule id, hypercalcaemia bands that overlap or leave a gap - raises
PathwayError naming the file, the rule and the problem, so a malformed pathway never starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carepath import yamlfile
from triage.core.definitions import (
    Definitions,
    parse_calcium_adjustment,
    parse_pain_episode,
    parse_symptom_reading,
)
from triage.core.facts import OPEN_ESCALATIONS
from triage.core.fields import Fields, Vocabulary, placeholders
from triage.core.kinds import KINDS
from triage.core.kinds.base import Context, KindSpec, Member
from triage.core.pathway import (
    EVIDENCE_TAGS,
    SEVERITIES,
    Action,
    CodeSet,
    Labels,
    Pathway,
    PathwayError,
    Rule,
    RuleGroup,
)
from triage.core.resolvers import parse_resolver
from triage.core.vocabulary import load_vocabulary

RULE_ID = re.compile(r"^R[0-9]+[a-z]?$")
RULE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def load_pathway(directory: Path, schemas_dir: Path | None = None) -> Pathway:
    """Read ``directory``/pathway.yaml and the red-flag file it names; validate everything.

    The contract's code lists are read from ``schemas_dir``: by default $CAREPATH_SCHEMAS_DIR, else the
    ``schemas`` folder two levels above the pathway (the project layout, pathways/<name>/).
    """
    directory = Path(directory)
    if schemas_dir is None:
        configured = os.environ.get("CAREPATH_SCHEMAS_DIR")
        schemas_dir = Path(configured) if configured else directory.resolve().parent.parent / "schemas"
    manifest = _read_yaml(directory / "pathway.yaml", "pathway")
    empty = Vocabulary({}, {})
    top = Fields(manifest, "pathway.yaml", empty)
    pathway_id = top.text("id")
    version = str(top.raw("version"))
    title = top.text("title", required=False)
    status = top.text("status", required=False, default="draft")
    files = top.required_child("files")
    red_flags_name = files.text("red_flags")
    tags = manifest.get("evidence_tags") or {}
    # pathway.yaml is shared with the follow-up definition: only the keys read here are checked.

    vocabulary_codes = load_vocabulary(Path(schemas_dir))
    source = red_flags_name
    red_flags = _read_yaml(directory / red_flags_name, "redflags")
    base = Fields(red_flags, source, Vocabulary(vocabulary_codes, {}))
    labels = _labels(base.required_child("labels"))
    code_sets = _code_sets(base.required_child("code_sets"))
    vocabulary = Vocabulary(vocabulary_codes, code_sets)
    root = Fields(red_flags, source, vocabulary)
    root.raw("labels")
    root.raw("code_sets")
    definitions = Definitions(
        parse_pain_episode(root.required_child("pain_episode")),
        parse_calcium_adjustment(root.required_child("adjusted_calcium")),
        parse_symptom_reading(root.required_child("symptoms")),
        {key: red_flags[key] for key in ("pain_episode", "adjusted_calcium", "symptoms")},
    )
    context = Context(labels, definitions)
    parsed = [_rule(item, source, context) for item in root.children("rules")]
    root.finish()

    rules = tuple(rule for rule, _, _ in parsed)
    _check_unique(rules, source)
    groups = _groups(parsed, source, context)
    keys = {group.key for group in groups}
    for rule, params, spec in parsed:
        for ref in (*rule.not_while_open, *spec.references(params)):
            if ref not in keys:
                hint = f" (use the group name of {ref})" if any(r.id == ref for r in rules) else ""
                raise PathwayError(f"{source}: rule {rule.id}: refers to unknown rule {ref!r}{hint}")
    return Pathway(
        id=pathway_id,
        version=version,
        title=title,
        status=status,
        rules=rules,
        groups=groups,
        code_sets=code_sets,
        labels=labels,
        definitions=definitions,
        evidence_tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {},
    )


def _read_yaml(path: Path, kind: str) -> Any:
    try:
        return yamlfile.load(path, kind)
    except yamlfile.YamlFileError as exc:
        raise PathwayError(f"{path.name}: {exc.detail}") from None


def _labels(fields: Fields) -> Labels:
    words: dict[str, dict[str, str]] = {}
    for field_name in list(fields.data):
        group = fields.required_child(field_name)
        if field_name not in fields.vocabulary.codes:
            raise fields.error(f"'{field_name}' is not an event field with codes", field_name)
        for code in list(group.data):
            group.check_codes((str(code),), field_name, str(code))
            words.setdefault(field_name, {})[str(code)] = group.text(str(code))
        group.finish()
    return Labels(words)


def _code_sets(fields: Fields) -> dict[str, CodeSet]:
    sets: dict[str, CodeSet] = {}
    for name in list(fields.data):
        spec = fields.required_child(name)
        description = spec.text("description")
        evidence = spec.choice("evidence", EVIDENCE_TAGS)
        codes_spec = spec.required_child("codes")
        codes = {
            field_name: codes_spec.check_codes(codes_spec.texts(field_name), field_name, field_name)
            for field_name in list(codes_spec.data)
        }
        codes_spec.finish()
        spec.finish()
        sets[str(name)] = CodeSet(str(name), description, str(evidence), codes)
    return sets


def _rule(fields: Fields, source: str, context: Context) -> tuple[Rule, Any, KindSpec]:
    rule_id = fields.text("id")
    if not RULE_ID.match(rule_id):
        raise fields.error(f"{rule_id!r} is not a rule id like R1 or R6a", "id")
    fields.where = f"{source}: rule {rule_id}"
    name = fields.text("name")
    if not RULE_NAME.match(name):
        raise fields.error(f"{name!r} must be UPPER_SNAKE_CASE", "name")
    kind = fields.choice("kind", tuple(KINDS))
    assert kind is not None
    spec = KINDS[kind]
    group = fields.text("group", required=False, default=rule_id)
    trigger = fields.text("trigger")
    params = spec.parse(fields.required_child("facts"), context)
    cases = spec.cases(params)
    conditions = spec.conditions(params)
    severity = _per_case(fields, "severity", cases)
    for case, value in severity.items():
        if value not in SEVERITIES:
            raise fields.error(
                f"{value!r} is not a severity ({', '.join(SEVERITIES)}) for case {case!r}", "severity"
            )
    reason = _per_case(fields, "reason", cases)
    for case, template in reason.items():
        unknown = placeholders(template) - spec.words
        if unknown:
            known = ", ".join("{" + w + "}" for w in sorted(spec.words)) or "none"
            raise fields.error(
                f"unknown placeholder {', '.join('{' + u + '}' for u in sorted(unknown))} in the reason for "
                f"case {case!r} (this kind fills {known})",
                "reason",
            )
    actions = tuple(_action(item, cases, conditions) for item in fields.children("actions"))
    for case in cases:
        if not any(a.when in (None, case) for a in actions):
            raise fields.error(
                f"no action applies to case {case!r}: every escalation needs a deadline", "actions"
            )
    resolvers = tuple(
        parse_resolver(item, spec.clears) for item in fields.children("resolved_by", required=False)
    )
    source_text = fields.text("source")
    tags = fields.texts("evidence")
    bad = [t for t in tags if t not in EVIDENCE_TAGS]
    if bad:
        raise fields.error(f"{', '.join(bad)} not an evidence tag ({', '.join(EVIDENCE_TAGS)})", "evidence")
    local_defaults = _local_defaults(fields, fields.data.get("facts") or {})
    notes = fields.text("notes", required=False)
    not_while_open = fields.texts("not_while_open", required=False)
    fields.finish()
    rule = Rule(
        id=rule_id,
        name=name,
        kind=kind,
        group=group,
        trigger=trigger,
        severity=severity,
        reason=reason,
        actions=actions,
        resolvers=resolvers,
        source=source_text,
        evidence=tags,
        facts=dict(fields.data.get("facts") or {}),
        local_defaults=local_defaults,
        notes=notes,
        not_while_open=not_while_open,
    )
    return rule, params, spec


def _per_case(fields: Fields, key: str, cases: tuple[str, ...]) -> dict[str, str]:
    value = fields.raw(key)
    if isinstance(value, str):
        return dict.fromkeys(cases, " ".join(value.split()))
    spec = fields.required_child(key)
    result: dict[str, str] = {}
    for case in cases:
        result[case] = spec.text(case)
    spec.finish()
    return result


def _action(fields: Fields, cases: tuple[str, ...], conditions: tuple[str, ...]) -> Action:
    text = fields.text("action")
    within, within_us = fields.duration("within")
    evidence = fields.choice("evidence", EVIDENCE_TAGS)
    when = fields.text("when", required=False) or None
    if when is not None and when not in cases and when not in conditions:
        choices = ", ".join((*cases, *conditions))
        raise fields.error(f"{when!r} is not a case or condition of this rule ({choices})", "when")
    fields.finish()
    return Action(text, within, within_us, str(evidence), when)


def _local_defaults(fields: Fields, facts: Mapping[str, Any]) -> dict[str, str]:
    spec = fields.child("local_defaults", required=False)
    if spec is None:
        return {}
    result: dict[str, str] = {}
    for key in list(spec.data):
        node: Any = facts
        for part in str(key).split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            raise spec.error(f"'{key}' is not a setting in this rule's facts", str(key))
        result[str(key)] = spec.text(str(key))
    spec.finish()
    return result


def _check_unique(rules: tuple[Rule, ...], source: str) -> None:
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    for rule in rules:
        if rule.id in seen_ids:
            raise PathwayError(f"{source}: rule {rule.id}: duplicate rule id")
        if rule.name in seen_names:
            raise PathwayError(f"{source}: rule {rule.id}: duplicate rule name {rule.name}")
        seen_ids.add(rule.id)
        seen_names.add(rule.name)


def _groups(parsed: list[tuple[Rule, Any, KindSpec]], source: str, context: Context) -> tuple[RuleGroup, ...]:
    order: list[str] = []
    members: dict[str, list[tuple[Rule, Any, KindSpec]]] = {}
    ids = {rule.id for rule, _, _ in parsed}
    for item in parsed:
        key = item[0].group
        if key != item[0].id and key in ids:
            raise PathwayError(f"{source}: rule {item[0].id}: group {key!r} is also the id of another rule")
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append(item)
    groups = []
    for key in order:
        items = members[key]
        spec = items[0][2]
        where = f"{source}: group {key} ({', '.join(r.id for r, _, _ in items)})"
        if any(s.name != spec.name for _, _, s in items):
            raise PathwayError(f"{where}: rules sharing an escalation must be of the same kind")
        if len(items) > 1 and not spec.grouped:
            raise PathwayError(f"{where}: rules of kind {spec.name} cannot share an escalation")
        group_members = [Member(rule.id, params, rule.severity) for rule, params, _ in items]
        if spec.check_group is not None:
            spec.check_group(group_members, where)
        detector = spec.build(group_members, context)
        reads = set(spec.reads)
        for rule, params, _ in items:
            reads.update(*(resolver.reads for resolver in rule.resolvers))
            if rule.not_while_open or spec.references(params):
                reads.add(OPEN_ESCALATIONS)
        if not spec.requires | spec.requires_one_of <= spec.reads:
            raise PathwayError(f"{where}: kind {spec.name} requires facts its detector does not read")
        rules = tuple(rule for rule, _, _ in items)
        groups.append(RuleGroup(key, rules, detector, frozenset(reads), spec.requires, spec.requires_one_of))
    return tuple(groups)
