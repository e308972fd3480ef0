"""intake settings (environment, prefix ``CAREPATH_``), validated once at start-up."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from carepath import auth, clinician_tokens
from carepath.settings import CommonSettings

DEVELOPMENT_TOKEN = auth.DEV_INTAKE_TOKEN  # an integration engine's, outside production only
DEVELOPMENT_ACK_TOKEN = auth.DEV_ACK_TOKEN  # a clinician's system's, outside production only
ENGINE_PREFIX = "engine"  # an unnamed engine token: engine-<position>
ACK_PREFIX = "ack-system"  # an unnamed acknowledging system's token: ack-system-<position>
MLLP_PREFIX = "mllp"  # an unnamed MLLP source: mllp-<position>; with no allow-list every source is "mllp"


class IntakeSettings(CommonSettings):
    port: int = Field(default=8080, ge=1, le=65535, alias="CAREPATH_INTAKE_PORT")
    tokens: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_INTAKE_TOKENS",
        description="comma-separated bearer tokens of the integration engines that send events "
        "(/v1/events, /fhir), each best named (name:token, e.g. mirth-north:<token>): the name is stamped "
        "on everything that engine sends; an unnamed one is engine-<position>; required in production",
    )
    ack_tokens: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_INTAKE_ACK_TOKENS",
        description="comma-separated bearer tokens of the systems that acknowledge for a named clinician "
        "(POST /v1/acknowledgements with on_behalf_of: a worklist page's development login, a clinician "
        "system without the identity provider), each best named (name:token); an unnamed one is "
        "ack-system-<position>; required in production unless CAREPATH_INTAKE_OIDC_ISSUER is set",
    )
    oidc_issuer: str = Field(
        default="",
        alias="CAREPATH_INTAKE_OIDC_ISSUER",
        description="the hospital identity provider whose JWTs name the clinician acknowledging (its "
        "discovery document gives the keys); https in production; unset: only system credentials "
        "acknowledge, for a clinician they name",
    )
    oidc_audience: str = Field(
        default="",
        alias="CAREPATH_INTAKE_OIDC_AUDIENCE",
        description="the audience (aud) a clinician's token must name: intake's API identifier at the "
        "identity provider (a resource indicator such as https://intake.hospital.example), never a client id",
    )
    oidc_role_claim: str = Field(
        default=clinician_tokens.ROLE_CLAIM,
        alias="CAREPATH_INTAKE_OIDC_ROLE_CLAIM",
        pattern=r"^[A-Za-z0-9_:/.#-]{1,100}$",
        description="the claim holding the clinician's carepath roles (a list, or a string of roles "
        "separated by spaces or commas; a dotted name reaches into nested claims: realm_access.roles)",
    )
    max_request_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, alias="CAREPATH_INTAKE_MAX_REQUEST_BYTES"
    )
    max_batch: int = Field(default=1000, ge=1, le=10_000, alias="CAREPATH_INTAKE_MAX_BATCH")
    http_max_connections: int = Field(
        default=200,
        ge=1,
        alias="CAREPATH_INTAKE_HTTP_MAX_CONNECTIONS",
        description="HTTP connections and requests in progress at once; more are answered 503 at once",
    )
    http_keepalive_s: float = Field(
        default=15.0,
        gt=0,
        alias="CAREPATH_INTAKE_HTTP_KEEPALIVE_S",
        description="an idle kept-alive HTTP connection is closed after this long",
    )
    http_max_header_bytes: int = Field(
        default=64 * 1024,
        ge=4096,
        alias="CAREPATH_INTAKE_HTTP_MAX_HEADER_BYTES",
        description="request line and headers, at most; a larger head is answered 400 and the connection closed",
    )
    future_tolerance_s: float = Field(default=300.0, ge=0, alias="CAREPATH_INTAKE_FUTURE_TOLERANCE_S")
    publish_timeout_s: float = Field(default=10.0, gt=0, alias="CAREPATH_INTAKE_PUBLISH_TIMEOUT_S")
    dedup_capacity: int = Field(default=200_000, ge=0, alias="CAREPATH_INTAKE_DEDUP_CAPACITY")
    followup_url: str = Field(
        default="http://127.0.0.1:6067",
        alias="CAREPATH_INTAKE_FOLLOWUP_URL",
        description="followup's worklist API, asked whether an acknowledged id exists",
    )
    worker_token: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_WORKER_TOKEN",
        description="the bearer token carepath's services present to each other (the first, if several)",
    )
    # HL7 v2 over MLLP (docs/hl7.md)
    mllp_port: int = Field(
        default=2575, ge=0, le=65535, alias="CAREPATH_INTAKE_MLLP_PORT", description="0 disables the listener"
    )
    mllp_max_bytes: int = Field(
        default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, alias="CAREPATH_INTAKE_MLLP_MAX_BYTES"
    )
    mllp_idle_timeout_s: float = Field(
        default=300.0,
        gt=0,
        alias="CAREPATH_INTAKE_MLLP_IDLE_TIMEOUT_S",
        description="an MLLP connection with no frame begun for this long is closed",
    )
    mllp_frame_timeout_s: float = Field(
        default=30.0,
        gt=0,
        alias="CAREPATH_INTAKE_MLLP_FRAME_TIMEOUT_S",
        description="a frame that has begun must end within this; else the connection is closed unanswered",
    )
    mllp_max_connections: int = Field(
        default=100,
        ge=1,
        le=100_000,
        alias="CAREPATH_INTAKE_MLLP_MAX_CONNECTIONS",
        description="open MLLP connections at most; a connection over it is closed at once",
    )
    mllp_standalone: bool = Field(
        default=False,
        alias="CAREPATH_INTAKE_MLLP_STANDALONE",
        description="true: the HTTP process does not listen for MLLP; `python -m intake.hl7` does, alone",
    )
    mllp_status_port: int = Field(
        default=8081,
        ge=1,
        le=65535,
        alias="CAREPATH_INTAKE_MLLP_STATUS_PORT",
        description="HTTP port of the standalone MLLP listener's /healthz, /readyz and /metrics",
    )
    mllp_patient_id_authority: str = Field(
        default="",
        alias="CAREPATH_INTAKE_MLLP_PATIENT_ID_AUTHORITY",
        description="comma-separated PID-3.4 assigning authorities or PID-3.5 identifier types to take the "
        "patient id from, in order of preference; empty: the first PID-3 identifier of type MR, else the first",
    )
    mllp_allowed_sources: str = Field(
        default="",
        alias="CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES",
        description="comma-separated addresses or networks (CIDR) allowed to connect to the MLLP listener, "
        "each best named (name=address: mirth-north=10.1.4.20,rhapsody=10.1.5.0/28): the name is stamped "
        "on what arrives from there (unnamed: mllp-<position>); empty: any source, named mllp",
    )
    mllp_tls_cert: Path | None = Field(
        default=None,
        alias="CAREPATH_INTAKE_MLLP_TLS_CERT",
        description="PEM certificate (chain) of the MLLP listener; with CAREPATH_INTAKE_MLLP_TLS_KEY the listener "
        "speaks MLLP over TLS 1.2 or later; unset: plain MLLP",
    )
    mllp_tls_key: Path | None = Field(
        default=None,
        alias="CAREPATH_INTAKE_MLLP_TLS_KEY",
        description="PEM private key of CAREPATH_INTAKE_MLLP_TLS_CERT",
    )
    mllp_tls_client_ca: Path | None = Field(
        default=None,
        alias="CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA",
        description="PEM CA certificates: every MLLP sender must present a certificate signed by one "
        "(mutual TLS); unset: no client certificate asked for",
    )
    hl7_codes: Path | None = Field(
        default=None,
        alias="CAREPATH_HL7_CODES",
        description="a site's additions to the HL7 code mapping (same sections as intake/hl7/codes.yaml)",
    )
    site_timezone: str = Field(
        default="Europe/London",
        alias="CAREPATH_SITE_TIMEZONE",
        description="IANA timezone of the site: how HL7 timestamps without a UTC offset are read",
    )

    @field_validator("site_timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA timezone such as Europe/London") from None
        return v

    @field_validator("mllp_allowed_sources")
    @classmethod
    def _networks(cls, v: str) -> str:
        _ = _named_sources(v)  # each entry readable, each name given once
        return v

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_url(cls, v: str) -> str:
        if v and not v.startswith(("https://", "http://")):
            raise ValueError(f"expected the issuer's https:// URL, got {v[:80]!r}")
        return v

    @model_validator(mode="after")
    def _oidc_complete(self) -> IntakeSettings:
        if bool(self.oidc_issuer) != bool(self.oidc_audience):
            raise ValueError(
                "CAREPATH_INTAKE_OIDC_ISSUER and CAREPATH_INTAKE_OIDC_AUDIENCE: set both (clinicians' tokens "
                "are checked) or neither (only system credentials acknowledge)"
            )
        if self.environment == "production" and self.oidc_issuer.startswith("http://"):
            raise ValueError("CAREPATH_INTAKE_OIDC_ISSUER must be an https:// URL in production")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> IntakeSettings:
        if (self.mllp_tls_cert is None) != (self.mllp_tls_key is None):
            raise ValueError(
                "CAREPATH_INTAKE_MLLP_TLS_CERT and CAREPATH_INTAKE_MLLP_TLS_KEY: set both (MLLP over TLS) "
                "or neither (plain MLLP)"
            )
        if self.mllp_tls_client_ca is not None and self.mllp_tls_cert is None:
            raise ValueError(
                "CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA needs CAREPATH_INTAKE_MLLP_TLS_CERT and "
                "CAREPATH_INTAKE_MLLP_TLS_KEY: client certificates are asked for inside TLS"
            )
        return self

    @property
    def mllp_allowed_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(network for _, network in _named_sources(self.mllp_allowed_sources))

    @property
    def mllp_source_names(self) -> tuple[str, ...]:
        """The name of each network of :attr:`mllp_allowed_networks`, in the same order."""
        return tuple(name for name, _ in _named_sources(self.mllp_allowed_sources))

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_audience)

    @property
    def patient_id_authorities(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.mllp_patient_id_authority.split(",") if a.strip())

    fhir_codes: Path | None = Field(
        default=None,
        alias="CAREPATH_FHIR_CODES",
        description="a site's additions to the FHIR code map (same sections as intake/fhir/codes.yaml)",
    )
    terminology_site: Path | None = Field(
        default=None,
        alias="CAREPATH_TERMINOLOGY_SITE",
        description="a site's value-set overlay: its local codes added to carepath's concepts "
        "(pathways/mscc/terminology/README.md); read by the HL7 and the FHIR channel alike",
    )

    @property
    def terminology_site_files(self) -> list[Path]:
        return [self.terminology_site] if self.terminology_site else []

    model_config = CommonSettings.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _tokens_required(self) -> IntakeSettings:
        # in production: each set, every token long enough and not a development token
        engines, clinicians = self.token_list, self.ack_token_list
        if self.environment == "production" and set(engines) & set(clinicians):
            raise ValueError(
                "CAREPATH_INTAKE_ACK_TOKENS: a token is also in CAREPATH_INTAKE_TOKENS; give each role its own"
            )
        _ = self.worker_credential
        return self

    @property
    def worker_credential(self) -> str:
        """The token intake presents to followup; in production set and long enough, or start-up fails."""
        secret = self.worker_token.get_secret_value()
        return auth.tokens(secret, self.environment, "CAREPATH_WORKER_TOKEN", auth.DEV_WORKER_TOKEN)[0]

    @property
    def engine_credentials(self) -> list[auth.NamedToken]:
        """The integration engines' tokens, each with its engine's name: they send events (``/v1/events``,
        ``/fhir``)."""
        secret = self.tokens.get_secret_value()
        return auth.named_tokens(
            secret, self.environment, "CAREPATH_INTAKE_TOKENS", DEVELOPMENT_TOKEN, ENGINE_PREFIX
        )

    @property
    def ack_credentials(self) -> list[auth.NamedToken]:
        """The tokens of the systems acknowledging for a clinician they name (``POST /v1/acknowledgements``
        with ``on_behalf_of``), each with its system's name."""
        secret = self.ack_tokens.get_secret_value()
        if self.environment == "production" and not secret.strip() and self.oidc_enabled:
            return []  # acknowledgements come with clinicians' own tokens only
        return auth.named_tokens(
            secret, self.environment, "CAREPATH_INTAKE_ACK_TOKENS", DEVELOPMENT_ACK_TOKEN, ACK_PREFIX
        )

    @property
    def token_list(self) -> list[str]:
        """The integration engines' tokens: they send events (``/v1/events``, ``/fhir``)."""
        return [c.token for c in self.engine_credentials]

    @property
    def ack_token_list(self) -> list[str]:
        """The tokens of the systems acknowledging for clinicians (``POST /v1/acknowledgements``)."""
        return [c.token for c in self.ack_credentials]


def _named_sources(value: str) -> list[tuple[str, IPv4Network | IPv6Network]]:
    """CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES read: (name, network) for each entry, ``name=address`` or a bare
    address (named ``mllp-<position>``); ValueError naming a bad entry or a name given twice."""
    found: list[tuple[str, IPv4Network | IPv6Network]] = []
    for position, item in enumerate((i.strip() for i in value.split(",") if i.strip()), start=1):
        name, sep, address = item.partition("=")
        if not sep:
            name, address = f"{MLLP_PREFIX}-{position}", item
        elif not auth.SYSTEM_NAME.match(name.strip()):
            raise ValueError(
                f"{name[:60]!r} is not a source name (1-40 lower-case letters, digits and -, from a letter)"
            )
        try:
            found.append((name.strip(), ip_network(address.strip(), strict=False)))
        except ValueError:
            raise ValueError(
                f"{address.strip()[:60]!r} is not an IP address or network such as 10.1.5.0/28"
            ) from None
    names = [n for n, _ in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"the source name {twice[0]!r} is given twice; give each source its own")
    return found
