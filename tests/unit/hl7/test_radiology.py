"""Findings read from free-text radiology reports, as a clinician would read the sentence.

"No evidence of cord compression" must never raise R8 (cord_compression excluded); a hedged finding is
escalated for review (possible), never ignored; negation does not leak across sentences, semicolons or "but".
"""

from __future__ import annotations

import pytest

from intake.hl7.radiology import RadiologyRules, read_report

pytestmark = pytest.mark.unit

CORD, CAUDA = "cord_compression", "cauda_equina_compression"
NEW_MET, FRACTURE = "new_vertebral_metastasis", "pathological_fracture"
COLLAPSE, EPIDURAL = "vertebral_collapse", "epidural_disease"


def findings(text: str, rules: RadiologyRules) -> dict[str, str]:
    return {f.code: f.certainty for f in read_report(text, rules).findings}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # stated absent
        ("No evidence of cord compression.", {CORD: "excluded"}),
        ("There is no evidence of spinal cord compression.", {CORD: "excluded"}),
        ("No MSCC.", {CORD: "excluded"}),
        ("no mscc", {CORD: "excluded"}),
        ("Cord compression is excluded.", {CORD: "excluded"}),
        ("Metastatic spinal cord compression has been excluded.", {CORD: "excluded"}),
        ("MRI excludes cord compression.", {CORD: "excluded"}),
        ("No cauda equina compression.", {CAUDA: "excluded"}),
        ("Cauda equina compression is not seen.", {CAUDA: "excluded"}),
        ("No epidural disease or cord compression.", {EPIDURAL: "excluded", CORD: "excluded"}),
        ("Without compression of the cord.", {CORD: "excluded"}),
        ("The cord is not compressed.", {CORD: "excluded"}),
        ("The cauda equina nerve roots are no longer compressed.", {CAUDA: "excluded"}),
        (
            "There is no evidence of cord compression or cauda equina compression.",
            {CORD: "excluded", CAUDA: "excluded"},
        ),
        ("No new vertebral metastasis.", {NEW_MET: "excluded"}),
        ("No pathological fracture.", {FRACTURE: "excluded"}),
        # hedged: escalated for review
        ("Possible early cord compression at T10.", {CORD: "possible"}),
        ("Cannot exclude cauda equina compression.", {CAUDA: "possible"}),
        ("Cord compression cannot be excluded at T4.", {CORD: "possible"}),
        ("Cord compression is not excluded.", {CORD: "possible"}),
        ("No definite cord compression.", {CORD: "possible"}),
        ("Suspicious for early cord compression at T7.", {CORD: "possible"}),
        ("?cord compression at T11", {CORD: "possible"}),
        ("Impending cord compression at T8.", {CORD: "possible"}),
        ("The cord may be compressed at T6.", {CORD: "possible"}),
        ("Probable pathological fracture of T12.", {FRACTURE: "possible"}),
        # stated present
        ("Compression of the cord at T10.", {CORD: "confirmed"}),
        ("Conus compression at L1.", {CORD: "confirmed"}),
        ("CONCLUSION: New bone metastases T10, L2 and right sixth rib.", {NEW_MET: "confirmed"}),
        ("New bone metastases in the right sixth rib.", {}),
        ("Retropulsion with compression of the conus medullaris.", {CORD: "confirmed"}),
        ("The conus is not compressed.", {CORD: "excluded"}),
        ("Epidural tumour at T10 compresses the cord.", {EPIDURAL: "confirmed", CORD: "confirmed"}),
        ("Severe cord compression at T4 (Bilsky 3).", {CORD: "confirmed"}),
        ("Appearances are in keeping with cauda equina compression at L3.", {CAUDA: "confirmed"}),
        ("New T9 vertebral metastasis.", {NEW_MET: "confirmed"}),
        ("Metastatic deposit in the L3 vertebral body.", {NEW_MET: "confirmed"}),
        # a lesion described, then named
        ("New lytic lesion in the T10 vertebral body, in keeping with metastasis.", {NEW_MET: "confirmed"}),
        (
            "Multiple new sclerotic lesions in the thoracic spine consistent with metastases.",
            {NEW_MET: "confirmed"},
        ),
        ("Lytic lesion at L3 concerning for metastatic deposit.", {NEW_MET: "confirmed"}),
        ("No lesion in the spine consistent with metastasis.", {NEW_MET: "excluded"}),
        ("Haemangioma in the T10 vertebral body, not consistent with metastasis.", {}),
        ("T12 lesion in keeping with a haemangioma.", {}),
        ("Sclerotic lesions in the thoracic spine, likely degenerative.", {}),
        ("Known sclerotic lesions in the lumbar spine consistent with metastases, unchanged.", {}),
        ("Pathological fracture of L2.", {FRACTURE: "confirmed"}),
        ("Pathological compression fracture of T12.", {FRACTURE: "confirmed"}),
        ("Vertebral body collapse at T12 with 50% loss of height.", {COLLAPSE: "confirmed"}),
        (
            "No change in the cord compression at T10.",
            {CORD: "confirmed"},
        ),  # "no change in" is not a negation
        # nothing to read
        ("Degenerative disc disease at L4/5. No significant canal stenosis.", {}),
        ("Known L2 vertebral metastasis is stable.", {}),  # not new
        ("Stable appearance of the treated T9 metastasis.", {}),
    ],
)
def test_wordings(sentence: str, expected: dict[str, str], rules: RadiologyRules) -> None:
    assert findings(sentence, rules) == expected


def test_a_sentence_wrapped_over_display_lines_is_read_whole(rules: RadiologyRules) -> None:
    """HL7 TX rows and wrapped text attachments break sentences in the middle; a negation on one line
    governs the finding on the next, and a line that starts a new item stays apart."""
    wrapped = (
        "Multilevel degenerative change with disc\nbulges at L4/5. There is no evidence of cord\n"
        "compression or of cauda equina compression at any level. No\nmarrow signal abnormality."
    )
    assert findings(wrapped, rules) == {CORD: "excluded", CAUDA: "excluded"}
    listed = "FINDINGS:\nNo epidural disease\nCord compression at T10"
    assert findings(listed, rules) == {EPIDURAL: "excluded", CORD: "confirmed"}


def test_negation_does_not_leak_across_sentences(rules: RadiologyRules) -> None:
    assert findings("No fracture. Compression of the cord at T10.", rules) == {CORD: "confirmed"}


def test_negation_does_not_leak_past_but(rules: RadiologyRules) -> None:
    text = "No evidence of cord compression, but possible early cauda equina compression."
    assert findings(text, rules) == {CORD: "excluded", CAUDA: "possible"}
    assert findings("No epidural disease but there is compression of the cord at T4.", rules) == {
        EPIDURAL: "excluded",
        CORD: "confirmed",
    }


def test_negation_does_not_leak_past_a_semicolon(rules: RadiologyRules) -> None:
    text = "There is no cauda equina compression; there is cord compression at T11."
    assert findings(text, rules) == {CAUDA: "excluded", CORD: "confirmed"}


def test_negation_has_a_window(rules: RadiologyRules) -> None:
    far = "No fluid collection in the paraspinal soft tissues of the lower thoracic region and cord compression at T11."
    assert findings(far, rules) == {CORD: "confirmed"}


def test_a_new_deposit_beside_a_known_one_is_new(rules: RadiologyRules) -> None:
    assert findings("Known L2 metastasis, new T9 vertebral metastasis.", rules) == {NEW_MET: "confirmed"}


def test_the_most_certain_reading_wins_with_its_sentence_as_evidence(rules: RadiologyRules) -> None:
    report = "No cord compression at T4. Compression of the cord at T10. Possible cord compression at T12."
    [finding] = read_report(report, rules).findings
    assert (finding.certainty, finding.evidence) == ("confirmed", "Compression of the cord at T10.")


def test_the_clinical_question_is_not_read_as_the_answer(rules: RadiologyRules) -> None:
    report = (
        "Clinical details: Breast cancer, back pain and leg weakness. ?MSCC ?cord compression\n"
        "Findings: Normal marrow signal. No cord compression.\n"
        "Conclusion: No evidence of metastatic spinal cord compression."
    )
    reading = read_report(report, rules)
    assert {f.code: f.certainty for f in reading.findings} == {CORD: "excluded"}
    assert reading.findings[0].evidence == "No cord compression."


def test_sections_are_found_in_a_report_sent_as_one_line(rules: RadiologyRules) -> None:
    report = "HISTORY: ?cord compression. FINDINGS: Cord compression at T10. IMPRESSION: MSCC at T10."
    assert findings(report, rules) == {CORD: "confirmed"}


@pytest.mark.parametrize(
    ("text", "sins"),
    [
        ("SINS 11.", 11),
        ("SINS score of 9 (potentially unstable).", 9),
        ("SINS: 13/18.", 13),
        ("Spinal Instability Neoplastic Score (SINS) 12.", 12),
        ("SINS = 7", 7),
        ("SINS 7-12 means potentially unstable.", None),  # a band, not a score
        ("SINS 12-13 is borderline.", None),
        ("SINS 25.", None),  # impossible: not read
        ("Cord compression at T4.", None),
    ],
)
def test_sins_is_read_when_stated(text: str, sins: int | None, rules: RadiologyRules) -> None:
    assert read_report(text, rules).sins_score == sins


def test_the_largest_stated_sins_is_kept(rules: RadiologyRules) -> None:
    assert read_report("SINS at T4 is 8. SINS at T10 is 14.", rules).sins_score == 14


def test_evidence_is_bounded(rules: RadiologyRules) -> None:
    report = "Cord compression at T10 " + "with extensive description " * 200 + "."
    [finding] = read_report(report, rules).findings
    assert len(finding.evidence) == 2000
