"""Settings every carepath process shares: where the broker is, which profile, and the clock.

Each service defines its own ``Settings`` that extends :class:`CommonSettings` with what it alone needs;
all are read once at start-up from the environment (prefix ``CAREPATH_``; ``KAFKA_BOOTSTRAP_SERVERS``
unprefixed, as Kafka tooling expects) and fail fast with a message naming the bad variable.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from carepath import auth
from carepath.clock import Clock, make_clock
from carepath.profile import BrokerProfile, profile


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREPATH_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = Field(
        default="production", description="development/test relax secret requirements; production never does"
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CAREPATH_KAFKA_BOOTSTRAP_SERVERS"),
        description="comma-separated host:port list",
    )
    broker_profile: Literal["kafka", "embedded"] = Field(
        default="kafka", description="client tuning for the broker (see carepath/profile.py)"
    )
    time_scale: float = Field(default=1.0, gt=0, description="simulated seconds per real second (demo/tests)")
    time_origin: datetime | None = Field(
        default=None, description="instant where simulated and real time agree; shared by all processes"
    )
    time_file: str | None = Field(
        default=None,
        description="a steered clock's anchor file (replays; never in production): see carepath.clock",
    )
    bind_host: str = Field(default="127.0.0.1", description="address the HTTP endpoints bind to")
    metrics_tokens: SecretStr = Field(
        default=SecretStr(""),
        description="comma-separated bearer tokens /metrics asks for (at least 24 characters each in "
        "production); empty: /metrics is open, for a private network",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    stream_shell: Literal["batch", "events"] = Field(
        default="batch",
        description="how a worker reads its inputs: a fetch at a time (batch) or through Faust's agents and "
        "streams one event at a time (events; slower, kept for comparison in make bench)",
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _hosts(cls, v: str) -> str:
        hosts = [h.strip() for h in v.split(",") if h.strip()]
        bad = [h for h in hosts if ":" not in h or not h.rsplit(":", 1)[1].isdigit()]
        if not hosts or bad:
            raise ValueError(f"expected host:port[,host:port...], got {v!r}")
        return ",".join(hosts)

    @field_validator("time_origin")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("must include a timezone, e.g. 2026-01-01T00:00:00Z")
        return v

    @model_validator(mode="after")
    def _no_steered_clock_in_production(self) -> CommonSettings:
        if self.time_file and self.environment == "production":
            raise ValueError("CAREPATH_TIME_FILE steers the clock for replays and is refused in production")
        return self

    @model_validator(mode="after")
    def _metrics_tokens_strong(self) -> CommonSettings:
        _ = self.metrics_token_list  # in production: every token set is long enough, not a development one
        return self

    @property
    def metrics_token_list(self) -> list[str]:
        return auth.metrics_tokens(self.metrics_tokens.get_secret_value(), self.environment)

    @property
    def api_documentation(self) -> dict[str, Any]:
        """FastAPI's documentation pages (/docs, /redoc, /openapi.json) outside production only: there every
        route but the probes and /metrics needs a credential, and a browser's docs page cannot present one.
        The document itself is published: ``python -m intake.openapi`` prints intake's."""
        if self.environment == "production":
            return {"openapi_url": None, "docs_url": None, "redoc_url": None}
        return {}

    @property
    def bootstrap_list(self) -> list[str]:
        return self.kafka_bootstrap_servers.split(",")

    @property
    def profile(self) -> BrokerProfile:
        return profile(self.broker_profile)

    def clock(self) -> Clock:
        return make_clock(self.time_scale, self.time_origin, self.time_file)


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Build settings once at start-up; on error print which variable is wrong and exit."""
    try:
        return cls()
    except ValidationError as exc:
        lines = []
        prefix = str(cls.model_config.get("env_prefix", ""))
        for err in exc.errors():
            name = (prefix + ".".join(str(p) for p in err["loc"])).upper()
            lines.append(f"  {name}: {err['msg']}")
        raise SystemExit(f"invalid configuration for {cls.__module__}:\n" + "\n".join(lines)) from None
