"""The bench's parameters: the default run (a few minutes on two cores) and ``--quick`` (about one)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Params:
    seed: int = 1
    patients: int = 100_000  # synthetic patients; the triage backlog holds all of them
    raw_events: int = 100_000  # messages for the raw broker ceiling
    naive_events: int = 40_000  # backlog for the naive Faust stage
    drain_timeout_s: float = 120.0  # longest wait for a worker to drain its backlog
    core_max_s: float = 10.0  # longest in-process run of the triage core
    pipeline_seconds: float = 20.0  # sustained HTTP load
    pipeline_clients: int = 4
    pipeline_batch: int = 200  # events per request
    pipeline_max_lag: int = 20_000  # clients wait while a stage is this many events behind intake
    pipeline_drain_timeout_s: float = 30.0
    latency_rate: float = 1000.0  # events offered per second
    latency_seconds: float = 10.0
    latency_request_events: int = 10
    latency_r1_share: float = 0.05  # share of events that are the R1-raising pain report
    reminder_scale: float = 3600.0  # simulated seconds per real second
    reminder_patients: int = 1000  # R1 episodes, ~13 reminders each within the observed day
    reminder_spread_s: float = 8.0  # real seconds over which they are opened (8 simulated hours)
    ready_timeout_s: float = 90.0
    validator_events: int = 20_000  # events of the feed checked by each schema validator
    validator_malformed: int = 2_000  # mutants of them, for the validators' agreement
    validator_rounds: int = 3  # jsonschema-rs's best of
    validator_reference_rounds: int = 1  # jsonschema's (about a millisecond an event)
    scaleout_partitions: int = 12  # the scale-out phase's topic set (1, 2, 3 and 4 workers share it evenly)
    scaleout_rate: float = 100.0  # events per second offered through intake, steadily
    scaleout_seconds: float = 100.0  # the feed; workers are added and stopped at 1/5, 2/5, 3/5 and 4/5 of it
    restart_patients: str = "10000,100000,1000000"  # patients in state for each restart measurement

    @classmethod
    def quick(cls) -> Params:
        return cls(
            patients=10_000,
            raw_events=20_000,
            naive_events=8_000,
            drain_timeout_s=40.0,
            core_max_s=5.0,
            pipeline_seconds=6.0,
            pipeline_max_lag=5_000,
            pipeline_drain_timeout_s=15.0,
            latency_seconds=5.0,
            reminder_scale=14_400.0,
            reminder_patients=200,
            reminder_spread_s=2.0,
            scaleout_seconds=50.0,
            restart_patients="10000,100000",
        )

    def with_overrides(self, **overrides: Any) -> Params:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def with_assignments(self, assignments: list[str]) -> Params:
        """Apply ``name=value`` overrides, each converted to the type of the parameter it sets."""
        known = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        changes: dict[str, Any] = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep or name not in known:
                raise ValueError(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(known)}")
            try:
                changes[name] = known[name](value)
            except ValueError:
                raise ValueError(f"--set {item!r}: {value!r} is not a {known[name].__name__}") from None
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
