"""What every phase is handed: parameters, the workload, where to log, and a progress printer."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from carepath_tools.bench.params import Params
from carepath_tools.bench.workload import Workload


@dataclass
class Console:
    """Progress lines on stderr-free stdout: ``[  12.3s] phase     message``."""

    started: float = field(default_factory=time.monotonic)
    phase: str = "bench"

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:6.1f}s] {self.phase:<9} {message}", file=sys.stdout, flush=True)


@dataclass
class Context:
    params: Params
    workload: Workload
    log_dir: Path
    console: Console
    tag: str  # distinguishes this run's patients and consumer groups on a shared cluster

    @property
    def external(self) -> bool:
        """True when the bench runs against a configured cluster rather than its own embedded brokers."""
        return bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))

    def say(self, message: str) -> None:
        self.console.say(message)

    def phase_dir(self, name: str) -> Path:
        path = self.log_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def group_id(self, phase: str, worker: str) -> str:
        """A consumer group of its own (and so its own table changelogs) for each phase's worker.

        On a shared cluster the run's tag keeps it apart from earlier runs; a fresh embedded broker
        needs no tag, and a fixed name lets Faust reuse its local data folder instead of adding one.
        """
        return f"bench-{self.tag}-{phase}-{worker}" if self.external else f"bench-{phase}-{worker}"

    def group_env(self, phase: str) -> dict[str, str]:
        return {
            "CAREPATH_TRIAGE_GROUP_ID": self.group_id(phase, "triage"),
            "CAREPATH_FOLLOWUP_GROUP_ID": self.group_id(phase, "followup"),
        }
