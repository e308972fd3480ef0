"""The chaos and scale-out runs read followup's changelog back and count the states written with no input
seen: what a timer pass wrote when it fired from a state it could not read (the reminders lost under
scale-out). Records made by followup's own code."""

from __future__ import annotations

import pytest

from carepath import envelope
from carepath_tools.chaos.compare import emptied_cell
from carepath_tools.chaos.run import emptied_states
from followup.batch import Incoming, run_inputs
from followup.core import PatientExpectations
from tests.unit.followup.followup_timeline import PATHWAY, PATIENT, at, escalation

pytestmark = pytest.mark.unit


def test_states_followup_writes_are_not_counted_and_an_empty_one_is() -> None:
    written = run_inputs(
        [Incoming(PATIENT.encode(), envelope.encode(escalation("R1")))], {}.get, at(minutes=1), PATHWAY
    )
    states = [s.value for s in written.states.values()]
    assert states and emptied_states(states) == 0
    empty = envelope.encode_for_storage(PatientExpectations.empty(PATIENT).to_dict())
    assert emptied_states([*states, empty]) == 1


def test_a_run_whose_changelogs_were_not_read_shows_a_dash() -> None:
    assert emptied_cell(None) == "-" and emptied_cell(0) == "0" and emptied_cell(3) == "3"
