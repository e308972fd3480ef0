"""The strict YAML reader every configuration file goes through."""

from __future__ import annotations

from pathlib import Path

import pytest

from carepath import yamlfile

pytestmark = pytest.mark.unit


def test_a_key_written_twice_is_refused_with_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("a: 1\nb:\n  c: 2\n  c: 3\n")
    with pytest.raises(yamlfile.YamlFileError) as refused:
        yamlfile.read(path)
    assert str(refused.value) == f"{path}: not valid YAML: line 4: key 'c' is written twice in one mapping"


def test_keys_equal_only_after_parsing_are_duplicates_too(tmp_path: Path) -> None:
    with pytest.raises(yamlfile.YamlFileError, match="key 1 is written twice"):
        yamlfile.parse("1: a\n0x1: b\n")


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(yamlfile.YamlFileError, match="not valid YAML"):
        yamlfile.parse("!!python/object/apply:os.system ['true']\n")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(yamlfile.YamlFileError, match="cannot read: not found"):
        yamlfile.read(tmp_path / "absent.yaml")


def test_where_names_the_line_of_a_key_path(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("endpoints:\n  - name: pager\n    url: http://x\n")
    assert yamlfile.where(path, ["endpoints", 0, "url"]) == f"{path}:3 endpoints.[0].url"
    assert yamlfile.where(path, ["nope"]) == f"{path} nope"


def test_unknown_and_missing_keys_are_named() -> None:
    with pytest.raises(ValueError, match="unknown keys x, y"):
        yamlfile.check_keys({"x": 1, "y": 2, "a": 3}, {"a"}, ValueError)
    with pytest.raises(ValueError, match="missing key a"):
        yamlfile.check_keys({}, {"a"}, ValueError, required={"a"})
