"""Every configuration file carepath ships is checked by the JSON Schema of its kind in ``schemas/config/``,
names that schema on its first line (so an editor with a YAML language server checks it while a safety
officer or a site's integration engineer edits it), and loads through the one strict loader."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from carepath import yamlfile
from carepath.resources import ROOT, schemas_dir

pytestmark = pytest.mark.contract

CONFIG = schemas_dir() / "config"
# The folders that hold configuration files carepath reads (Prometheus, Grafana and compose files are
# read by those tools, and the conformance timelines are test data, not configuration).
FOLDERS = ("pathways", "deploy/sites", "deploy/notifier", "services", "demo", "tests/unit/hl7")
SHIPPED = sorted(
    path
    for folder in FOLDERS
    for pattern in ("*.yaml", "*.yml")
    for path in (ROOT / folder).rglob(pattern)
    if ".run" not in path.parts
)
HINT = re.compile(r"^# yaml-language-server: \$schema=(?P<target>\S+)\n")


def _kind(path: Path) -> str:
    match = HINT.match(path.read_text(encoding="utf-8"))
    assert match, (
        f"{path.relative_to(ROOT)}: the first line must name its schema (# yaml-language-server: ...)"
    )
    target = (path.parent / match["target"]).resolve()
    assert target.parent == CONFIG.resolve(), (
        f"{path.relative_to(ROOT)}: {match['target']} is not in schemas/config"
    )
    assert target.is_file(), f"{path.relative_to(ROOT)}: {match['target']} does not exist"
    return target.name.removesuffix(".schema.json")


def test_the_files_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SHIPPED}
    assert {"pathways/mscc/followup.yaml", "deploy/notifier/endpoints.yml", "demo/feed.yaml"} <= names
    assert len(SHIPPED) >= 20


@pytest.mark.parametrize("kind", yamlfile.KINDS)
def test_each_kind_has_a_valid_draft_2020_12_schema(kind: str) -> None:
    schema = json.loads((CONFIG / f"{kind}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/config/{kind}.schema.json")
    assert schema["title"] and schema["description"]


def test_every_schema_is_a_kind_the_loader_knows_and_every_kind_ships_a_file() -> None:
    assert {p.name.removesuffix(".schema.json") for p in CONFIG.glob("*.schema.json")} == set(yamlfile.KINDS)
    assert {_kind(p) for p in SHIPPED} == set(yamlfile.KINDS)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_a_shipped_file_validates_against_its_schema_and_loads(path: Path) -> None:
    kind = _kind(path)
    schema = json.loads((CONFIG / f"{kind}.schema.json").read_text(encoding="utf-8"))
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))
    ]
    assert errors == []
    assert yamlfile.load(path, kind) is not None  # the loader's fast check agrees with jsonschema
