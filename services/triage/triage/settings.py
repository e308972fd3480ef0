"""triage settings (environment, prefix ``CAREPATH_``), validated once at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from carepath.resources import pathways_dir
from carepath.settings import TableSettings


class TriageSettings(TableSettings):
    web_port: int = Field(default=6066, ge=1, le=65535, alias="CAREPATH_TRIAGE_PORT")
    shadow_mode: bool = Field(
        default=False,
        alias="CAREPATH_TRIAGE_SHADOW_MODE",
        description="publish escalations to care.escalations.shadow only (a site's dry run before go-live)",
    )
    pathway_dir: Path = Field(default_factory=lambda: pathways_dir() / "mscc", alias="CAREPATH_PATHWAY_DIR")
    batch_max: int = Field(default=1000, ge=1, alias="CAREPATH_TRIAGE_BATCH_MAX")
    batch_within_s: float = Field(default=0.005, gt=0, alias="CAREPATH_TRIAGE_BATCH_WITHIN_S")
    group_id: str = Field(default="carepath-triage", alias="CAREPATH_TRIAGE_GROUP_ID")

    model_config = TableSettings.model_config | {"populate_by_name": True}
