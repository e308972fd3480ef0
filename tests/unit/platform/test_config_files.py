"""The one loader of configuration files: a key written twice, an unknown or missing key and a value of
the wrong type are refused naming the file, the line and the key path, by the schema of the file's kind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carepath import yamlfile
from carepath.resources import ROOT
from intake.hl7.radiology_rules import BUILTIN, RadiologyRulesError, load_rules

pytestmark = pytest.mark.unit

ENDPOINTS = """\
endpoints:
  - name: pager
    url: https://pager.example/hook
    secret_env: PAGER_SECRET
    receive:
      escalations: {severities: [emergency]}
"""


def _refusal(tmp_path: Path, text: str, kind: str = "notifier-endpoints") -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(yamlfile.YamlFileError) as refused:
        yamlfile.load(path, kind)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_a_valid_file_is_returned_as_read(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.yml"
    path.write_text(ENDPOINTS, encoding="utf-8")
    assert yamlfile.load(path, "notifier-endpoints") == yamlfile.read(path)


def test_an_unknown_key_is_named_with_its_line_and_the_keys_allowed(tmp_path: Path) -> None:
    message = _refusal(tmp_path, ENDPOINTS.replace("    receive:", "    colour: red\n    receive:"))
    assert message.startswith(
        "line 5 endpoints.[0].colour: unknown key 'colour'; allowed: concurrency, format,"
    )
    assert message.endswith("(schemas/config/notifier-endpoints.schema.json)")


def test_a_missing_key_is_named_with_the_line_of_its_mapping(tmp_path: Path) -> None:
    message = _refusal(tmp_path, ENDPOINTS.replace("    secret_env: PAGER_SECRET\n", ""))
    assert message.startswith("line 2 endpoints.[0]: missing key 'secret_env'")


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("two", "a whole number expected, got a text"),
        ("2.5", "a whole number expected, got a number"),
        ("[2]", "a whole number expected, got a list"),
        ("true", "a whole number expected, got true or false"),
        ("", "a whole number expected, got nothing"),
    ],
)
def test_a_value_of_the_wrong_type_is_named(tmp_path: Path, value: str, said: str) -> None:
    message = _refusal(tmp_path, ENDPOINTS.replace("    receive:", f"    concurrency: {value}\n    receive:"))
    assert message.startswith(f"line 5 endpoints.[0].concurrency: {said}")


def test_a_date_where_a_text_belongs_is_told_to_be_quoted(tmp_path: Path) -> None:
    message = _refusal(
        tmp_path, "version: 1\nsystems:\n  - {uri: 2026-01-01, name: x}\n", "terminology-systems"
    )
    assert message.startswith(
        "line 3 systems.[0].uri: a text expected, got a date (quote it to make it a text)"
    )


def test_the_schema_s_own_words_are_used_with_the_value(tmp_path: Path) -> None:
    message = _refusal(tmp_path, ENDPOINTS.replace("name: pager", "name: On Call"))
    assert message.startswith(
        "line 2 endpoints.[0].name: name must be lower-case letters, digits, - or _ (it is a metric label), "
        "not 'On Call'"
    )


def test_a_key_written_twice_is_refused_before_the_schema(tmp_path: Path) -> None:
    message = _refusal(tmp_path, ENDPOINTS.replace("    receive:", "    name: pager-2\n    receive:"))
    assert message == "not valid YAML: line 5: key 'name' is written twice in one mapping"


def test_an_unknown_kind_is_a_programming_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="'endpoints' is not a kind of configuration file"):
        yamlfile.load(path, "endpoints")


def test_the_radiology_reading_rules_refuse_a_key_written_twice_and_an_unknown_key(tmp_path: Path) -> None:
    path = tmp_path / "radiology.yaml"
    shutil.copy(BUILTIN, path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("window: ", "window: 3\nwindow: ", 1), encoding="utf-8")
    line = text[: text.index("window: ")].count("\n") + 2
    with pytest.raises(
        RadiologyRulesError, match=rf"radiology.yaml: not valid YAML: line {line}: key 'window'"
    ):
        load_rules(path)
    path.write_text(text.replace("window: ", "windw: 3\nwindow: ", 1), encoding="utf-8")
    with pytest.raises(RadiologyRulesError, match=rf"line {line - 1} windw: unknown key 'windw'"):
        load_rules(path)
    assert load_rules(BUILTIN) is not None and (ROOT / "schemas/config/radiology.schema.json").is_file()


def test_of_several_problems_the_first_in_the_file_is_named(tmp_path: Path) -> None:
    text = "labs:\n  - {system: loinc, test: crp}\n  - {value_set: lab.crp, system: loinc, code: '1', test: crp}\n"
    message = _refusal(tmp_path, text, "fhir-codes")
    assert message.startswith(
        "line 2 labs.[0]: an entry names either one coding (system and code) or a value set (value_set)"
    )
    message = _refusal(
        tmp_path, "labs:\n  - {system: loinc, code: '1', test: crp, colour: red}\n", "fhir-codes"
    )
    assert message.startswith("line 2 labs.[0].colour: unknown key 'colour'")  # the keys first, then the rest
