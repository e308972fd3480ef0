"""The code mapping file: what ships, how a site extends it, and the errors a wrong entry gives at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.hl7.codes import CodeMap, CodeMapError, ObservationTarget, load_codes, words_in
from intake.hl7.message import Coded

pytestmark = pytest.mark.unit


def lookup(codes: CodeMap, code: str, system: str) -> ObservationTarget | None:
    return codes.observations.find(codes.pairs(Coded(code, "", system)))


def test_observations_are_found_by_code_and_coding_system(codes: CodeMap) -> None:
    assert lookup(codes, "72514-3", "LN") == ObservationTarget("pain.nrs")
    assert lookup(codes, "72514-3", "http://loinc.org") == ObservationTarget("pain.nrs")
    calcium = lookup(codes, "2000-8", "LN")
    assert calcium is not None and (calcium.test, calcium.unit) == ("calcium", "mmol/L")
    assert lookup(codes, "72514-3", "SCT") is None  # same code, other system: not the pain score
    assert lookup(codes, "2823-3", "LN") is None  # potassium is not read


def test_the_alternate_coding_is_tried_after_the_primary(codes: CodeMap) -> None:
    local_then_loinc = Coded("CA", "Calcium", "99LAB", "2000-8", "Calcium", "LN")
    target = codes.observations.find(codes.pairs(local_then_loinc))
    assert target is not None and target.test == "calcium"


def test_icd10_codes_match_with_or_without_the_dot_and_by_prefix(codes: CodeMap) -> None:
    for code in ("C50.9", "C509", "c50.412"):
        target = codes.diagnoses.find(codes.pairs(Coded(code, "", "I10")))
        assert target is not None and target.cancer == "breast", code
    secondary = codes.diagnoses.find(codes.pairs(Coded("C79.5", "", "I10")))
    assert secondary is not None and secondary.spinal_metastases == "suspected"
    elsewhere = codes.diagnoses.find(codes.pairs(Coded("C79.3", "", "I10")))  # a secondary in the brain
    assert elsewhere is not None and elsewhere.cancer == "other", "a secondary anywhere means cancer"
    assert codes.diagnoses.find(codes.pairs(Coded("M54.5", "", "I10"))) is None  # low back pain: no cancer


def test_value_sets_reach_every_edition_and_product(codes: CodeMap) -> None:
    cm = codes.diagnoses.find(codes.pairs(Coded("C50.911", "", "I10C")))  # ICD-10-CM
    assert cm is not None and cm.cancer == "breast"
    dex = codes.medication_codes.find(
        codes.pairs(Coded("197582", "dexamethasone 4 MG Oral Tablet", "RXNORM"))
    )
    assert dex is not None and dex.category == "corticosteroid" and dex.agent == "dexamethasone"
    atc = codes.medication_codes.find(codes.pairs(Coded("N02AA01", "morphine", "WC")))
    assert atc is not None and atc.category == "strong_opioid"
    weak = codes.medication_codes.find(codes.pairs(Coded("N02AJ06", "codeine and paracetamol", "WC")))
    assert weak is not None and weak.category == "weak_opioid"


def test_units_are_spelled_as_the_contract_spells_them(codes: CodeMap) -> None:
    assert [codes.unit(u) for u in ("mmol/l", "IU/L", "mm/hr", "µmol/L", "mcg", "ml")] == [
        "mmol/L",
        "U/L",
        "mm/h",
        "umol/L",
        "microgram",
        "mL",
    ]
    assert codes.unit("furlongs") == "furlongs"  # unknown units are kept as written, never guessed


def test_words_are_whole_words_in_order_of_appearance(codes: CodeMap) -> None:
    assert words_in("MRI Lumbar and thoracic spine", codes.region_words) == ["lumbar", "thoracic"]
    assert words_in("XR chest", codes.modality_words) == ["xray"]
    assert words_in("Ultrasound abdomen", codes.modality_words) == []


def test_a_site_file_adds_codes_and_replaces_an_entry(tmp_path: Path) -> None:
    site = tmp_path / "site-codes.yaml"
    site.write_text(
        "version: 1\n"
        "systems:\n  rlhlab: [99RLH]\n"
        "observations:\n"
        "  - {system: rlhlab, code: CACORR, to: lab, test: adjusted_calcium, unit: mmol/L}\n"
        "  - {system: loinc, code: 1751-7, to: lab, test: albumin, unit: g/L}\n"
        "imaging:\n  procedures:\n    - {system: '*', code: MRSPW, modality: mri, region: whole_spine}\n"
        "medications:\n  - {category: systemic_anticancer_therapy, names: [letrozole]}\n"
    )
    codes = load_codes([site])
    local = codes.observations.find(codes.pairs(Coded("CACORR", "Adj Ca", "99RLH")))
    assert local is not None and local.test == "adjusted_calcium"
    albumin = lookup(codes, "1751-7", "LN")
    assert albumin is not None and albumin.unit == "g/L"  # replaced the shipped entry
    procedure = codes.imaging_procedures.find(codes.pairs(Coded("MRSPW", "MRI whole spine", "L")))
    assert procedure is not None and procedure.region == "whole_spine"
    assert (
        codes.medication_names[0].category == "systemic_anticancer_therapy"
    )  # a site's names are tried first
    assert lookup(codes, "72514-3", "LN") is not None  # the rest of the shipped mapping is still there


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "observations:\n  - {system: loinc, code: X1, to: lab, test: calcum}",
            "test 'calcum' is not one of",
        ),
        (
            "observations:\n  - {system: loinc, code: X1, to: lab, test: crp, unit: mg/dL}",
            "unit 'mg/dL' is not accepted for crp",
        ),
        ("observations:\n  - {system: loinc, code: X1, to: pain.scor}", "`to` must be one of"),
        ("observations:\n  - {system: loinc, code: X1, to: pain.neurological}", "needs `value`"),
        (
            "observations:\n  - {system: loinc, code: X1, to: pain.neurological, value: paralysis}",
            "'paralysis' is not one of",
        ),
        (
            "observations:\n  - {system: loinc, code: X1, to: pain.nrs, colour: red}",
            "observations.[0].colour: unknown key 'colour'",
        ),
        ("observations:\n  - {code: X1, to: pain.nrs}", "needs `system`"),
        ("diagnoses:\n  - {system: icd10, code: C40, cancer: bone}", "primary_site 'bone' is not one of"),
        (
            "diagnoses:\n  - {system: icd10, code: C40, cancer: lung, risk_factor: iv_drug_use}",
            "exactly one of",
        ),
        ("medications:\n  - {category: opioid, names: [morphine]}", "category 'opioid' is not one of"),
        ("units:\n  mg/dl: milligrams per decilitre", "not a unit of the contract"),
        ("body_sites:\n  words:\n    neck: [neck]", "site 'neck' is not one of"),
        ("imagng: {}", "line 2 imagng: unknown key 'imagng'"),
    ],
)
def test_a_wrong_entry_stops_start_up_naming_it(tmp_path: Path, entry: str, message: str) -> None:
    site = tmp_path / "site-codes.yaml"
    site.write_text("version: 1\n" + entry + "\n")
    with pytest.raises(CodeMapError, match=r"site-codes\.yaml") as caught:
        load_codes([site])
    assert message in str(caught.value)


def test_a_missing_or_malformed_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CodeMapError, match="cannot read: not found"):
        load_codes([tmp_path / "absent.yaml"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nobservations: [\n")
    with pytest.raises(CodeMapError, match="not valid YAML"):
        load_codes([bad])
    wrong_version = tmp_path / "v2.yaml"
    wrong_version.write_text("version: 2\n")
    with pytest.raises(CodeMapError, match="line 1 version: 1 was expected"):
        load_codes([wrong_version])


def test_a_site_file_writing_a_key_twice_stops_loading_naming_the_line(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "version: 1\nobservations:\n  - {system: loinc, code: 2000-8, to: lab, test: calcium, test: albumin}\n"
    )
    with pytest.raises(CodeMapError, match=r"line 3.*'test' is written twice"):
        load_codes([site])
