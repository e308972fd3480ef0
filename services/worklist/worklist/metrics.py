"""The worklist page's metrics. No label ever names a patient, a clinician or an escalation."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RECORDS = Counter(
    "carepath_worklist_records_total",
    "Records read from the topics, by topic and whether they changed the view (duplicates do not)",
    ["topic", "outcome"],
)
HELD = Gauge("carepath_worklist_held", "What the view holds in memory", ["what"])
EVICTED = Gauge(
    "carepath_worklist_evicted", "Escalations and timelines dropped from memory at its bounds since start"
)
LIVE = Gauge("carepath_worklist_live", "1 while the broker answers the page's reader, 0 when it does not")
LIVE_PAGES = Gauge("carepath_worklist_live_pages", "Pages listening for live changes")
LIVE_DROPPED = Counter(
    "carepath_worklist_live_dropped_total", "Live pages dropped because they fell behind (they reconnect)"
)
LOGINS = Counter("carepath_worklist_logins_total", "Logins, by method and outcome", ["method", "outcome"])
ACKNOWLEDGEMENTS = Counter(
    "carepath_worklist_acknowledgements_total",
    "Acknowledgements sent from the page, by intake's answer (stored, unknown, invalid, unavailable)",
    ["outcome"],
)
REFUSED = Counter(
    "carepath_worklist_refused_total",
    "Requests refused, by reason (login_required, csrf, dev_login_refused, invalid)",
    ["reason"],
)
SOURCE_ERRORS = Counter(
    "carepath_worklist_source_errors_total", "followup or intake not answering the page", ["source"]
)
