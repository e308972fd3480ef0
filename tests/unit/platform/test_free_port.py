"""Ports for the servers a stack starts: free, below the kernel's ephemeral range, and never handed out twice
by one process (a stack picks all its ports before its servers bind them)."""

from __future__ import annotations

import pytest

from carepath_tools.broker import free_port

pytestmark = pytest.mark.unit


def test_a_process_never_hands_out_the_same_port_twice() -> None:
    # 300 picks among ~12,800 ports: without the memory of earlier picks a repeat is all but certain.
    picked = [free_port() for _ in range(300)]
    assert len(set(picked)) == len(picked)
    assert all(20000 <= p < 32768 for p in picked), sorted(picked)[:3]
