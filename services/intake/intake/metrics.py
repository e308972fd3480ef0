"""intake metrics. Labels are channels, event types and reasons: never patient data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ACCEPTED = Counter("carepath_intake_events_accepted", "Events durably published", ["channel", "type"])
REJECTED = Counter("carepath_intake_events_rejected", "Events or requests rejected", ["channel", "reason"])
DUPLICATES = Counter(
    "carepath_intake_duplicates", "Resubmitted event ids accepted without republishing", ["channel"]
)
DLQ_RECORDS = Counter("carepath_intake_dlq_records", "Records written to the dead-letter topic", ["channel"])
PARKED = Counter(
    "carepath_intake_parked",
    "Inputs parked on clinical.events.parked because of codes carepath did not know, by channel and by the "
    "code system of those codes: the short name carepath's value sets give it (LOINC, SNOMED CT, ...), else "
    "'local'; an input with unknown codes of two systems counts once under each",
    ["channel", "system"],
)
PUBLISH_SECONDS = Histogram(
    "carepath_intake_publish_seconds",
    "Time from publish to broker acknowledgement, per request",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BROKER_UP = Gauge(
    "carepath_intake_broker_up", "1 when the last publish or readiness probe reached the broker"
)
MLLP_MESSAGES = Counter(
    "carepath_intake_mllp_messages", "HL7 messages answered on MLLP, by ACK code", ["ack"]
)
MLLP_COMMITS = Counter(
    "carepath_intake_mllp_commits",
    "HL7 messages in enhanced acknowledgement mode (MSH-15/MSH-16), by commit code (CA, CE, CR)",
    ["code"],
)
MLLP_CONNECTIONS = Gauge("carepath_intake_mllp_connections", "Open MLLP connections")
MLLP_UNMAPPED = Counter(
    "carepath_intake_mllp_unmapped_codes",
    "Coded items in accepted HL7 messages that the code mapping does not know (read past, not published)",
)


# Export every channel's counters from the start (at 0), so increase() sees the first record.
for _channel in ("http", "mllp"):
    DLQ_RECORDS.labels(_channel)
    DUPLICATES.labels(_channel)
for _ack in ("AA", "AE", "AR"):
    MLLP_MESSAGES.labels(_ack)
for _commit in ("CA", "CE", "CR"):
    MLLP_COMMITS.labels(_commit)

MLLP_CONNECTIONS_REFUSED = Counter(
    "carepath_intake_mllp_connections_refused",
    "MLLP connections closed at once because CAREPATH_INTAKE_MLLP_MAX_CONNECTIONS were open",
)
MLLP_SOURCES_REFUSED = Counter(
    "carepath_intake_mllp_sources_refused",
    "MLLP connections closed at once because their address is not in CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES",
)
MLLP_TIMEOUTS = Counter(
    "carepath_intake_mllp_timeouts",
    "MLLP connections closed for a timeout: idle (no frame begun) or frame (a frame not ended in time)",
    ["kind"],
)
for _kind in ("idle", "frame"):
    MLLP_TIMEOUTS.labels(_kind)

MLLP_TLS_HANDSHAKE_FAILURES = Counter(
    "carepath_intake_mllp_tls_handshake_failures",
    "MLLP connections closed because the TLS handshake failed: protocol (not TLS, or a version or cipher "
    "refused), client_certificate (none, or not signed by CAREPATH_INTAKE_MLLP_TLS_CLIENT_CA), timeout, "
    "closed (the sender hung up), other",
    ["reason"],
)
for _reason in ("protocol", "client_certificate", "timeout", "closed", "other"):
    MLLP_TLS_HANDSHAKE_FAILURES.labels(_reason)

API_REJECTED = Counter(
    "carepath_intake_api_rejected",
    "HTTP requests refused for their credential: missing (no bearer token), invalid (not one of intake's "
    "tokens), forbidden (a token of the other role: an engine's on the acknowledgement route, a "
    "clinician system's on events or FHIR)",
    ["reason"],
)
for _reason in ("missing", "invalid", "forbidden"):
    API_REJECTED.labels(_reason)
