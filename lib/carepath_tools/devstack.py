"""A whole carepath on one machine: the broker (embedded unless one is configured) and every service as
its own process. Used by ``make run``, the end-to-end tests and the benchmark.

Each service is started exactly as in production (``python -m intake`` and so on) with its settings in
the environment; nothing here reaches inside a service.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from carepath import topics
from carepath.broker import create_topics, wait_until_answers
from carepath.clock import Clock, make_clock
from carepath_tools.broker import EmbeddedBroker, free_port
from carepath_tools.processes import terminate, terminate_all, track

DEV_TOKEN = "dev-only-token"  # noqa: S105 - accepted only with CAREPATH_ENVIRONMENT=development/test


def development_defaults() -> None:
    """What a stack on one machine (make run, the tests, the benchmark, chaos, fuzzing) uses unless told
    otherwise: topics of :func:`carepath.topics.development_partitions` partitions, not the production 24.
    Set in this process's environment, before any topic is created or read; a stack's services are handed the
    same count (:meth:`Stack.env`)."""
    os.environ.setdefault(topics.PARTITIONS_VARIABLE, str(topics.development_partitions()))
    topics.catalogue.cache_clear()


@dataclass
class Service:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed with it
        self.proc = track(
            subprocess.Popen(
                [sys.executable, "-m", self.module],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        log.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        terminate(proc, timeout)

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, no commit — as a crash."""
        proc, self.proc = self.proc, None
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(
                    f"{self.name} exited during start-up; see {self.log_path}:\n{_tail(self.log_path)}"
                )
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=2)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s ({last}); see {self.log_path}")


@dataclass
class Stack:
    log_dir: Path
    time_scale: float = 1.0
    bootstrap: str | None = None  # None: KAFKA_BOOTSTRAP_SERVERS, or else an embedded broker
    profile: str | None = None  # broker profile for the services; None: embedded if we start the broker
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None
    origin: datetime = field(default_factory=lambda: datetime.now(UTC))
    token: str = DEV_TOKEN
    # The notifier's endpoint file; None (the default) runs no notifier.
    notifier_config: Path | None = None
    # The worklist page (python -m worklist), with its development login; off unless asked for.
    worklist: bool = False
    worklist_port: int | None = None  # None: any free port
    # Where triage and followup workers keep their tables on disk (CAREPATH_STATE_DIR, one directory per
    # worker, kept across a restart of that worker): a temporary directory removed when the stack stops.
    state_root: Path | None = None

    @property
    def clock(self) -> Clock:
        return make_clock(self.time_scale, self.origin)

    @property
    def intake_url(self) -> str:
        return self.services["intake"].url

    @property
    def kafka_security(self) -> dict[str, Any]:
        """kafka-python's TLS/SASL arguments for the CAREPATH_KAFKA_* settings in ``extra_env`` (what the
        services are given), for the stack's own clients (topic creation, readers)."""
        from carepath.kafka_security import kafka_python_kwargs
        from carepath.settings import KafkaConnectionSettings

        given = {
            k.removeprefix("CAREPATH_").lower(): v
            for k, v in self.extra_env.items()
            if k.startswith("CAREPATH_KAFKA_") and k != "CAREPATH_KAFKA_BOOTSTRAP_SERVERS"
        }
        return kafka_python_kwargs(KafkaConnectionSettings.model_validate(given))

    def start_broker(self) -> str:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.bootstrap = self.bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if self.bootstrap:
            security = self.kafka_security
            wait_until_answers(self.bootstrap, security=security)
            create_topics(self.bootstrap, security=security)
        else:
            self.broker = EmbeddedBroker(log_path=self.log_dir / "broker.log").start()
            self.bootstrap = self.broker.bootstrap
        return self.bootstrap

    def env(self) -> dict[str, str]:
        assert self.bootstrap
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "CAREPATH_BROKER_PROFILE": self.profile
                or ("embedded" if self.broker else os.environ.get("CAREPATH_BROKER_PROFILE", "kafka")),
                "CAREPATH_ENVIRONMENT": "development",
                "CAREPATH_INTAKE_TOKENS": self.token,
                "CAREPATH_TIME_SCALE": str(self.time_scale),
                "CAREPATH_TIME_ORIGIN": self.origin.isoformat(),
                "CAREPATH_BIND_HOST": "127.0.0.1",
                topics.PARTITIONS_VARIABLE: str(topics.partitions()),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def add(
        self,
        name: str,
        module: str,
        port_var: str,
        extra: dict[str, str] | None = None,
        port: int | None = None,
    ) -> Service:
        port = port or free_port()
        env = self.env() | {port_var: str(port)} | (extra or {})
        if module in ("triage", "followup") and "CAREPATH_STATE_DIR" not in env:
            if self.state_root is None:
                self.state_root = Path(tempfile.mkdtemp(prefix="carepath-state-"))
            env["CAREPATH_STATE_DIR"] = str(self.state_root / f"{name}-{port}")
        svc = Service(name, module, port, env, self.log_dir / f"{name}.log")
        self.services[name] = svc
        return svc

    def add_services(self) -> None:
        """intake, triage and followup, started; intake is told where followup's worklist API answers."""
        followup_port = free_port()
        intake_env = {
            "CAREPATH_INTAKE_FOLLOWUP_URL": f"http://127.0.0.1:{followup_port}",
            "CAREPATH_INTAKE_MLLP_PORT": self.extra_env.get("CAREPATH_INTAKE_MLLP_PORT") or str(free_port()),
        }
        self.add("intake", "intake", "CAREPATH_INTAKE_PORT", intake_env).start()
        self.add("triage", "triage", "CAREPATH_TRIAGE_PORT").start()
        self.add("followup", "followup", "CAREPATH_FOLLOWUP_PORT", port=followup_port).start()
        if self.worklist:
            worklist_env = {
                "CAREPATH_WORKLIST_FOLLOWUP_URL": f"http://127.0.0.1:{followup_port}",
                "CAREPATH_WORKLIST_INTAKE_URL": self.services["intake"].url,
            }
            port = self.worklist_port or free_port()
            worklist_env["CAREPATH_WORKLIST_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            self.add("worklist", "worklist", "CAREPATH_WORKLIST_PORT", worklist_env, port=port).start()

    @property
    def worklist_url(self) -> str:
        return self.services["worklist"].url

    def start(self, ready_timeout: float = 60.0) -> Stack:
        try:
            self.start_broker()
            self.add_services()
            if self.notifier_config is not None:
                config = {"CAREPATH_NOTIFIER_CONFIG": str(self.notifier_config)}
                self.add("notifier", "notifier", "CAREPATH_NOTIFIER_PORT", config).start()
            for svc in self.services.values():
                svc.wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Every service sent SIGTERM at once and given ``timeout`` in all, then the broker."""
        procs = []
        for svc in reversed(list(self.services.values())):
            procs.append(svc.proc)
            svc.proc = None
        terminate_all(procs, timeout)
        if self.broker:
            self.broker.stop()
            self.broker = None
        if self.state_root is not None:
            shutil.rmtree(self.state_root, ignore_errors=True)
            self.state_root = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
