"""Deterministic ids: the same patient, rule and opening always give the same expectation and reminder
ids, so a replayed event or a repeated tick can never double a reminder downstream."""

from __future__ import annotations

import hashlib


def expectation_id(patient_id: str, rule_id: str, opened_by: str) -> str:
    """``f3-<20 hex>``: the rule, then a digest of patient, rule and what opened it (no patient id shown)."""
    digest = hashlib.blake2b(f"{patient_id}\x1f{rule_id}\x1f{opened_by}".encode(), digest_size=10).hexdigest()
    return f"{rule_id.lower()}-{digest}"


def reminder_id(expectation: str, kind: str, level: int) -> str:
    """``<expectation id>.<kind>.<level>``, e.g. ``f3-0a1b….overdue.2``."""
    return f"{expectation}.{kind}.{level}"


def split_reminder_id(target: str) -> tuple[str, str, int] | None:
    """The parts of a reminder id, or ``None`` if ``target`` is not shaped like one."""
    parts = target.rsplit(".", 2)
    if len(parts) != 3 or parts[1] not in ("warning", "overdue") or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


def escalation_of(target: str, escalation_ids: list[str]) -> str | None:
    """Which of ``escalation_ids`` an acknowledgement ``target`` names.

    The target is the escalation id; the CloudEvent id of one revision (``<escalation id>.r<n>``) is
    accepted as the same escalation.
    """
    if target in escalation_ids:
        return target
    base, dot_r, revision = target.rpartition(".r")
    if dot_r and revision.isdigit() and base in escalation_ids:
        return base
    return None
