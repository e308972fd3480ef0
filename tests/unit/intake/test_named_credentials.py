"""Each sending system has its own credential and a name: ``name:token`` entries in intake's token lists
(an unnamed one is named by its position), checked as every token is, each name once. The identity
provider's settings go together, and production takes an https issuer only; with one set, production
needs no acknowledging system at all."""

from __future__ import annotations

import pytest

from carepath import auth
from intake.settings import IntakeSettings

pytestmark = pytest.mark.unit

LONG = "t" * 30


def test_entries_are_named_or_named_by_position() -> None:
    found = auth.named_tokens(
        f"mirth-north:{LONG}1, {LONG}2 ,rhapsody:{LONG}3", "production", "X", "dev", "engine"
    )
    assert [(t.name, t.token) for t in found] == [
        ("mirth-north", f"{LONG}1"),
        ("engine-2", f"{LONG}2"),
        ("rhapsody", f"{LONG}3"),
    ]
    assert LONG not in repr(found)  # a token is never shown


def test_a_colon_after_what_is_not_a_name_is_part_of_the_token() -> None:
    [found] = auth.named_tokens(f"Not A Name:{LONG}", "production", "X", "dev", "engine")
    assert found == auth.NamedToken("engine-1", f"Not A Name:{LONG}")


def test_development_has_a_named_default_and_production_none() -> None:
    assert auth.named_tokens("", "development", "X", "dev-only-token", "engine") == [
        auth.NamedToken("engine-1", "dev-only-token")
    ]
    with pytest.raises(ValueError, match="X must be set in production"):
        auth.named_tokens("", "production", "X", "dev-only-token", "engine")
    with pytest.raises(ValueError, match="at least 24"):
        auth.named_tokens("mirth:short", "production", "X", "dev-only-token", "engine")


def test_two_tokens_may_not_share_a_name() -> None:
    with pytest.raises(ValueError, match="X: the name 'mirth' is given to two tokens"):
        auth.named_tokens(f"mirth:{LONG}1,mirth:{LONG}2", "production", "X", "dev", "engine")
    with pytest.raises(ValueError, match="'engine-2'"):  # a name that is also another entry's position
        auth.named_tokens(f"engine-2:{LONG}1,{LONG}2", "production", "X", "dev", "engine")


def test_holder_names_the_credential_presented() -> None:
    listed = [auth.NamedToken("a", f"{LONG}a"), auth.NamedToken("b", f"{LONG}b")]
    assert auth.holder(f"{LONG}b", listed) == "b"
    assert auth.holder(f"{LONG}c", listed) is None and auth.holder("", listed) is None


def production(**env: str) -> IntakeSettings:
    base = {
        "CAREPATH_INTAKE_TOKENS": f"mirth-north:{'e' * 30}",
        "CAREPATH_INTAKE_ACK_TOKENS": f"ack-portal:{'a' * 30}",
        "CAREPATH_WORKER_TOKEN": "w" * 30,
    }
    return IntakeSettings(environment="production", **(base | env))  # type: ignore[arg-type]


def test_intake_names_its_engines_and_acknowledging_systems() -> None:
    s = production()
    assert [c.name for c in s.engine_credentials] == ["mirth-north"]
    assert [c.name for c in s.ack_credentials] == ["ack-portal"]
    assert s.token_list == ["e" * 30] and s.ack_token_list == ["a" * 30]
    dev = IntakeSettings(environment="development")
    assert [c.name for c in dev.engine_credentials] == ["engine-1"]
    assert [c.name for c in dev.ack_credentials] == ["ack-system-1"]


def test_the_identity_providers_settings_go_together_and_production_takes_https_only() -> None:
    with pytest.raises(ValueError, match="set both"):
        production(CAREPATH_INTAKE_OIDC_ISSUER="https://login.hospital.example")
    with pytest.raises(ValueError, match="set both"):
        production(CAREPATH_INTAKE_OIDC_AUDIENCE="https://intake.hospital.example")
    with pytest.raises(ValueError, match="https:// URL in production"):
        production(
            CAREPATH_INTAKE_OIDC_ISSUER="http://login.hospital.example",
            CAREPATH_INTAKE_OIDC_AUDIENCE="https://intake.hospital.example",
        )
    with pytest.raises(ValueError, match="expected the issuer's https:// URL"):
        production(CAREPATH_INTAKE_OIDC_ISSUER="login.hospital.example", CAREPATH_INTAKE_OIDC_AUDIENCE="x")
    assert not production().oidc_enabled  # unset: only system credentials acknowledge


def test_with_an_identity_provider_production_needs_no_acknowledging_system() -> None:
    with pytest.raises(ValueError, match="CAREPATH_INTAKE_ACK_TOKENS must be set"):
        production(CAREPATH_INTAKE_ACK_TOKENS="")
    s = production(
        CAREPATH_INTAKE_ACK_TOKENS="",
        CAREPATH_INTAKE_OIDC_ISSUER="https://login.hospital.example",
        CAREPATH_INTAKE_OIDC_AUDIENCE="https://intake.hospital.example",
    )
    assert s.oidc_enabled and s.ack_credentials == [] and s.oidc_role_claim == "carepath_roles"
