"""The roles a clinician acknowledges as, read from the contract (``common.v1`` ``role``), so the page
offers exactly what intake accepts: for an OpenID Connect login, only those of them the clinician's token
carries."""

from __future__ import annotations

import json
from functools import cache

from carepath.resources import schemas_dir

REASON_MAX = 1000


@cache
def roles() -> tuple[str, ...]:
    common = json.loads((schemas_dir() / "common.v1.schema.json").read_text())
    return tuple(str(r) for r in common["$defs"]["role"]["enum"])


def label(role: str) -> str:
    return role.replace("_", " ").capitalize()


def acknowledgement_problem(
    role: str, reason: str, override: bool, offered: tuple[str, ...] | None = None
) -> str | None:
    """What is wrong with an acknowledgement form, in words for the person filling it; None when nothing.
    The same rules intake applies (a role offered - the roles of the clinician's token, or any role of the
    contract for a development login - a bounded reason, an override only with a reason)."""
    if role not in (roles() if offered is None else offered):
        return "choose the role you acknowledge as"
    if len(reason) > REASON_MAX:
        return f"a reason has at most {REASON_MAX} characters"
    if override and not reason.strip():
        return "an override needs a reason: say why you disagree with the alert"
    return None
