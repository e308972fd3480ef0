"""followup settings (environment, prefix ``CAREPATH_``), validated once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from carepath import auth
from carepath.resources import pathways_dir
from carepath.settings import TableSettings


class FollowupSettings(TableSettings):
    web_port: int = Field(default=6067, ge=1, le=65535, alias="CAREPATH_FOLLOWUP_PORT")
    pathway_dir: Path = Field(default_factory=lambda: pathways_dir() / "mscc", alias="CAREPATH_PATHWAY_DIR")
    tick_interval_s: float = Field(
        default=0.25,
        gt=0,
        le=60,
        alias="CAREPATH_FOLLOWUP_TICK_S",
        description="longest wait in real seconds between two scans for due deadlines; the timer wakes sooner "
        "for the next deadline it knows of",
    )
    batch_max: int = Field(default=1000, ge=1, alias="CAREPATH_FOLLOWUP_BATCH_MAX")
    batch_within_s: float = Field(default=0.005, gt=0, alias="CAREPATH_FOLLOWUP_BATCH_WITHIN_S")
    group_id: str = Field(default="carepath-followup", alias="CAREPATH_FOLLOWUP_GROUP_ID")
    read_tokens: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_FOLLOWUP_READ_TOKENS",
        description="comma-separated bearer tokens of the systems that read the worklist for clinicians",
    )
    worker_token: SecretStr = Field(
        default=SecretStr(""),
        alias="CAREPATH_WORKER_TOKEN",
        description="comma-separated bearer tokens carepath's services present to each other (the first is "
        "the one this worker sends)",
    )

    @model_validator(mode="after")
    def _tokens_required(self) -> FollowupSettings:
        _ = self.reader_tokens, self.worker_tokens  # in production: set, long enough, not a development token
        return self

    @property
    def reader_tokens(self) -> list[str]:
        secret = self.read_tokens.get_secret_value()
        return auth.tokens(secret, self.environment, "CAREPATH_FOLLOWUP_READ_TOKENS", auth.DEV_READ_TOKEN)

    @property
    def worker_tokens(self) -> list[str]:
        secret = self.worker_token.get_secret_value()
        return auth.tokens(secret, self.environment, "CAREPATH_WORKER_TOKEN", auth.DEV_WORKER_TOKEN)

    model_config = TableSettings.model_config | {"populate_by_name": True}
