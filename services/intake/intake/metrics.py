"""intake metrics. Labels are channels, event types and reasons: never patient data."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from carepath import clinician_tokens

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
    "tokens, nor a clinician's token that passes), forbidden (a token of another role: an engine's on the "
    "acknowledgement route, an acknowledging system's on events or FHIR)",
    ["reason"],
)
for _reason in ("missing", "invalid", "forbidden"):
    API_REJECTED.labels(_reason)

CLINICIAN_TOKENS_REFUSED = Counter(
    "carepath_intake_clinician_tokens_refused",
    "Clinicians' tokens refused on POST /v1/acknowledgements, by reason: malformed, algorithm (none, HS*, "
    "anything but RS256/PS256/ES256), unknown_key, signature, issuer, audience, expired, not_yet_valid, "
    "claims, keys_unavailable (the identity provider's keys could not be read: answered 503)",
    ["reason"],
)
for _reason in (*clinician_tokens.REASONS, "keys_unavailable"):
    CLINICIAN_TOKENS_REFUSED.labels(_reason)

ACKNOWLEDGEMENTS = Counter(
    "carepath_intake_acknowledgements",
    "Acknowledgements stored through POST /v1/acknowledgements, by how intake knows who: verified (the "
    "clinician's own token) or asserted (a system acknowledging for a clinician it names)",
    ["identity"],
)
ACKNOWLEDGEMENTS_REFUSED = Counter(
    "carepath_intake_acknowledgements_refused",
    "Acknowledgements refused for who sent them: role_not_in_token (a role the clinician's token does not "
    "carry), no_role (a token with no carepath role), role_not_chosen (several roles, none named), "
    "on_behalf_of_missing (a system naming no clinician), on_behalf_of_from_clinician (a clinician's token "
    "naming someone else), role_mismatch (two different roles in one body)",
    ["reason"],
)
for _identity in ("verified", "asserted"):
    ACKNOWLEDGEMENTS.labels(_identity)
ACK_REFUSALS = (
    "role_not_in_token",
    "no_role",
    "role_not_chosen",
    "on_behalf_of_missing",
    "on_behalf_of_from_clinician",
    "role_mismatch",
)
for _reason in ACK_REFUSALS:
    ACKNOWLEDGEMENTS_REFUSED.labels(_reason)
