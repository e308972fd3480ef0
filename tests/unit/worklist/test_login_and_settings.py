"""Login names, where a login may send the user afterwards, and the settings that refuse an unsafe
production."""

from __future__ import annotations

import base64
import json
from zoneinfo import ZoneInfo

import pytest

from worklist.login import IntakeToken, dev_name
from worklist.roles import acknowledgement_problem
from worklist.settings import WorklistSettings
from worklist.web import local_path, when, within

pytestmark = pytest.mark.unit

STRONG = "x" * 40


def test_a_development_login_name_is_checked() -> None:
    assert dev_name("  Dr   Ward  ") == "Dr Ward"
    for bad, says in [("", "enter a name"), ("x" * 81, "at most 80"), ("<script>", "letters, digits")]:
        with pytest.raises(ValueError, match=says):
            dev_name(bad)


@pytest.mark.parametrize(
    ("given", "goes"),
    [
        ("/alerts/esc-1", "/alerts/esc-1"),
        ("/?severity=urgent", "/?severity=urgent"),
        ("https://elsewhere.example/", "/"),
        ("//elsewhere.example/", "/"),
        ("/\\elsewhere.example", "/"),
        (None, "/"),
    ],
)
def test_after_login_only_a_path_on_this_site(given: str | None, goes: str) -> None:
    assert local_path(given) == goes


def test_instants_are_shown_as_a_clinician_reads_them() -> None:
    assert when("2026-12-04T11:34:14Z") == "Fri 04 Dec 2026 11:34 UTC"
    assert when("2024-05-01T10:30:00+01:00") == "Wed 01 May 2024 09:30 UTC"
    london = ZoneInfo("Europe/London")
    assert when("2024-05-01T09:30:00Z", london) == "Wed 01 May 2024 10:30 BST"
    assert when("2026-12-04T11:34:14Z", london) == "Fri 04 Dec 2026 11:34 GMT"
    assert when("not a time") == "not a time"
    assert within("PT24H") == "within 24 h" and within("P4W") == "within 4 weeks"
    assert within("PT0S") == "at once" and within("soon") == "within soon"


def settings(**env: str) -> WorklistSettings:
    """Settings as read from these variables (the shared ones are fields, the worklist's aliases)."""
    environment = env.pop("CAREPATH_ENVIRONMENT", "production")
    return WorklistSettings(environment=environment, **env)  # type: ignore[arg-type]


def test_development_has_the_development_login_and_development_tokens() -> None:
    s = settings(CAREPATH_ENVIRONMENT="development")
    assert s.dev_login_enabled and not s.oidc_enabled
    assert s.read_token == "dev-only-read-token" and s.ack_token == "dev-only-ack-token"
    assert len(s.session_key) >= 32 and not s.secure_cookies
    assert not settings(
        CAREPATH_ENVIRONMENT="development", CAREPATH_WORKLIST_DEV_LOGIN="false"
    ).dev_login_enabled


def production(**env: str) -> WorklistSettings:
    base = {
        "CAREPATH_ENVIRONMENT": "production",
        "CAREPATH_FOLLOWUP_READ_TOKENS": "r" * 30,
        "CAREPATH_INTAKE_ACK_TOKENS": "a" * 30,
        "CAREPATH_WORKLIST_SESSION_SECRET": STRONG,
        "CAREPATH_WORKLIST_OIDC_ISSUER": "https://login.hospital.example",
        "CAREPATH_WORKLIST_OIDC_CLIENT_ID": "worklist",
        "CAREPATH_WORKLIST_OIDC_CLIENT_SECRET": STRONG,
        "CAREPATH_WORKLIST_PUBLIC_URL": "https://worklist.hospital.example",
    }
    return settings(**(base | env))


def test_production_needs_its_login_its_secret_and_no_development_login() -> None:
    s = production()
    assert s.oidc_enabled and not s.dev_login_enabled and s.secure_cookies
    with pytest.raises(ValueError, match="development login is refused in production"):
        production(CAREPATH_WORKLIST_DEV_LOGIN="true")
    with pytest.raises(ValueError, match="SESSION_SECRET must be set"):
        production(CAREPATH_WORKLIST_SESSION_SECRET="short")
    with pytest.raises(ValueError, match="production needs a login"):
        production(CAREPATH_WORKLIST_OIDC_ISSUER="", CAREPATH_WORKLIST_OIDC_CLIENT_ID="")
    with pytest.raises(ValueError, match="CAREPATH_INTAKE_ACK_TOKENS"):
        production(CAREPATH_INTAKE_ACK_TOKENS="dev-only-ack-token")
    with pytest.raises(ValueError, match="needs CAREPATH_WORKLIST_OIDC_ISSUER"):
        settings(CAREPATH_ENVIRONMENT="development", CAREPATH_WORKLIST_OIDC_ISSUER="https://login.example")
    with pytest.raises(ValueError, match="not a time zone name"):
        settings(CAREPATH_ENVIRONMENT="development", CAREPATH_WORKLIST_TIME_ZONE="Mars/Olympus")
    with pytest.raises(ValueError, match="http:// or https://"):
        settings(CAREPATH_ENVIRONMENT="development", CAREPATH_WORKLIST_INTAKE_URL="intake:8080")


def test_an_acknowledgement_form_is_checked_as_intake_would() -> None:
    assert acknowledgement_problem("consultant", "", False) is None
    assert acknowledgement_problem("consultant", "Seen on the ward; MRI booked.", True) is None
    assert acknowledgement_problem("", "", False) == "choose the role you acknowledge as"
    assert acknowledgement_problem("porter", "", False) == "choose the role you acknowledge as"
    assert "override needs a reason" in (acknowledgement_problem("consultant", "  ", True) or "")
    assert "at most 1000" in (acknowledgement_problem("nurse", "x" * 1001, False) or "")


def test_production_needs_no_system_token_for_intake() -> None:
    """There the development login is refused, and every acknowledgement goes with the clinician's own
    token: the page holds no credential that could name someone else."""
    s = production(
        CAREPATH_INTAKE_ACK_TOKENS="", CAREPATH_WORKLIST_OIDC_RESOURCE="https://intake.hospital.example"
    )
    assert s.ack_token == "" and s.oidc_resource == "https://intake.hospital.example"
    assert production(CAREPATH_INTAKE_ACK_TOKENS=f"worklist:{'a' * 30}").ack_token == "a" * 30
    development = settings(CAREPATH_ENVIRONMENT="development", CAREPATH_INTAKE_ACK_TOKENS="worklist:dev-ack")
    assert development.ack_token == "dev-ack"  # the name is not part of the token
    with pytest.raises(ValueError, match="http:// or https://"):
        production(CAREPATH_WORKLIST_OIDC_RESOURCE="urn-intake")


def test_the_roles_offered_are_those_the_clinicians_token_carries() -> None:
    def token(claims: dict[str, object]) -> IntakeToken:
        def part(value: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        return IntakeToken(f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln", expires_at=2_000_000_000)

    assert token({"carepath_roles": ["nurse", "porter", "consultant"]}).roles("carepath_roles") == (
        "nurse",
        "consultant",
    )
    assert token({"roles": "gp"}).roles("roles") == ("gp",)
    assert token({}).roles("carepath_roles") == ()
    assert token({}).usable(now=1_999_999_000) and not token({}).usable(now=1_999_999_980)
    assert acknowledgement_problem("nurse", "", False, ("nurse",)) is None
    assert (
        acknowledgement_problem("consultant", "", False, ("nurse",)) == "choose the role you acknowledge as"
    )
