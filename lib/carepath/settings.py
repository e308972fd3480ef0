"""Settings every carepath process shares: where the broker is, which profile, and the clock.

Each service defines its own ``Settings`` that extends :class:`CommonSettings` with what it alone needs;
all are read once at start-up from the environment (prefix ``CAREPATH_``; ``KAFKA_BOOTSTRAP_SERVERS``
unprefixed, as Kafka tooling expects) and fail fast with a message naming the bad variable.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from carepath import auth
from carepath.clock import Clock, make_clock
from carepath.profile import BrokerProfile, profile

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


class TopicSettings(BaseSettings):
    """How many partitions carepath's topics have: read by every process that creates, reads or checks them."""

    model_config = SettingsConfigDict(env_prefix="CAREPATH_", extra="ignore", frozen=True)

    topic_partitions: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="partitions of every topic (and of the workers' changelogs); none: the production default "
        "of schemas/topics.json (24: see README 'Partitions for growth'). Fixed for the life of a topic set: "
        "workers refuse to start when a topic has another count",
    )


class KafkaConnectionSettings(TopicSettings):
    """How every Kafka client of carepath reaches the cluster: addresses, TLS, mTLS and SASL.

    Services and tools read the same variables; :mod:`carepath.kafka_security` turns them into each client
    library's arguments. A half configuration (a certificate without its key, a SASL mechanism without a
    username, a file that cannot be read) is refused here, naming the variable.
    """

    model_config = SettingsConfigDict(env_prefix="CAREPATH_", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CAREPATH_KAFKA_BOOTSTRAP_SERVERS"),
        description="comma-separated host:port list",
    )
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="PLAINTEXT, SSL (TLS, with a client certificate for mTLS), SASL_SSL, or SASL_PLAINTEXT",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that signed the brokers' certificates (default: system)",
    )
    kafka_ssl_certfile: Path | None = Field(default=None, description="client certificate (PEM) for mTLS")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="the client certificate's key (PEM)")
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="check the broker's certificate names the host connected to"
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(default=None, description="SASL mechanism")
    kafka_sasl_username: str | None = Field(default=None, description="SASL user (PLAIN, SCRAM)")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (PLAIN, SCRAM); prefer KAFKA_SASL_PASSWORD_FILE"
    )
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="file holding the SASL password (a mounted Kubernetes secret)"
    )
    kafka_sasl_oauth_token_file: Path | None = Field(
        default=None,
        description="OAUTHBEARER: file holding the current access token, read again at every login (a "
        "sidecar or the platform keeps it fresh)",
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _hosts(cls, v: str) -> str:
        hosts = [h.strip() for h in v.split(",") if h.strip()]
        bad = [h for h in hosts if ":" not in h or not h.rsplit(":", 1)[1].isdigit()]
        if not hosts or bad:
            raise ValueError(f"expected host:port[,host:port...], got {v!r}")
        return ",".join(hosts)

    @field_validator(
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "kafka_sasl_password_file",
        "kafka_sasl_oauth_token_file",
    )
    @classmethod
    def _readable(cls, v: Path | None) -> Path | None:
        if v is None:
            return None
        try:
            with v.open("rb") as f:
                f.read(1)
        except OSError as exc:
            raise ValueError(f"cannot read {v}: {exc.strerror or exc}") from None
        return v

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> KafkaConnectionSettings:
        # Each message names the variable to fix; load() prefixes the class's variables with CAREPATH_.
        protocol = self.kafka_security_protocol
        tls = protocol in ("SSL", "SASL_SSL")
        sasl = protocol.startswith("SASL_")
        tls_files = {
            "CAREPATH_KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "CAREPATH_KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "CAREPATH_KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        if not tls and any(tls_files.values()):
            named = ", ".join(k for k, v in tls_files.items() if v)
            raise ValueError(f"{named} set but CAREPATH_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS")
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            missing = (
                "CAREPATH_KAFKA_SSL_KEYFILE" if self.kafka_ssl_certfile else "CAREPATH_KAFKA_SSL_CERTFILE"
            )
            raise ValueError(f"{missing} is required: a client certificate and its key go together")
        mechanism = self.kafka_sasl_mechanism
        if sasl and mechanism is None:
            raise ValueError(f"CAREPATH_KAFKA_SASL_MECHANISM is required with {protocol}")
        if not sasl:
            given = [
                name
                for name, value in (
                    ("CAREPATH_KAFKA_SASL_MECHANISM", mechanism),
                    ("CAREPATH_KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                    ("CAREPATH_KAFKA_SASL_PASSWORD", self.kafka_sasl_password),
                    ("CAREPATH_KAFKA_SASL_PASSWORD_FILE", self.kafka_sasl_password_file),
                    ("CAREPATH_KAFKA_SASL_OAUTH_TOKEN_FILE", self.kafka_sasl_oauth_token_file),
                )
                if value
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} set but CAREPATH_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL"
                )
            return self
        if mechanism == "OAUTHBEARER":
            if self.kafka_sasl_oauth_token_file is None:
                raise ValueError("CAREPATH_KAFKA_SASL_OAUTH_TOKEN_FILE is required with OAUTHBEARER")
            return self
        if not self.kafka_sasl_username:
            raise ValueError(f"CAREPATH_KAFKA_SASL_USERNAME is required with {mechanism}")
        if (self.kafka_sasl_password is None) == (self.kafka_sasl_password_file is None):
            raise ValueError(
                f"exactly one of CAREPATH_KAFKA_SASL_PASSWORD_FILE and CAREPATH_KAFKA_SASL_PASSWORD is required "
                f"with {mechanism}"
            )
        if not self.sasl_password():
            raise ValueError("the SASL password is empty (CAREPATH_KAFKA_SASL_PASSWORD[_FILE])")
        return self

    def sasl_password(self) -> str:
        """The SASL password, from its file (read now, so a rotated secret is picked up) or the environment."""
        if self.kafka_sasl_password_file is not None:
            return self.kafka_sasl_password_file.read_text(encoding="utf-8").strip()
        return self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""

    @property
    def bootstrap_list(self) -> list[str]:
        return self.kafka_bootstrap_servers.split(",")


class CommonSettings(KafkaConnectionSettings):
    model_config = SettingsConfigDict(env_prefix="CAREPATH_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = Field(
        default="production", description="development/test relax secret requirements; production never does"
    )
    kafka_allow_plaintext: bool = Field(
        default=False,
        description="production only: accept an unencrypted Kafka connection (PLAINTEXT or SASL_PLAINTEXT), "
        "for a network that encrypts it beneath carepath (a service mesh's mTLS). Off: refused",
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

    gc_thresholds: tuple[int, int, int] = Field(
        default=(10_000, 50, 100),
        description="the cyclic garbage collector's thresholds, set once the service has started, after what "
        "it holds then is frozen (see carepath/collector.py); [700,10,10] is Python's default",
    )

    @field_validator("gc_thresholds")
    @classmethod
    def _thresholds(cls, v: tuple[int, int, int]) -> tuple[int, int, int]:
        if v[0] < 1 or v[1] < 1 or v[2] < 1:
            raise ValueError("each threshold must be 1 or more (0 would turn the collector off)")
        return v

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
    def _kafka_encrypted_in_production(self) -> CommonSettings:
        if (
            self.environment == "production"
            and self.kafka_security_protocol in ("PLAINTEXT", "SASL_PLAINTEXT")
            and not self.kafka_allow_plaintext
        ):
            raise ValueError(
                f"CAREPATH_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} would send patient data "
                "unencrypted: use SSL or SASL_SSL in production, or set CAREPATH_KAFKA_ALLOW_PLAINTEXT=true "
                "where the network encrypts it (a service mesh's mTLS)"
            )
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
    def profile(self) -> BrokerProfile:
        return profile(self.broker_profile)

    def clock(self) -> Clock:
        return make_clock(self.time_scale, self.time_origin, self.time_file)


class TableSettings(CommonSettings):
    """Where a worker with tables (triage, followup) keeps them: on disk (RocksDB, restarted in seconds)
    or in memory (rebuilt from the changelog at every start; faster for short-lived test stacks)."""

    table_store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb",
        description="rocksdb: each table partition a RocksDB database under CAREPATH_STATE_DIR, read back from "
        "its changelog only past what it holds; memory: rebuilt from the whole changelog at every start",
    )
    state_dir: Path | None = Field(
        default=None,
        description="directory of this worker's tables on disk, one per worker process (a volume in a "
        "cluster); default <temp>/carepath/<group id>-<port>",
    )

    def table_dir(self, app_id: str, web_port: int) -> Path:
        import tempfile

        return self.state_dir or Path(tempfile.gettempdir()) / "carepath" / f"{app_id}-{web_port}"


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Build settings once at start-up; on error print which variable is wrong and exit."""
    try:
        return cls()
    except ValidationError as exc:
        lines = []
        prefix = str(cls.model_config.get("env_prefix", ""))
        for err in exc.errors():
            if err["loc"]:
                name = (prefix + ".".join(str(p) for p in err["loc"])).upper()
                lines.append(f"  {name}: {err['msg']}")
            else:  # a rule across settings: its message names the variables
                lines.append(f"  {err['msg'].removeprefix('Value error, ')}")
        raise SystemExit(f"invalid configuration for {cls.__module__}:\n" + "\n".join(lines)) from None
