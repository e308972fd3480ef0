"""The pathway loader: the shipped pathway loads; a malformed one is refused with a message naming the
file, the rule and the problem; thresholds and rules are data (changed without touching code)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.triage.triage_spec import (
    PATHWAY_DIR,
    SCHEMAS_DIR,
    Timeline,
    background,
    cancer,
    lab,
    pain,
    pathway,
)
from triage.core import PathwayError, load_pathway

pytestmark = pytest.mark.unit


def variant(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the shipped pathway with ``change`` applied to the red-flag YAML."""
    target = tmp_path / "mscc"
    shutil.copytree(PATHWAY_DIR, target)
    path = target / "redflags.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def refused(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> str:
    with pytest.raises(PathwayError) as caught:
        load_pathway(variant(tmp_path, change), SCHEMAS_DIR)
    return str(caught.value)


def test_the_shipped_pathway_loads_with_every_rule() -> None:
    """R1-R13 (R6 as three bands) with sources, actions and valid severities."""
    loaded = pathway()
    assert (loaded.id, loaded.version) == ("carepath-mscc", "1.0.0")
    assert [r.id for r in loaded.rules] == [
        "R1", "R2", "R3", "R4", "R5", "R6a", "R6b", "R6c", "R7", "R8", "R9", "R10", "R11", "R12", "R13",
    ]  # fmt: skip
    assert [g.key for g in loaded.groups][5] == "R6"
    for r in loaded.rules:
        assert r.source and r.trigger and r.actions and r.evidence, r.id
        assert set(r.severity.values()) <= {"routine", "urgent", "emergency"}


def test_every_local_default_is_visible() -> None:
    """[G] items are marked: a G-tagged action, a G evidence tag or a documented local default."""
    for r in pathway().rules:
        has_g = "G" in r.evidence or r.local_defaults or any(a.evidence == "G" for a in r.actions)
        assert has_g or r.evidence in (("P",), ("S",), ("P", "S"), ("S", "P")), r.id


# fmt: off
MALFORMED = [
    # problem,                          change to redflags.yaml,                                                                       message contains
    ("unknown key",                     lambda d: rule(d, "R1").update(severty="urgent"),                                               "rules.[0].severty: unknown key 'severty'"),
    ("missing source",                  lambda d: rule(d, "R2").pop("source"),                                                          "rules.[1]: missing key 'source'"),
    ("bad duration",                    lambda d: rule(d, "R1")["actions"][0].update(within="1 hour"),                                  "rules.[0].actions.[0].within: an ISO 8601 duration expected (PT1H = 1 hour, P7D = 7 days), not '1 hour'"),
    ("duration in months",              lambda d: rule(d, "R4")["actions"][0].update(within="P1M"),                                     "uses years or months"),
    ("unknown severity",                lambda d: rule(d, "R3").update(severity="critical"),                                            "rules.[2].severity: a severity (emergency, urgent, routine), or one per case, not 'critical'"),
    ("missing severity case",           lambda d: rule(d, "R4")["severity"].pop("several_factors"),                                     "rule R4.severity: missing required key 'several_factors'"),
    ("code not in the contract",        lambda d: d["code_sets"]["neurological_features"]["codes"].update(neurological=["leg_weakness"]), "'leg_weakness' not in the event contract's codes for neurological"),
    ("inline code not in the contract", lambda d: rule(d, "R8")["facts"].update(modality=["mri", "ultrasound"]),                      "rule R8.facts.modality: 'ultrasound' not in the event contract"),
    ("duplicate rule id",               lambda d: rule(d, "R5").update(id="R4", name="OTHER_NAME"),                                     "rule R4: duplicate rule id"),
    ("calcium bands overlap",           lambda d: rule(d, "R6b")["facts"]["band"].update(at_least=2.9),                                 "bands 'R6c' (>= 2.6 and < 3.0 mmol/L) and 'R6b' (>= 2.9 and <= 3.5 mmol/L) overlap"),
    ("calcium bands leave a gap",       lambda d: rule(d, "R6b")["facts"]["band"].update(at_least=3.1),                                 "gap between bands 'R6c'"),
    ("boundary in neither band",        lambda d: rule(d, "R6a")["facts"]["band"].update(above=None) or
                                                  rule(d, "R6b")["facts"]["band"].update(at_most=None, below=3.5) or
                                                  rule(d, "R6a")["facts"]["band"].update(above=3.5),                                    "gap between bands 'R6b'"),
    ("highest band closed",             lambda d: rule(d, "R6a")["facts"]["band"].update(at_most=6.0),                                  "must be open-ended"),
    ("band in an unknown unit",         lambda d: rule(d, "R6c")["facts"]["band"].update(unit="mEq/L"),                                 "'mEq/L' is not a unit for this band"),
    ("SINS bands with a gap",           lambda d: rule(d, "R10")["facts"]["bands"][1].update(at_least=14),                              "gap between bands 'potentially_unstable'"),
    ("unknown code set",                lambda d: rule(d, "R1")["facts"].update(features="neuro_features"),                             "rule R1.facts.features: unknown code set 'neuro_features'"),
    ("code set of the wrong field",     lambda d: rule(d, "R1")["facts"].update(features="fever") or
                                                  rule(d, "R1")["facts"].update(cancer="fever"),                                        "rule R1.facts.cancer: code set 'fever' uses field systemic"),
    ("unknown placeholder",             lambda d: rule(d, "R1").update(reason="Known {cancr}."),                                        "unknown placeholder {cancr}"),
    ("unknown rule referenced",         lambda d: rule(d, "R2").update(not_while_open=["R99"]),                                         "rule R2: refers to unknown rule 'R99'"),
    ("unknown action condition",        lambda d: rule(d, "R9")["actions"][0].update(when="rare_primary"),                              "'rare_primary' is not a case or condition of this rule"),
    ("local default of no setting",     lambda d: rule(d, "R12")["local_defaults"].update(window="x"),                                  "rule R12.local_defaults.window: 'window' is not a setting"),
    ("unknown kind",                    lambda d: rule(d, "R5").update(kind="infection"),                                               "rule R5.kind: 'infection' is not one of"),
    ("bad rule id",                     lambda d: rule(d, "R5").update(id="rule five"),                                                 "rules.[4].id: a rule id like R1 or R6a expected, not 'rule five'"),
    ("resolver the kind cannot use",    lambda d: rule(d, "R1")["resolved_by"].append({"when": "condition_cleared", "resolution": "x"}), "cannot tell when its condition has cleared"),
    ("group of different kinds",        lambda d: rule(d, "R13").update(group="R6"),                                                    "rules sharing an escalation must be of the same kind"),
    ("no action for a case",            lambda d: rule(d, "R4")["actions"].pop(1),                                                      "no action applies to case 'several_factors'"),
    ("unknown evidence tag",            lambda d: rule(d, "R1")["actions"][0].update(evidence="X"),                                     "rules.[0].actions.[0].evidence: 'X' is not one of ['P', 'S', 'G']"),
    ("unknown top-level key",           lambda d: d.update(rulez=[]),                                                                   "redflags.yaml: line 1065 rulez: unknown key 'rulez'"),
]
# fmt: on


@pytest.mark.parametrize(("problem", "change", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_pathway_is_refused_with_a_clear_message(
    tmp_path: Path, problem: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    """A malformed pathway never starts: the message names the file, the rule and the problem."""
    error = refused(tmp_path, change)
    assert message in error
    assert error.startswith("redflags.yaml")


def test_invalid_yaml_and_duplicate_keys_are_refused(tmp_path: Path) -> None:
    """YAML errors and keys written twice (which YAML would silently merge) are refused."""
    target = variant(tmp_path, lambda d: None)
    path = target / "redflags.yaml"
    path.write_text(path.read_text() + "\nrules: [\n")
    with pytest.raises(PathwayError, match=r"redflags\.yaml: not valid YAML"):
        load_pathway(target, SCHEMAS_DIR)
    path.write_text("labels: {}\nlabels: {}\n")
    with pytest.raises(PathwayError, match="key 'labels' is written twice"):
        load_pathway(target, SCHEMAS_DIR)


def test_missing_files_are_named(tmp_path: Path) -> None:
    """A missing pathway file or contract schema is named."""
    with pytest.raises(PathwayError, match=r"pathway\.yaml: cannot read: not found"):
        load_pathway(tmp_path, SCHEMAS_DIR)
    with pytest.raises(
        PathwayError, match="not found; the pathway's codes are checked against the event contract"
    ):
        load_pathway(PATHWAY_DIR, tmp_path)


def test_the_documented_alternative_calcium_cut_off_is_a_data_change(tmp_path: Path) -> None:
    """CKS/CTCAE: severe above 3.4 mmol/L. Changing two numbers in the YAML moves 3.45 from R6b to R6a."""

    def cks(data: dict[str, Any]) -> None:
        rule(data, "R6a")["facts"]["band"]["above"] = 3.4
        rule(data, "R6b")["facts"]["band"]["at_most"] = 3.4

    alternative = load_pathway(variant(tmp_path, cks), SCHEMAS_DIR)
    timeline = Timeline(lab("day 2 10:00", "adjusted_calcium", 3.45, "mmol/L"))
    assert timeline.play().changes("R6") == ["R6b raised urgent"]
    assert timeline.play(pathway_=alternative).changes("R6") == ["R6a raised emergency"]


def test_a_threshold_change_needs_no_code_change(tmp_path: Path) -> None:
    """R4: age over 50 becomes over 45 by editing one number."""
    changed = load_pathway(
        variant(tmp_path, lambda d: rule(d, "R4")["facts"]["factors"][0].update(age_above=45)), SCHEMAS_DIR
    )
    timeline = Timeline(background("day 1 08:00", age_years=48), pain("day 2 10:00", nrs=4))
    assert timeline.play().changes("R4") == []
    assert timeline.play(pathway_=changed).changes("R4") == ["R4 raised routine"]


def test_a_new_rule_of_an_existing_kind_needs_no_code_change(tmp_path: Path) -> None:
    """A site adds R14: past melanoma with new numbness as its own escalation - only YAML."""

    def add(data: dict[str, Any]) -> None:
        extra = dict(rule(data, "R1"))
        extra.update(
            id="R14",
            name="MELANOMA_NEURO_WATCH",
            facts={
                "cancer": {"primary_site": ["melanoma"]},
                "cancer_status": ["history"],
                "features": {"neurological": ["sensory_loss"]},
                "feature_status": ["new"],
            },
            severity="urgent",
            reason="Past {cancer} with {features}.",
        )
        data["rules"].append(extra)

    extended = load_pathway(variant(tmp_path, add), SCHEMAS_DIR)
    run = Timeline(
        cancer("day 1 09:00", "melanoma", "history"),
        pain("day 2 10:00", nrs=2, neurological=["sensory_loss"]),
    ).play(pathway_=extended)
    assert run.changes("R1", "R14") == ["R1 raised emergency", "R14 raised urgent"]
    assert run.last("R14").data["reason"] == "Past melanoma with new sensory loss or numbness."
