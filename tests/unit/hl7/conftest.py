"""Shared fixtures for the HL7 unit tests: the code mapping (shipped, and with a site's file) and radiology
rules, loaded once."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from intake.hl7.codes import CodeMap, load_codes
from intake.hl7.handler import Hl7Intake
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology import RadiologyRules
from intake.hl7.radiology_rules import load_rules
from intake.publisher import MemoryPublisher
from intake.service import Intake
from tests.unit.hl7.samples import FixedClock

LONDON = ZoneInfo("Europe/London")
SITE_CODES = Path(__file__).with_name("site-codes.yaml")


@pytest.fixture(scope="session")
def codes() -> CodeMap:
    return load_codes()


@pytest.fixture(scope="session")
def site_codes() -> CodeMap:
    """The shipped mapping and a site's file that lists codes its feeds send and carepath never uses."""
    return load_codes([SITE_CODES])


@pytest.fixture(scope="session")
def rules() -> RadiologyRules:
    return load_rules()


@pytest.fixture(scope="session")
def options() -> MappingOptions:
    return MappingOptions(LONDON)


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
def handler(
    publisher: MemoryPublisher, site_codes: CodeMap, rules: RadiologyRules, options: MappingOptions
) -> Hl7Intake:
    """An HL7 channel over an in-memory publisher, with the site's code file and a fixed clock."""
    intake = Intake(publisher, FixedClock(), future_tolerance_s=300, dedup_capacity=1000)
    return Hl7Intake(intake, site_codes, rules, options, FixedClock())
