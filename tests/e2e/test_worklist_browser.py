"""The worklist page in a real browser (Debian's headless Chromium driven by Playwright) against a running
carepath: embedded broker, intake, triage, followup and the worklist, each its own process.

Timeline (the stack's clock runs 3600x: an hour passes in a real second):
  patient W (acknowledged on the page): prostate cancer, progressive thoracic night pain -> R2 urgent;
      it appears on the open page without a reload, its explanation opens, it is acknowledged twice from
      the page, and its A1 reminder chain stops
  patient T (its twin, never acknowledged)                -> R2 urgent; A1 climbs to level 3
  patient M: MRI report "compression of the spinal cord"  -> R8 emergency; overdue within a second (F1,
      1 h), marked on the page; its explanation quotes the report's sentence
The worklist is saved as docs/worklist.png for the README.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from carepath import auth, logs, topics
from carepath.resources import ROOT
from carepath_tools.devstack import Stack
from tests.conftest import BrokerInfo
from tests.support.events import post_event
from tests.support.topics import TopicReader

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = ROOT / "docs" / "worklist.png"
TIME_SCALE = 3600.0
SENTENCE = "Compression of the spinal cord at T10 by an epidural deposit."


@pytest.fixture(scope="module")
def stack(broker: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(
        log_dir=tmp_path_factory.mktemp("worklist-stack"),
        time_scale=TIME_SCALE,
        bootstrap=broker.bootstrap,
        profile=broker.profile,
        worklist=True,
    )
    s.start(ready_timeout=90)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is needed: make sysdeps installs it"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def post(stack: Stack, patient: str, etype: str, data: dict[str, Any], n: int) -> None:
    post_event(stack, patient, etype, data, n)


def r2(stack: Stack, patient: str) -> None:
    cancer = {"cancer": {"primary_site": "prostate", "status": "active"}, "age_years": 74}
    post(stack, patient, "carepath.diagnosis.recorded.v1", cancer, 0)
    pain = {"nrs": 6, "site": ["thoracic"], "character": ["progressive", "night_pain"]}
    post(stack, patient, "carepath.pain.reported.v1", pain, 1)


def r8(stack: Stack, patient: str) -> None:
    report = {
        "modality": "mri",
        "region": "thoracic",
        "report_status": "final",
        "findings": [{"code": "cord_compression", "certainty": "confirmed", "evidence": SENTENCE}],
    }
    post(stack, patient, "carepath.imaging.resulted.v1", report, 0)


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
    .map(el => el.outerHTML)"""


def assert_accessible_basics(page: Any) -> None:
    """What a keyboard and a screen reader need: a language, one h1, every control labelled, and the first
    Tab landing on the skip link to the content."""
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").count() == 1
    assert page.evaluate(UNLABELLED) == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"


def row(patient: str, rule: str) -> str:
    return f'tr[data-escalation]:has(a[href="/patients/{patient}"]):has-text("{rule}")'


@pytest.mark.timeout(300)  # a stack, a browser and a reminder chain on a busy machine, teardown included
def test_worklist_live_explanation_acknowledgement_and_overdue(stack: Stack, browser: Any) -> None:
    run = uuid.uuid4().hex[:6]
    acked, twin, mri = f"ward-{run}-w", f"ward-{run}-t", f"ward-{run}-m"
    reminders = TopicReader(stack.bootstrap or "", topics.REMINDERS)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    # Each wait is bounded; 60 s because every browser step (a full-page screenshot in particular) shares
    # two processors with the broker and five services, and took over 20 s beside two CPU burners.
    page.set_default_timeout(60_000)

    # log in with the development login, landing on the worklist
    page.goto(f"{stack.worklist_url}/")
    assert "/login" in page.url
    page.get_by_label("Your name").fill("Dr Ward Test")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("h1:has-text('Open alerts')")
    page.wait_for_selector("#live.on")
    page.evaluate("window.__notReloaded = true")

    # new escalations appear without a reload
    r2(stack, acked)
    r2(stack, twin)
    r8(stack, mri)
    page.wait_for_selector(row(acked, "R2"))
    page.wait_for_selector(row(twin, "R2"))
    page.wait_for_selector(row(mri, "R8"))
    assert page.evaluate("window.__notReloaded") is True, "the page reloaded instead of updating live"

    # the emergency is overdue within a second (F1: coordinator contact within 1 h) and marked so
    mri_row = page.locator(row(mri, "R8"))
    expect(mri_row).to_have_class(re.compile(r"\boverdue\b"), timeout=60_000)
    assert "OVERDUE" in mri_row.inner_text()
    assert "EMERGENCY" in mri_row.inner_text()
    # ordered by severity then deadline: the emergency comes before the urgent ones
    order = page.eval_on_selector_all("tr[data-escalation]", "rs => rs.map(r => r.dataset.severity)")
    assert order == sorted(order, key=["emergency", "urgent", "routine"].index), order

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert_accessible_basics(page)

    # the emergency's explanation quotes the radiology sentence it was read from
    mri_row.locator("a.open-alert").click()
    page.wait_for_selector("#alert-heading")
    assert SENTENCE in page.inner_text("table.evidence")
    page.go_back()

    # the urgent alert's explanation: reason, evidence, actions with deadlines, source, pathway version
    page.locator(row(acked, "R2")).locator("a.open-alert").click()
    page.wait_for_selector("#alert-heading")
    assert "R2" in page.inner_text("#alert-heading")
    assert page.inner_text("#summary").strip()
    assert page.locator("table.evidence tbody tr").count() >= 1
    assert page.locator("ol.actions-list li time[datetime]").count() >= 1
    assert "pathway carepath-mscc version" in page.inner_text("#source")
    escalation_id = page.url.rsplit("/", 1)[1]

    assert_accessible_basics(page)

    # acknowledge; the chain's state is shown before and after
    page.get_by_label("Your role").select_option("mscc_coordinator")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector("#ack-done")
    assert "Before" in page.inner_text("main") and "After" in page.inner_text("main")
    followup = f"{stack.services['followup'].url}/v1/patients/{acked}/worklist"
    reader = auth.bearer(auth.DEV_READ_TOKEN)
    deadline = time.monotonic() + 30
    while any(
        e["rule"] == "A1" for e in httpx.get(followup, headers=reader, timeout=10).json()["expectations"]
    ):
        assert time.monotonic() < deadline, "followup never recorded the acknowledgement"
        time.sleep(0.1)

    # acknowledging twice is harmless
    page.goto(f"{stack.worklist_url}/alerts/{escalation_id}")
    assert page.inner_text("#ack-state") == "acknowledged"
    page.get_by_label("Your role").select_option("consultant")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector("#ack-done")
    assert "already been acknowledged" in page.inner_text("main")

    # a development login has no identity provider: the page names the person, recorded as asserted by it
    acknowledgements = TopicReader(stack.bootstrap or "", topics.ACKNOWLEDGEMENTS)
    both = acknowledgements.wait_for(lambda r: r.get("subject") == acked, count=2)
    acknowledgements.close()
    assert {(r["data"]["role"], r["data"]["sent_by"]) for r in both} == {
        ("mscc_coordinator", "ack-system-1"),
        ("consultant", "ack-system-1"),
    }
    assert all(
        r["data"]["acknowledged_by"]
        == {"subject": "dev:dr-ward-test", "name": "Dr Ward Test", "verified": False}
        for r in both
    ), both

    # the acknowledged chain stops; the twin's climbs to level 3
    def a1(patient: str) -> Any:
        return lambda r: (
            r.get("subject") == patient and r.get("data", {}).get("expectation", {}).get("id") == "A1"
        )

    # What the acknowledged chain had published when followup had recorded the acknowledgement: the whole
    # topic to the end it has now (at 3600x a busy machine lets the chain climb before the click lands;
    # what is promised is that nothing follows once the acknowledgement is recorded).
    reminders.catch_up()
    sent_before = {r["id"] for r in reminders.records if a1(acked)(r)}
    climbed = reminders.wait_for(a1(twin), count=3, timeout=30)
    assert sorted(r["data"]["level"] for r in climbed) == [1, 2, 3]
    assert {r["id"] for r in reminders.records if a1(acked)(r)} == sent_before

    # the patient's timeline: events, the escalation, and both acknowledgements
    page.goto(f"{stack.worklist_url}/patients/{acked}")
    timeline = page.inner_text("ol.timeline")
    assert "pain reported" in timeline and "Escalation raised" in timeline
    assert "on the worklist by Dr Ward Test" in timeline
    page.close()

    # on a phone: the same page, nothing wider than the screen
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(f"{stack.worklist_url}/login")
    phone.get_by_label("Your name").fill("Dr Phone")
    phone.get_by_role("button", name="Log in").click()
    phone.wait_for_selector(row(mri, "R8"))
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert phone.locator(row(mri, "R8")).locator(".overdue-mark").is_visible()
    phone.close()

    # every acknowledgement is recorded with who and when; no patient id or clinical text in the log
    log = stack.services["worklist"].log_path.read_text()
    sent = [json.loads(line) for line in log.splitlines() if '"acknowledgement_sent"' in line]
    assert len(sent) == 2 and all(
        s["user"] == logs.pseudonym("dev:dr-ward-test") and s["at"] for s in sent
    ), sent
    for secret in (acked, twin, mri, SENTENCE, "epidural deposit"):
        assert secret not in log
