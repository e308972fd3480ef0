"""intake settings (environment, prefix ``CAREPATH_``), validated once at start-up."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from carepath.settings import CommonSettings

DEVELOPMENT_TOKEN = "dev-only-token"  # noqa: S105 - refused outside development/test, see below


class IntakeSettings(CommonSettings):
    port: int = Field(default=8080, ge=1, le=65535, alias="CAREPATH_INTAKE_PORT")
    tokens: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_INTAKE_TOKENS",
        description="comma-separated bearer tokens accepted by intake; required outside development",
    )
    max_request_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, alias="CAREPATH_INTAKE_MAX_REQUEST_BYTES"
    )
    max_batch: int = Field(default=1000, ge=1, le=10_000, alias="CAREPATH_INTAKE_MAX_BATCH")
    future_tolerance_s: float = Field(default=300.0, ge=0, alias="CAREPATH_INTAKE_FUTURE_TOLERANCE_S")
    publish_timeout_s: float = Field(default=10.0, gt=0, alias="CAREPATH_INTAKE_PUBLISH_TIMEOUT_S")
    dedup_capacity: int = Field(default=200_000, ge=0, alias="CAREPATH_INTAKE_DEDUP_CAPACITY")

    model_config = CommonSettings.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _tokens_required(self) -> IntakeSettings:
        tokens = self.token_list
        if self.environment == "production":
            if not tokens:
                raise ValueError("CAREPATH_INTAKE_TOKENS must be set in production (comma-separated tokens)")
            weak = [t for t in tokens if len(t) < 24 or t == DEVELOPMENT_TOKEN]
            if weak:
                raise ValueError(
                    "CAREPATH_INTAKE_TOKENS: every production token needs at least 24 characters"
                )
        return self

    @property
    def token_list(self) -> list[str]:
        tokens = [t.strip() for t in self.tokens.get_secret_value().split(",") if t.strip()]
        if not tokens and self.environment != "production":
            return [DEVELOPMENT_TOKEN]
        return tokens
