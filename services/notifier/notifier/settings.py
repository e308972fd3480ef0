"""notifier settings (environment, prefix ``CAREPATH_``), validated once at start-up with the endpoint file."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from carepath.settings import CommonSettings
from notifier.config import ConfigError, Endpoint, load_endpoints


class NotifierSettings(CommonSettings):
    web_port: int = Field(default=6068, ge=1, le=65535, alias="CAREPATH_NOTIFIER_PORT")
    config: Path | None = Field(
        default=None,
        alias="CAREPATH_NOTIFIER_CONFIG",
        description="the endpoint file (YAML): required outside development",
    )
    group_id: str = Field(default="carepath-notifier", alias="CAREPATH_NOTIFIER_GROUP_ID")
    batch_max: int = Field(default=200, ge=1, alias="CAREPATH_NOTIFIER_BATCH_MAX")
    batch_within_s: float = Field(default=0.01, gt=0, alias="CAREPATH_NOTIFIER_BATCH_WITHIN_S")
    retention_s: float = Field(
        default=30 * 86400.0,
        gt=0,
        alias="CAREPATH_NOTIFIER_RETENTION_S",
        description="how long finished deliveries are remembered, so a redelivered notification is not sent again",
    )

    model_config = CommonSettings.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _endpoints_load(self) -> NotifierSettings:
        if self.config is None and self.environment == "production":
            raise ValueError("CAREPATH_NOTIFIER_CONFIG must name the endpoint file in production")
        self.endpoints()  # a wrong file or a missing secret stops start-up here, naming it
        return self

    def endpoints(self) -> tuple[Endpoint, ...]:
        if self.config is None:
            return ()
        try:
            return load_endpoints(self.config, self.environment, os.environ)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
