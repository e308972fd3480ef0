"""The FHIR code map: every shipped code reads as a contract value; a site can add and replace codes;
a malformed map refuses to load, naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.fhir.codemap import CodeConflict, CodeMapError, load_code_map
from tests.support.fhir import ATC, LOINC, SNOMED

pytestmark = pytest.mark.unit

ICD10 = "http://hl7.org/fhir/sid/icd-10"


def test_the_shipped_map_loads_and_holds_every_section() -> None:
    codes = load_code_map()
    assert codes.version
    for section in ("pain_scores", "labs", "cancers", "imaging_studies", "medications", "care_steps"):
        assert len(codes.table(section)) > 0, section
    assert codes.table("pain_scores").lookup(LOINC, "72514-3") is not None


@pytest.mark.parametrize(
    ("section", "system", "code", "field", "value"),
    [
        ("labs", LOINC, "2000-8", "test", "calcium"),
        ("labs", LOINC, "1751-7", "test", "albumin"),
        ("labs", LOINC, "6768-6", "test", "alkaline_phosphatase"),
        ("labs", LOINC, "4537-7", "test", "esr"),
        ("labs", LOINC, "1988-5", "test", "crp"),
        ("cancers", SNOMED, "254837009", "primary_site", "breast"),
        ("cancers", SNOMED, "109989006", "primary_site", "myeloma"),
        ("spinal_sites", SNOMED, "122496007", "site", "lumbar"),
        ("pain_features", SNOMED, "26544005", "value", "limb_weakness"),
        ("imaging_findings", SNOMED, "71286001", "finding", "cord_compression"),
        ("procedures", SNOMED, "392010000", "category", "vertebroplasty"),
    ],
)
def test_listed_codes_read_as_contract_values(
    section: str, system: str, code: str, field: str, value: str
) -> None:
    entry = load_code_map().table(section).lookup(system, code)
    assert entry is not None and entry[field] == value


def test_units_are_ucum_codes_read_as_contract_units() -> None:
    codes = load_code_map()
    assert codes.unit("lab_units", "mmol/L") == "mmol/L"
    assert codes.unit("lab_units", "mg/dl") is None  # UCUM is case-sensitive: never guessed
    assert codes.unit("dose_units", "ug") == "microgram"


def test_hierarchical_systems_read_the_most_specific_listed_code() -> None:
    codes = load_code_map()
    meds = codes.table("medications")
    dexamethasone = meds.lookup(ATC, "H02AB02")
    hydrocortisone = meds.lookup(ATC, "H02AB09")  # not listed itself: its group H02AB is
    assert dexamethasone is not None and dexamethasone.get("agent") == "dexamethasone"
    assert hydrocortisone is not None and hydrocortisone["category"] == "corticosteroid"
    assert hydrocortisone.get("agent") is None
    breast = codes.table("cancers").lookup(ICD10, "C50.9")
    assert breast is not None and breast["primary_site"] == "breast"
    assert codes.table("cancers").lookup(ICD10, "C5") is None


def test_non_hierarchical_systems_match_exactly() -> None:
    assert load_code_map().table("labs").lookup(LOINC, "2000") is None


def test_codings_of_one_concept_that_disagree_are_a_conflict() -> None:
    table = load_code_map().table("cancers")
    with pytest.raises(CodeConflict, match="mean different things"):
        table.match([{"system": SNOMED, "code": "254837009"}, {"system": SNOMED, "code": "363358000"}])


def test_unlisted_codings_are_ignored_when_another_coding_is_listed() -> None:
    table = load_code_map().table("cancers")
    match = table.match([{"system": "urn:local", "code": "BRCA"}, {"system": SNOMED, "code": "254837009"}])
    assert match is not None and match.coding_index == 1


def test_a_site_file_adds_codes_and_replaces_listed_ones(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "systems:\n  local: urn:oid:2.16.840.1.113883.3.9999\n"
        "cancers:\n  - {system: local, code: BRCA, display: Breast cancer, primary_site: breast}\n"
        "  - {system: snomed, code: '363406005', display: Colon (site view), primary_site: other}\n"
        "lab_units:\n  mmol/l: mmol/L\n"
    )
    codes = load_code_map(site)
    local = codes.table("cancers").lookup("urn:oid:2.16.840.1.113883.3.9999", "BRCA")
    replaced = codes.table("cancers").lookup(SNOMED, "363406005")
    assert local is not None and local["primary_site"] == "breast"
    assert replaced is not None and replaced["primary_site"] == "other"
    assert codes.unit("lab_units", "mmol/l") == "mmol/L"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("cancers:\n  - {system: snomed, code: '1', primary_site: pancreas}\n", "primary_site 'pancreas'"),
        ("cancers:\n  - {system: nowhere, code: '1', primary_site: breast}\n", "system 'nowhere'"),
        ("labs:\n  - {system: loinc, code: '1'}\n", "test is required"),
        (
            "labs:\n  - {system: loinc, code: '1', test: crp, colour: red}\n",
            "line 2 labs.[0].colour: unknown key 'colour'",
        ),
        (
            "pain_features:\n  - {system: snomed, code: '1', feature: neurological, value: night_pain}\n",
            "not a neurological code",
        ),
        ("lab_units:\n  mg: milligrams\n", "'milligrams' is not a contract unit"),
        ("vitals:\n  - {system: loinc, code: '1'}\n", "line 1 vitals: unknown key 'vitals'"),
        ("systems:\n  loinc: http://example.org/other\n", "systems.loinc is already"),
        ("[not, a, mapping]\n", "line 1 top level: a mapping expected, got a list"),
    ],
)
def test_a_malformed_site_file_is_refused_naming_the_problem(
    tmp_path: Path, content: str, named: str
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(content)
    with pytest.raises(CodeMapError) as caught:
        load_code_map(site)
    assert named in str(caught.value) and str(site) in str(caught.value)


def test_a_missing_site_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CodeMapError, match="cannot read: not found"):
        load_code_map(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("section", "system", "code", "expected"),
    [
        (
            "medications",
            "http://www.nlm.nih.gov/research/umls/rxnorm",
            "197582",
            {"category": "corticosteroid", "agent": "dexamethasone"},
        ),
        (
            "medications",
            "urn:oid:2.16.840.1.113883.6.88",
            "197582",
            {"category": "corticosteroid", "agent": "dexamethasone"},
        ),
        ("cancers", "http://hl7.org/fhir/sid/icd-10-cm", "C50.911", {"primary_site": "breast"}),
        ("cancers", "http://hl7.org/fhir/sid/icd-10-uk", "C34.1", {"primary_site": "lung"}),
        ("cancers", "http://hl7.org/fhir/sid/icd-10", "C16.9", {"primary_site": "other"}),
        ("labs", "http://loinc.org", "17861-6", {"test": "calcium"}),
    ],
    ids=["rxnorm-product", "rxnorm-by-oid", "icd10cm", "icd10uk", "icd10-other-cancer", "calcium-mass"],
)
def test_value_sets_reach_codes_the_file_does_not_list_one_by_one(
    section: str, system: str, code: str, expected: dict[str, str]
) -> None:
    entry = load_code_map().table(section).lookup(system, code)
    assert entry is not None and dict(entry.values) == expected


def test_an_unknown_value_set_stops_loading(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("medications:\n  - {value_set: medicine.nope, category: corticosteroid}\n")
    with pytest.raises(CodeMapError, match=r"value_set 'medicine\.nope' is not one of the value sets"):
        load_code_map(site)


def test_a_site_file_writing_a_key_twice_stops_loading_naming_the_line(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("labs:\n  - system: loinc\n    code: '2000-8'\n    test: calcium\n    test: albumin\n")
    with pytest.raises(CodeMapError, match=r"line 5.*'test' is written twice"):
        load_code_map(site)
