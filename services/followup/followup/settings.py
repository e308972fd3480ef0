"""followup settings (environment, prefix ``CAREPATH_``), validated once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from carepath.resources import pathways_dir
from carepath.settings import CommonSettings


class FollowupSettings(CommonSettings):
    web_port: int = Field(default=6067, ge=1, le=65535, alias="CAREPATH_FOLLOWUP_PORT")
    pathway_dir: Path = Field(default_factory=lambda: pathways_dir() / "mscc", alias="CAREPATH_PATHWAY_DIR")
    tick_interval_s: float = Field(
        default=0.25,
        gt=0,
        le=60,
        alias="CAREPATH_FOLLOWUP_TICK_S",
        description="real seconds between scans for due deadlines (bounds reminder lateness)",
    )
    batch_max: int = Field(default=1000, ge=1, alias="CAREPATH_FOLLOWUP_BATCH_MAX")
    batch_within_s: float = Field(default=0.005, gt=0, alias="CAREPATH_FOLLOWUP_BATCH_WITHIN_S")
    group_id: str = Field(default="carepath-followup", alias="CAREPATH_FOLLOWUP_GROUP_ID")

    model_config = CommonSettings.model_config | {"populate_by_name": True}
