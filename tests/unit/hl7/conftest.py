"""Shared fixtures for the HL7 unit tests: the shipped code mapping and radiology rules, loaded once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from intake.hl7.codes import CodeMap, load_codes
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology import RadiologyRules
from intake.hl7.radiology_rules import load_rules

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="session")
def codes() -> CodeMap:
    return load_codes()


@pytest.fixture(scope="session")
def rules() -> RadiologyRules:
    return load_rules()


@pytest.fixture(scope="session")
def options() -> MappingOptions:
    return MappingOptions(LONDON)
