"""A bounded fuzzing run in the suite: 2,400 inputs across every channel (schemathesis from the served
OpenAPI, mutated JSON events, FHIR resources and Bundles, mutated HL7 v2 over MLLP, half-open and
slow MLLP connections) at a real intake process on its own embedded broker. ``make fuzz`` runs 10,000.

No wall-clock bound but the one that defines "hung" (the publish timeout plus 5 s per answer), so the test
holds on a loaded machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from carepath_tools.fuzz.harness import Config, run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

INPUTS = 2_400


def test_intake_survives_malformed_input_on_every_channel(tmp_path: Path) -> None:
    found = run(Config(inputs=INPUTS, seed=7, time_limit_s=400, log_dir=tmp_path))
    summary = found.summary()
    assert found.stopped_early is None, summary
    assert sum(found.sent.values()) == INPUTS, summary
    assert all(found.sent[c] > 0 for c in ("openapi", "events", "fhir", "hl7", "mllp-conn")), summary
    assert found.server_errors == [], summary
    assert found.exits == [], summary
    assert found.hung == [], summary
    assert found.transport_errors == [] and found.harness_errors == [], summary
    assert found.no_reason == [], summary
    assert found.malformed_accepted == [] and found.stored_invalid == [], summary
    # refusals of the dead-lettered classes (events 400/422/413-batch, FHIR 400/422, HL7 AE) all kept
    assert found.dead_letters_missing() == {}, summary
    assert min(found.dlq_promised[c] for c in ("http", "fhir", "mllp")) > 0, summary
    # both outcomes happen on every content channel: the mutants are not all refused, nor all accepted
    # (the HL7 samples ask for enhanced mode, MSH-15 AL: a stored message is answered CA)
    for channel, accepted in (("events", ("202",)), ("fhir", ("201",)), ("hl7", ("AA", "CA"))):
        assert sum(found.answers[(channel, code)] for code in accepted) > 0, summary
    assert found.stored > 0, summary
