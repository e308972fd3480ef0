"""Charging py-spy's sampled stacks to the parts of a worker's cost table."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import triage.agents
from carepath_tools.bench.profile_parts import OTHER, parse_raw, part_of, per_event

# Lines as py-spy 0.4 writes them with --format raw (collapsed stacks, module-relative file names)
RAW = """\
<module> (triage/__main__.py:25);run_worker (carepath/streaming.py:301);run_until_complete (asyncio/base_events.py:640);_run_once (asyncio/base_events.py:1922);_run (asyncio/events.py:80);_run (carepath/fetch_batches.py:96);handle (triage/agents.py:44);run_batch (triage/batch.py:88);evaluate (triage/core/rules.py:120) 40
<module> (triage/__main__.py:25);_run (asyncio/events.py:80);handle (triage/agents.py:60);__setitem__ (faust/tables/table.py:101);send_soon (faust/transport/producer.py:90) 25
<module> (triage/__main__.py:25);_run (asyncio/events.py:80);handle (triage/agents.py:55);inc (prometheus_client/metrics.py:320);__enter__ (threading.py:300) 5
<module> (triage/__main__.py:25);_run (asyncio/events.py:80);decode (carepath/envelope.py:61) 10
<module> (triage/__main__.py:25);_run_once (asyncio/base_events.py:1900);select (selectors.py:468) 20
<module> (triage/__main__.py:25);_run_once (asyncio/base_events.py:1922);_run (asyncio/events.py:80);_write_to_self (asyncio/selector_events.py:139) 7
Thread._bootstrap (threading.py:1002);_bootstrap_inner (threading.py:1045);run (threading.py:982);_worker (concurrent/futures/thread.py:81) 30
Thread._bootstrap (threading.py:1002);run (threading.py:982);_worker (concurrent/futures/thread.py:83);run (concurrent/futures/thread.py:58);_send_all (intake/publisher.py:120) 3
"""


def test_each_stack_is_charged_to_the_part_nearest_its_leaf() -> None:
    parts = parse_raw(RAW)
    assert parts == Counter(
        {
            "core rules": 40,
            "table writes and changelog": 25,
            "JSON": 10,
            "event loop and scheduling": 7,
            "metrics": 5,  # the lock it waits on is the metric's, not the event loop's
            "intake parsing and validation": 3,  # work a pool thread does is charged to that work
        }
    )
    # An event loop in its selector's poll, a pool thread on its empty queue: waiting, so no part's
    # share of the processor time.


def test_microseconds_per_event_follow_the_shares_of_the_measured_total() -> None:
    us = per_event(Counter({"core rules": 30, "JSON": 10}), 80.0)
    assert us == {"core rules": 60.0, "JSON": 20.0}
    assert sum(us.values()) == pytest.approx(80.0)


def test_unknown_frames_are_other_and_malformed_lines_are_skipped() -> None:
    assert part_of(["<module> (script.py:1)"]) == OTHER
    assert parse_raw("no count here\n\n") == Counter()


def test_a_leaf_on_the_line_that_calls_the_compiled_core_is_the_cores_time() -> None:
    # py-spy sees no frame inside compiled code: its time shows on the Python line that called it.
    agents = Path(triage.agents.__file__).resolve()
    lines = agents.read_text(encoding="utf-8").splitlines()
    call = next(n for n, text in enumerate(lines, start=1) if "run_batch(" in text)
    other = next(n for n, text in enumerate(lines, start=1) if "await publish(" in text)
    shell = "run (asyncio/events.py:80);handle ({file}:{line})"
    for file in (agents, "triage/agents.py"):  # py-spy writes a module's file from its import root
        assert part_of(shell.format(file=file, line=call).split(";")) == "core rules", file
        assert part_of(shell.format(file=file, line=other).split(";")) == "service shell", file
