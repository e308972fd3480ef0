"""Where a worker's processor time per event goes: py-spy samples of the running process, by part.

``py-spy record --format raw`` writes one line per distinct stack (``frame;frame;...;leaf count``), each
frame ``function (file:line)``, from every thread of the process. Each stack is charged to one part:
metrics, logging, sensors and table writes own everything beneath them (a metric's lock, a table
write's changelog record); otherwise the first frame, from the leaf towards the root, whose file or
function belongs to a known part. Time in a C extension (orjson) is charged to the Python line that
called it, i.e. to the caller's part; so is a compiled core's (README "The compiled core"), which py-spy
cannot see into: a leaf on a line that calls its entry point (``run_batch(``, ``run_inputs(``) is the
core's. A callback it makes into Python (a table read, JSON) shows as its own frames and parts. A part's
share of the samples times the worker's measured processor time per event gives its microseconds per
event.
"""

from __future__ import annotations

import functools
import importlib.util
import linecache
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# (part, substrings of a frame: file path or function), matched in this order on each frame
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("metrics", ("prometheus_client/",)),
    ("logging", ("structlog/", "logging/", "carepath/logs.py")),
    ("sensors", ("faust/sensors/",)),
    ("JSON", ("carepath/envelope.py", "json/")),
    ("state (de)serialisation", ("core/state.py", "from_dict", "to_dict", "to_bytes", "from_bytes")),
    ("core rules", ("triage/core/", "followup/core/", "triage/batch.py", "followup/batch.py")),
    ("table writes and changelog", ("faust/tables/", "faust/stores/")),
    ("output produce", ("kafka/producer/", "faust/transport/producer", "kafka/record/")),
    (
        "stream machinery",
        (
            "faust/streams.py",
            "faust/channels.py",
            "faust/agents/",
            "faust/events.py",
            "faust/transport/conductor",
        ),
    ),
    (
        "consumer (fetch, offsets, commit)",
        (
            "aiokafka/consumer/",
            "faust/transport/consumer.py",
            "faust/transport/drivers/",
            "carepath/fetch_batches",
        ),
    ),
    ("broker I/O (Kafka client, protocol)", ("kafka/",)),
    ("HTTP and metrics pages", ("uvicorn/", "starlette/", "fastapi/", "h11/", "httptools/")),
    ("intake parsing and validation", ("intake/", "pydantic", "fhir/", "hl7")),
    ("service shell", ("triage/agents.py", "followup/agents.py", "notifier/", "carepath/")),
    ("event loop and scheduling", ("asyncio/", "mode/", "selectors.py", "threading.py", "concurrent/")),
)
OTHER = "other"
_MARKS = dict(PARTS)


# Parts that own everything beneath them: a metric's lock, a log line's formatting, a table write's
# changelog record are the cost of that part wherever in the stack it was called from.
OWNING = ("metrics", "logging", "sensors", "table writes and changelog")


def _matches(part: str, frame: str) -> bool:
    return any(mark in frame for mark in _MARKS[part])


# A line of a shell that calls its compiled core: time at it is the core's (module docstring).
COMPILED_CALLERS = ("triage/", "followup/")
COMPILED_ENTRY = ("run_batch(", "run_inputs(", "run_tick(")
_FRAME = re.compile(r"\((?P<file>[^()]+\.py):(?P<line>\d+)\)$")


@functools.cache
def _source(file: str) -> str:
    """A frame's file as a path: py-spy writes a module's file relative to its import root
    (``triage/agents.py``), which is found again through the import system."""
    if Path(file).is_absolute():
        return file
    try:
        spec = importlib.util.find_spec(file.removesuffix(".py").replace("/", "."))
    except (ImportError, ValueError):
        return file
    return spec.origin if spec is not None and spec.origin else file


def _in_compiled_core(leaf: str) -> bool:
    found = _FRAME.search(leaf)
    if found is None or not any(caller in found["file"] for caller in COMPILED_CALLERS):
        return False
    text = linecache.getline(_source(found["file"]), int(found["line"]))
    return any(entry in text for entry in COMPILED_ENTRY)


def part_of(stack: Iterable[str]) -> str:
    """The part one sampled stack (root first, leaf last) is charged to."""
    frames = list(stack)
    if frames and _in_compiled_core(frames[-1]):
        return "core rules"
    for part in OWNING:
        if any(_matches(part, frame) for frame in frames):
            return part
    for frame in reversed(frames):
        for part, _ in PARTS:
            if _matches(part, frame):
                return part
    return OTHER


def describe(us_per_event: dict[str, float]) -> str:
    """``core rules 68 us, JSON 10 us, ...``: microseconds per event by part (or by process), as printed."""
    return ", ".join(f"{name} {us:,.0f} us" for name, us in us_per_event.items())


# Leaf frames of a thread waiting, not working: an event loop in its selector's poll, an idle worker of a
# thread pool on its queue. py-spy (``--nonblocking``) leaves out a thread asleep there, but not one
# woken and waiting for a processor, which on a busy machine is often: charged to the event loop, that
# wait took a share of the measured processor time (in the end-to-end phase, a quarter of followup's
# samples had this leaf).
WAITING = ("selectors.py:", "_worker (concurrent/futures/thread.py:")


def waiting(frames: list[str]) -> bool:
    """Whether a sampled stack is a thread waiting to be woken (or to be run), not processor time."""
    leaf = frames[-1] if frames else ""
    return any(mark in leaf for mark in WAITING)


def parse_raw(text: str) -> Counter[str]:
    """Samples per part from py-spy's raw (collapsed-stack) output, without those of waiting threads."""
    parts: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if waiting(frames):
            continue
        parts[part_of(frames)] += int(count)
    return parts


def per_event(parts: Counter[str], us_per_event: float) -> dict[str, float]:
    """Microseconds per event by part, largest first, from the samples and the measured total."""
    total = sum(parts.values())
    if not total:
        return {}
    return {part: round(n / total * us_per_event, 1) for part, n in parts.most_common()}


class Sampler:
    """py-spy attached to one process from ``start()`` to ``stop()`` (as root, or with ptrace allowed).

    ``keep``: where to leave py-spy's raw stacks (the run's log folder), to look past the parts; e.g.
    ``sort -t' ' -k2 -n -r`` on it for the commonest stacks."""

    def __init__(self, pid: int, rate: int = 200, keep: Path | None = None) -> None:
        self.pid, self.rate, self.keep = pid, rate, keep
        self._dir = Path(tempfile.mkdtemp(prefix="carepath-profile-"))
        self._out = self._dir / "stacks.txt"
        self._proc: subprocess.Popen[bytes] | None = None
        self.error: str | None = None

    @staticmethod
    def executable() -> str | None:
        """py-spy beside this Python (a virtual environment's bin/), else on the PATH."""
        beside = Path(sys.executable).with_name("py-spy")
        return str(beside) if beside.exists() else shutil.which("py-spy")

    def start(self) -> Sampler:
        exe = self.executable()
        if exe is None:
            self.error = "py-spy is not installed"
            return self
        self._proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--output",
                str(self._out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def stop(self) -> Counter[str]:
        """Stop sampling; the samples per part (empty, with ``error`` set, when py-spy failed)."""
        if self._proc is None:
            return Counter()
        self._proc.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        try:
            _, err = self._proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self.error = "py-spy did not stop"
            return Counter()
        if not self._out.exists():
            self.error = (err or b"").decode(errors="replace").strip()[-300:] or "py-spy wrote nothing"
            return Counter()
        parts = parse_raw(self._out.read_text(errors="replace"))
        if self.keep is not None:
            shutil.copyfile(self._out, self.keep)
        shutil.rmtree(self._dir, ignore_errors=True)
        return parts
