"""The acknowledgements answered for every message.

Original mode (MSH-15 and MSH-16 both empty): one ACK per message, the application acknowledgement.

    AA  every event of the message is durably stored (or was already: a resent message)
    AE  the content has a problem; each problem is an ERR segment; the problem parts are dead-lettered.
        Sending the same message again will not help (InterSystems' default suspends it).
    AR  carepath could not store the message now (the event store is unavailable): nothing can be assumed
        stored, send it again later. AR is answered for nothing else, so an engine that retries AR never
        loops on a message that can never succeed.

The ACK echoes the sender's delimiters, MSH-11 and MSH-12, swaps sending and receiving application and
facility, and answers MSA-2 with the sender's MSH-10. ERR-1 (the v2.3/v2.4 form) is always filled; from
v2.5, ERR-2 (location), ERR-3 (HL7 table 0357 code), ERR-4 (severity) and ERR-8 (the message for people)
are filled too. MSA-3 repeats the first problem for engines that show only MSA.

Enhanced mode (MSH-15 or MSH-16 valued, HL7 v2 chapter 2): a commit acknowledgement, then the application
acknowledgement above, each sent only when the sender's MSH-15 (commit) or MSH-16 (application) asks for it
in that case, on the same connection in that order (carepath opens no connection back to a sender):

    CA  committed: the message was read and stored in the same publish as its refused parts (its events on
        clinical.events, its problems dead-lettered, its unknown codes parked); content problems are the
        application acknowledgement's AE
    CE  not committed: the message could not be taken (unreadable, refused whole, or the event store
        unavailable: ERR 207, send it again later)
    CR  not committed: its message type, event or version is not one carepath takes (ERR 200, 201, 203)

    AL always, NE never, ER only for CE/CR (AE/AR), SU only for CA (AA); an empty MSH-15 or MSH-16 in
    enhanced mode asks for nothing at that level. Any other value refuses the message (AE, ERR 103, in
    original mode: which acknowledgements the sender wants cannot be known).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from intake.hl7.message import Header
from intake.hl7.problems import ERROR_TEXT, Location
from intake.hl7.times import format_ts

ACCEPT, ERROR, REJECT = "AA", "AE", "AR"
COMMIT_ACCEPT, COMMIT_ERROR, COMMIT_REJECT = "CA", "CE", "CR"
ACK_TYPES = ("AL", "NE", "ER", "SU")  # HL7 table 0155: when an acknowledgement is sent
_REJECTED_BY_TYPE = frozenset(
    {200, 201, 202, 203}
)  # HL7 table 0357: message type, event, processing id, version
APPLICATION = "CAREPATH"
MAX_ERRORS = 20
MAX_TEXT = 400
_V25 = (2, 5)


@dataclass(frozen=True)
class AckError:
    code: int  # HL7 table 0357
    text: str
    location: Location | None = None
    severity: str = "E"


def build_ack(
    code: str,
    header: Header | None,
    control_id: str,
    now: datetime,
    errors: Sequence[AckError] = (),
) -> str:
    """The ACK as text with ``\\r`` segment separators (the server frames and encodes it)."""
    sep = header.field_separator if header else "|"
    enc = header.encoding_characters if header and len(header.encoding_characters) >= 4 else "^~\\&"
    comp, rep, esc, sub = enc[0], enc[1], enc[2], enc[3]
    version = (header.version if header else "") or "2.5.1"
    modern = _version(version) >= _V25

    def text(value: str) -> str:
        return _escape(value[:MAX_TEXT], sep, comp, rep, esc, sub)

    trigger = header.trigger_event if header else ""
    msh9 = f"ACK{comp}{text(trigger)}" + (f"{comp}ACK" if _version(version) >= (2, 3, 1) else "")
    msh = [
        "MSH",
        enc,
        text(header.receiving_application if header and header.receiving_application else APPLICATION),
        text(header.receiving_facility if header else ""),
        text(header.sending_application if header else ""),
        text(header.sending_facility if header else ""),
        format_ts(now),
        "",
        msh9,
        text(control_id),
        text(header.processing_id if header and header.processing_id else "P"),
        text(version),
    ]
    msa = ["MSA", code, text(header.control_id if header else "")]
    if errors:
        msa.append(text(errors[0].text))
    segments = [sep.join(msh), sep.join(msa)]
    for error in errors[:MAX_ERRORS]:
        table_text = ERROR_TEXT.get(error.code, "Application internal error")
        ce = sub.join([str(error.code), text(table_text), "HL70357"])
        where = error.location.erl() if error.location else []
        eld = comp.join([*where[:3], ce]) if where else comp.join(["", "", "", ce])
        fields = ["ERR", eld]
        if modern:
            fields += [
                comp.join(where),
                comp.join([str(error.code), text(table_text), "HL70357"]),
                error.severity,
                "",
                "",
                "",
                text(error.text),
            ]
        segments.append(sep.join(fields))
    return "\r".join(segments)


def enhanced(header: Header | None) -> bool:
    """True when the sender asks for enhanced acknowledgement mode with values carepath understands."""
    if header is None or not (header.accept_ack_type or header.application_ack_type):
        return False
    return all(v in ("", *ACK_TYPES) for v in (header.accept_ack_type, header.application_ack_type))


def bad_ack_type(header: Header | None) -> tuple[int, str] | None:
    """(15 or 16, the value) when MSH-15 or MSH-16 holds a value that is not in HL7 table 0155."""
    if header is None:
        return None
    for field, value in ((15, header.accept_ack_type), (16, header.application_ack_type)):
        if value not in ("", *ACK_TYPES):
            return field, value
    return None


def commit_code(stored: bool, errors: Sequence[AckError]) -> str:
    """The commit acknowledgement: CA when the message was read and stored; else CR when it was refused
    for its type, event, processing id or version, CE otherwise."""
    if stored:
        return COMMIT_ACCEPT
    if errors and errors[0].code in _REJECTED_BY_TYPE:
        return COMMIT_REJECT
    return COMMIT_ERROR


def wanted(condition: str, code: str) -> bool:
    """Whether an acknowledgement of ``code`` is sent under the MSH-15/MSH-16 ``condition``."""
    successful = code in (ACCEPT, COMMIT_ACCEPT)
    return condition == "AL" or (condition == "ER" and not successful) or (condition == "SU" and successful)


def _version(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts) if parts else (2, 5, 1)


def _escape(value: str, sep: str, comp: str, rep: str, esc: str, sub: str) -> str:
    table = {
        esc: f"{esc}E{esc}",
        sep: f"{esc}F{esc}",
        comp: f"{esc}S{esc}",
        rep: f"{esc}R{esc}",
        sub: f"{esc}T{esc}",
    }
    cleaned = " ".join(value.replace("\r", " ").replace("\n", " ").split())
    return "".join(table.get(ch, ch) for ch in cleaned)
