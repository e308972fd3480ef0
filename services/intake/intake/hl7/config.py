"""The HL7 channel's configuration, loaded once at start-up: code mapping, radiology rules, options.

A wrong mapping or rules file stops intake with a message naming the file and the entry; nothing is
read from them later that could fail on a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from carepath import logs
from carepath.clock import Clock
from intake.hl7.codes import CodeMap, CodeMapError, load_codes
from intake.hl7.handler import Hl7Intake
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology import RadiologyRules
from intake.hl7.radiology_rules import RadiologyRulesError, load_rules
from intake.hl7.server import MllpServer
from intake.service import Intake
from intake.settings import IntakeSettings

_log = logs.get("intake.mllp")


@dataclass(frozen=True)
class Hl7Config:
    codes: CodeMap
    rules: RadiologyRules
    options: MappingOptions
    max_bytes: int


def load_config(settings: IntakeSettings) -> Hl7Config:
    """Raises SystemExit naming the file and entry when the mapping or the rules are wrong."""
    try:
        codes = load_codes([settings.hl7_codes] if settings.hl7_codes else [])
        rules = load_rules()
    except (CodeMapError, RadiologyRulesError) as exc:
        raise SystemExit(f"intake: the HL7 configuration is invalid: {exc}") from None
    options = MappingOptions(ZoneInfo(settings.site_timezone), settings.patient_id_authorities)
    return Hl7Config(codes, rules, options, settings.mllp_max_bytes)


async def start_listener(
    intake: Intake, config: Hl7Config, clock: Clock, settings: IntakeSettings
) -> MllpServer | None:
    """The listener on CAREPATH_INTAKE_MLLP_PORT. A port that cannot be bound stops intake, except the
    default port outside production: a developer's second intake on one machine (tests, a demo beside
    a test run) then serves HTTP without MLLP and says so, instead of failing to start."""
    handler = Hl7Intake(intake, config.codes, config.rules, config.options, clock)
    server = MllpServer(handler, config.max_bytes)
    try:
        await server.start(settings.bind_host, settings.mllp_port)
    except OSError as exc:
        if settings.environment == "production" or "mllp_port" in settings.model_fields_set:
            raise
        _log.warning(
            "mllp.not_listening",
            port=settings.mllp_port,
            error=exc.strerror,
            hint="the default MLLP port is in use; set CAREPATH_INTAKE_MLLP_PORT (0 disables)",
        )
        return None
    return server
