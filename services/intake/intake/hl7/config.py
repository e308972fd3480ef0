"""The HL7 channel's configuration, loaded once at start-up: code mapping, radiology rules, options.

A wrong mapping or rules file stops intake with a message naming the file and the entry; nothing is
read from them later that could fail on a message.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from zoneinfo import ZoneInfo

from carepath import logs
from carepath.clock import Clock
from intake import value_sets
from intake.hl7.codes import CodeMap, CodeMapError, load_codes
from intake.hl7.handler import Hl7Intake
from intake.hl7.mapping import MappingOptions
from intake.hl7.radiology import RadiologyRules
from intake.hl7.radiology_rules import RadiologyRulesError, load_rules
from intake.hl7.server import MllpServer, TlsError, tls_context
from intake.service import Intake
from intake.settings import IntakeSettings

_log = logs.get("intake.mllp")


@dataclass(frozen=True)
class Hl7Config:
    codes: CodeMap
    rules: RadiologyRules
    options: MappingOptions
    max_bytes: int
    idle_timeout_s: float = 300.0
    frame_timeout_s: float = 30.0
    max_connections: int = 100
    allowed_sources: tuple[IPv4Network | IPv6Network, ...] = ()
    tls: ssl.SSLContext | None = None  # MLLP over TLS (CAREPATH_INTAKE_MLLP_TLS_*); None: plain
    source_names: tuple[str, ...] = ()  # the name of each allowed source, in the same order


def load_config(settings: IntakeSettings) -> Hl7Config:
    """Raises SystemExit naming the file and entry when the mapping or the rules are wrong."""
    try:
        term = value_sets.load(settings.terminology_site_files)
        codes = load_codes([settings.hl7_codes] if settings.hl7_codes else [], term)
        rules = load_rules()
    except value_sets.ValueSetError as exc:
        raise SystemExit(f"intake: the value sets are invalid: {exc}") from None
    except (CodeMapError, RadiologyRulesError) as exc:
        raise SystemExit(f"intake: the HL7 configuration is invalid: {exc}") from None
    tls = None
    if settings.mllp_tls_cert is not None and settings.mllp_tls_key is not None:
        try:
            tls = tls_context(settings.mllp_tls_cert, settings.mllp_tls_key, settings.mllp_tls_client_ca)
        except TlsError as exc:
            raise SystemExit(f"intake: MLLP over TLS cannot start: {exc}") from None
    options = MappingOptions(ZoneInfo(settings.site_timezone), settings.patient_id_authorities)
    return Hl7Config(
        codes,
        rules,
        options,
        settings.mllp_max_bytes,
        settings.mllp_idle_timeout_s,
        settings.mllp_frame_timeout_s,
        settings.mllp_max_connections,
        settings.mllp_allowed_networks,
        tls,
        settings.mllp_source_names,
    )


def new_server(intake: Intake, config: Hl7Config, clock: Clock) -> MllpServer:
    handler = Hl7Intake(intake, config.codes, config.rules, config.options, clock)
    return MllpServer(
        handler,
        config.max_bytes,
        idle_timeout=config.idle_timeout_s,
        frame_timeout=config.frame_timeout_s,
        max_connections=config.max_connections,
        allowed_sources=config.allowed_sources,
        tls=config.tls,
        source_names=config.source_names,
    )


async def start_listener(
    intake: Intake, config: Hl7Config, clock: Clock, settings: IntakeSettings, *, standalone: bool = False
) -> MllpServer | None:
    """The listener on CAREPATH_INTAKE_MLLP_PORT. A port that cannot be bound stops intake, except the
    default port outside production: a developer's second intake on one machine (tests, a demo beside
    a test run) then serves HTTP without MLLP and says so, instead of failing to start.

    With CAREPATH_INTAKE_MLLP_STANDALONE the HTTP process starts no listener (``python -m intake.hl7``
    runs it in a process of its own, ``standalone=True``, where a port that cannot be bound always stops
    it: listening is its only job)."""
    if settings.mllp_standalone and not standalone:
        _log.info("mllp.in_own_process", port=settings.mllp_port, hint="python -m intake.hl7 listens")
        return None
    server = new_server(intake, config, clock)
    try:
        await server.start(settings.bind_host, settings.mllp_port)
    except OSError as exc:
        if standalone or settings.environment == "production" or "mllp_port" in settings.model_fields_set:
            _log.error("mllp.cannot_listen", port=settings.mllp_port, error=exc.strerror)
            raise
        _log.warning(
            "mllp.not_listening",
            port=settings.mllp_port,
            error=exc.strerror,
            hint="the default MLLP port is in use; set CAREPATH_INTAKE_MLLP_PORT (0 disables)",
        )
        return None
    return server
