"""The bench's parameters: the default run (a few minutes on two cores) and ``--quick`` (about one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Params:
    seed: int = 1
    patients: int = 100_000  # synthetic patients; the triage backlog holds all of them
    raw_events: int = 100_000  # messages for the raw broker ceiling
    naive_events: int = 40_000  # backlog for the naive Faust stage
    drain_timeout_s: float = 150.0  # longest wait for a worker to drain its backlog
    core_max_s: float = 20.0  # longest in-process run of the triage core
    pipeline_seconds: float = 20.0  # sustained HTTP load
    pipeline_clients: int = 4
    pipeline_batch: int = 200  # events per request
    pipeline_drain_timeout_s: float = 60.0
    latency_rate: float = 1000.0  # events offered per second
    latency_seconds: float = 10.0
    latency_request_events: int = 10
    latency_r1_share: float = 0.05  # share of events that are the R1-raising pain report
    reminder_scale: float = 3600.0  # simulated seconds per real second
    reminder_patients: int = 2000
    reminder_spread_s: float = 5.0  # real seconds over which the expectations are opened
    ready_timeout_s: float = 90.0

    @classmethod
    def quick(cls) -> Params:
        return cls(
            patients=10_000,
            raw_events=20_000,
            naive_events=8_000,
            drain_timeout_s=40.0,
            core_max_s=5.0,
            pipeline_seconds=6.0,
            pipeline_drain_timeout_s=20.0,
            latency_seconds=5.0,
            reminder_scale=14_400.0,
            reminder_patients=400,
            reminder_spread_s=1.5,
        )

    def with_overrides(self, **overrides: Any) -> Params:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
