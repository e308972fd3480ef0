"""worklist settings (environment, prefix ``CAREPATH_``), validated once at start-up.

The page reads followup's worklist API with a reader's token (``CAREPATH_FOLLOWUP_READ_TOKENS``, the first
is the one it sends). People log in with the hospital's OpenID Connect provider, and the page acknowledges
through intake with the clinician's own access token (asked for intake's audience,
``CAREPATH_WORKLIST_OIDC_RESOURCE``), so intake records who it verified. Outside production a development
login stands beside it; its acknowledgements go with a system's token (``CAREPATH_INTAKE_ACK_TOKENS``, the
first), naming the person as asserted by the page. In production the development login is refused, and the
page needs no system token for intake.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from carepath import auth, clinician_tokens
from carepath.resources import pathways_dir
from carepath.settings import CommonSettings

MIN_SESSION_SECRET = 32


class WorklistSettings(CommonSettings):
    port: int = Field(default=6070, ge=1, le=65535, alias="CAREPATH_WORKLIST_PORT")
    public_url: str = Field(
        default="",
        alias="CAREPATH_WORKLIST_PUBLIC_URL",
        description="the page's address as browsers reach it (the OpenID Connect redirect is built from it); "
        "empty: http://127.0.0.1:<port>",
    )
    followup_url: str = Field(default="http://127.0.0.1:6067", alias="CAREPATH_WORKLIST_FOLLOWUP_URL")
    intake_url: str = Field(default="http://127.0.0.1:8080", alias="CAREPATH_WORKLIST_INTAKE_URL")
    read_tokens: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_FOLLOWUP_READ_TOKENS",
        description="followup's reader tokens; the first is the one the page presents",
    )
    ack_tokens: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_INTAKE_ACK_TOKENS",
        description="intake's acknowledging-system tokens (name:token or token); the page presents the first "
        "for a development login's acknowledgements, naming the person; not needed in production",
    )
    session_secret: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_WORKLIST_SESSION_SECRET",
        description=f"key signing the session cookie (at least {MIN_SESSION_SECRET} characters in production; "
        "empty outside production: a random key per process)",
    )
    session_hours: float = Field(default=12.0, gt=0, le=24, alias="CAREPATH_WORKLIST_SESSION_HOURS")
    dev_login: bool | None = Field(
        default=None,
        alias="CAREPATH_WORKLIST_DEV_LOGIN",
        description="the development login (any name, no password); on by default outside production, "
        "refused in production",
    )
    oidc_issuer: str = Field(
        default="", alias="CAREPATH_WORKLIST_OIDC_ISSUER", description="the OpenID Connect provider's issuer"
    )
    oidc_client_id: str = Field(default="", alias="CAREPATH_WORKLIST_OIDC_CLIENT_ID")
    oidc_client_secret: SecretStr = Field(default=SecretStr(""), alias="CAREPATH_WORKLIST_OIDC_CLIENT_SECRET")
    oidc_scopes: str = Field(default="openid profile email", alias="CAREPATH_WORKLIST_OIDC_SCOPES")
    oidc_resource: str = Field(
        default="",
        alias="CAREPATH_WORKLIST_OIDC_RESOURCE",
        description="intake's audience as a resource indicator (RFC 8707), asked for at login so the access "
        "token the page forwards is for intake (CAREPATH_INTAKE_OIDC_AUDIENCE); empty: none asked for (a "
        "provider that sets the audience by scope takes it in CAREPATH_WORKLIST_OIDC_SCOPES)",
    )
    oidc_role_claim: str = Field(
        default=clinician_tokens.ROLE_CLAIM,
        alias="CAREPATH_WORKLIST_OIDC_ROLE_CLAIM",
        pattern=r"^[A-Za-z0-9_:/.#-]{1,100}$",
        description="the claim of the access token holding the clinician's carepath roles (as intake's "
        "CAREPATH_INTAKE_OIDC_ROLE_CLAIM): the page offers those roles only",
    )
    pathway_dir: Path = Field(
        default_factory=lambda: pathways_dir() / "mscc",
        alias="CAREPATH_PATHWAY_DIR",
        description="the pathway followup runs: names the steps and the teams their reminders go to",
    )
    time_zone: str = Field(
        default="UTC",
        alias="CAREPATH_WORKLIST_TIME_ZONE",
        description="the zone the page shows times in (IANA name, e.g. Europe/London)",
    )
    max_escalations: int = Field(
        default=20_000,
        ge=10,
        alias="CAREPATH_WORKLIST_MAX_ESCALATIONS",
        description="escalations held in memory (about 3 KB each with their reminders); beyond it the oldest "
        "resolved go first",
    )
    max_patients: int = Field(
        default=20_000,
        ge=10,
        alias="CAREPATH_WORKLIST_MAX_PATIENTS",
        description="patients whose timeline is held; beyond it the least recently active goes",
    )
    max_timeline: int = Field(
        default=100,
        ge=5,
        le=10_000,
        alias="CAREPATH_WORKLIST_MAX_TIMELINE",
        description="entries per patient",
    )
    read_clinical_events: bool = Field(
        default=True,
        alias="CAREPATH_WORKLIST_READ_CLINICAL_EVENTS",
        description="read clinical.events for the patient timeline and the radiology sentences (start-up "
        "reads the topic's retention)",
    )

    model_config = CommonSettings.model_config | {"populate_by_name": True}

    @field_validator("public_url", "followup_url", "intake_url", "oidc_issuer", "oidc_resource")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {v!r}")
        return v.rstrip("/")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not a time zone name: {v!r} (e.g. Europe/London, UTC)") from None
        return v

    @model_validator(mode="after")
    def _production(self) -> WorklistSettings:
        _ = self.read_token, self.ack_token
        if self.environment == "production":
            if self.dev_login:
                raise ValueError(
                    "CAREPATH_WORKLIST_DEV_LOGIN: the development login is refused in production"
                )
            if len(self.session_secret.get_secret_value()) < MIN_SESSION_SECRET:
                raise ValueError(
                    f"CAREPATH_WORKLIST_SESSION_SECRET must be set in production "
                    f"(at least {MIN_SESSION_SECRET} characters)"
                )
            if not self.oidc_enabled:
                raise ValueError(
                    "production needs a login: set CAREPATH_WORKLIST_OIDC_ISSUER, _OIDC_CLIENT_ID and "
                    "_OIDC_CLIENT_SECRET"
                )
        if any((self.oidc_issuer, self.oidc_client_id)) and not self.oidc_enabled:
            raise ValueError(
                "OpenID Connect needs CAREPATH_WORKLIST_OIDC_ISSUER, _OIDC_CLIENT_ID and _OIDC_CLIENT_SECRET"
            )
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret.get_secret_value())

    @property
    def dev_login_enabled(self) -> bool:
        if self.environment == "production":
            return False
        return True if self.dev_login is None else self.dev_login

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://127.0.0.1:{self.port}"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def read_token(self) -> str:
        secret = self.read_tokens.get_secret_value()
        return auth.tokens(secret, self.environment, "CAREPATH_FOLLOWUP_READ_TOKENS", auth.DEV_READ_TOKEN)[0]

    @property
    def ack_token(self) -> str:
        """The system token a development login's acknowledgements go with; "" in production when none is
        set (there every acknowledgement goes with the clinician's own token)."""
        secret = self.ack_tokens.get_secret_value()
        if self.environment == "production" and not secret.strip():
            return ""
        variable = "CAREPATH_INTAKE_ACK_TOKENS"
        return auth.named_tokens(secret, self.environment, variable, auth.DEV_ACK_TOKEN, "ack-system")[
            0
        ].token

    @cached_property
    def session_key(self) -> str:
        return self.session_secret.get_secret_value() or secrets.token_urlsafe(32)
