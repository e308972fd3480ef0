"""An HL7 v2 message as carepath reads it.

The bytes are decoded (MSH-18 names the character set and is binding: bytes that are not valid in it, or a
character set carepath does not know, refuse the message; when MSH-18 is empty UTF-8 is tried first, then
ISO 8859-1), ``\\r\\n`` and ``\\n`` segment separators are normalised to ``\\r``, and python-hl7 parses the text.

One frame is one message: a second MSH (two messages in one frame) or a batch segment (FHS, BHS, BTS, FTS)
anywhere refuses the whole frame. Merging two messages would file the second one's results under the first
one's patient, and answering each would put two ACKs on the wire for one frame. The parse
tree is then copied into plain tuples with every escape sequence resolved, so mappers read any field by its
number (``segment.value(5)``, ``segment.coded(3)``) without knowing python-hl7's container types.

A line that cannot be a segment (a report line broken by a raw newline inside OBX-5, a habit of some
senders) is joined to the segment before it as a line break in its last field, rather than being lost.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import hl7  # type: ignore[import-untyped]

from intake.hl7.problems import (
    DATA_TYPE_ERROR,
    REQUIRED_FIELD_MISSING,
    SEGMENT_SEQUENCE,
    TABLE_VALUE_NOT_FOUND,
    UNSUPPORTED_MESSAGE_TYPE,
    Location,
)

Subcomponents = tuple[str, ...]
Components = tuple[Subcomponents, ...]
Repetitions = tuple[Components, ...]

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
# HL7 table 0211 (MSH-18) -> Python codec. ASCII is read as UTF-8 (its superset): a stray UTF-8 sequence is
# read, bytes that are not UTF-8 refuse the message. Anything not listed refuses the message.
_CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "ASCII": "utf-8",
    "ISO IR6": "utf-8",
    "8859/1": "latin-1",
    "ISO IR100": "latin-1",
    "8859/15": "iso8859-15",
}
_BOUNDARY_SEGMENTS = ("MSH", "FHS", "BHS", "BTS", "FTS")
_LINE_END = re.compile(r"[\r\n]")
_SHOWN_VALUE = re.compile(r"^[A-Za-z0-9 ./_+-]{1,40}$")
_LINE_BREAK_ESCAPES = {".br", ".sp", ".ce"}


class MessageError(ValueError):
    """The message cannot be read at all: the whole message is refused."""

    def __init__(self, message: str, code: int = DATA_TYPE_ERROR, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.location = location


@dataclass(frozen=True)
class Coded:
    """A CE/CWE value: identifier, text, coding system, and the alternate triplet."""

    code: str
    text: str
    system: str
    alt_code: str = ""
    alt_text: str = ""
    alt_system: str = ""

    def codings(self) -> list[tuple[str, str]]:
        """(system, code) pairs present, the primary first."""
        pairs = [(self.system, self.code)] if self.code else []
        if self.alt_code:
            pairs.append((self.alt_system, self.alt_code))
        return pairs

    @property
    def label(self) -> str:
        """How to name this code in a message to people: ``72514-3 (LN)``."""
        for system, code in self.codings():
            return f"{code} ({system})" if system else code
        return repr(self.text)

    @property
    def texts(self) -> str:
        return " ".join(t for t in (self.text, self.alt_text) if t)


@dataclass(frozen=True)
class Segment:
    id: str
    sequence: int  # occurrence of this segment id in the message, from 1
    fields: tuple[Repetitions, ...]  # fields[n] is HL7 field n (MSH-1 is the field separator)

    def location(self, field: int | None = None, component: int | None = None) -> Location:
        return Location(self.id, self.sequence, field, component)

    def repetitions(self, field: int) -> Repetitions:
        return self.fields[field] if 0 < field < len(self.fields) else ()

    def value(self, field: int, component: int = 1, repetition: int = 1, sub: int = 1) -> str:
        reps = self.repetitions(field)
        if repetition > len(reps):
            return ""
        comps = reps[repetition - 1]
        if component > len(comps):
            return ""
        subs = comps[component - 1]
        return subs[sub - 1].strip() if sub <= len(subs) else ""

    def coded(self, field: int, repetition: int = 1) -> Coded | None:
        def part(component: int) -> str:
            return self.value(field, component, repetition)

        value = Coded(part(1), part(2), part(3), part(4), part(5), part(6))
        return value if value.code or value.alt_code or value.text else None

    def text(self, field: int) -> str:
        """A text field (ST/TX/FT) as one string: repetitions are lines."""
        lines = []
        for rep in self.repetitions(field):
            lines.append("^".join("&".join(subs) for subs in rep).strip())
        return "\n".join(lines)


@dataclass(frozen=True)
class Header:
    field_separator: str
    encoding_characters: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    timestamp: str
    message_type: str
    trigger_event: str
    structure: str
    control_id: str
    processing_id: str
    version: str
    charset: str
    encoding: str  # the Python codec the message was decoded with (the ACK is encoded the same way)
    accept_ack_type: str = ""  # MSH-15: when to send a commit acknowledgement (AL, NE, ER, SU); "" none
    application_ack_type: str = ""  # MSH-16: when to send the application acknowledgement

    @property
    def type_key(self) -> str:
        return f"{self.message_type}^{self.trigger_event}"


@dataclass(frozen=True)
class Message:
    header: Header
    segments: tuple[Segment, ...]

    def all(self, segment_id: str) -> list[Segment]:
        return [s for s in self.segments if s.id == segment_id]

    def first(self, segment_id: str) -> Segment | None:
        return next((s for s in self.segments if s.id == segment_id), None)


def decode(raw: bytes) -> tuple[str, str]:
    """The message text and the codec used.

    MSH-18 (its first repetition) decides and is binding: bytes that are not valid in the declared
    character set, or a character set carepath does not read, raise :class:`MessageError` naming MSH-18.
    Without MSH-18: UTF-8, else ISO 8859-1 (which reads any byte)."""
    charset = declared_charset(raw)
    if not charset:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            return raw.decode("latin-1"), "latin-1"
    codec = _CHARSETS.get(charset.upper())
    where = Location("MSH", 1, 18)
    if codec is None:
        raise MessageError(
            f"MSH-18 character set {shown(charset)} is not read by carepath "
            f"(read: {', '.join(sorted(_CHARSETS))}; or leave MSH-18 empty for UTF-8)",
            TABLE_VALUE_NOT_FOUND,
            where,
        )
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError as exc:
        raise MessageError(
            f"MSH-18 declares {shown(charset)} but byte {exc.start} of the message is not valid {codec.upper()}: "
            "a declared character set is binding (send valid bytes, or correct MSH-18)",
            DATA_TYPE_ERROR,
            where,
        ) from None


def declared_charset(raw: bytes) -> str:
    """MSH-18's first repetition, first component, read from the raw header line (empty when absent)."""
    start = raw.find(b"MSH")
    if start < 0:
        return ""
    line = _LINE_END.split(raw[start:].decode("latin-1"), maxsplit=1)[0]
    if len(line) < 8:
        return ""
    sep = line[3]
    comp = line[4]
    rep = line[5] if len(line) > 5 and line[5] != sep else "~"
    fields = line.split(sep)
    if len(fields) <= 17:
        return ""
    return fields[17].split(rep)[0].split(comp)[0].strip()


def shown(value: str) -> str:
    """A value read from a message, fit to quote in an ACK or a log line: short and of a plain charset."""
    if _SHOWN_VALUE.match(value):
        return repr(value)
    return f"[{len(value)} characters not shown]"


def normalise(text: str) -> str:
    """Segments separated by ``\\r`` only, no blank lines, stray continuation lines joined up.

    Refuses what is not exactly one message: a batch (FHS/BHS/BTS/FTS anywhere), a second MSH."""
    start = text.find("MSH")
    lead = (text[:start] if start >= 0 else text).lstrip("\ufeff\x0b\r\n\t ")
    if lead.startswith(_BOUNDARY_SEGMENTS[1:]):
        raise MessageError(
            "HL7 batches are not accepted: send one message per MLLP frame", UNSUPPORTED_MESSAGE_TYPE
        )
    if start < 0:
        raise MessageError("not an HL7 v2 message: there is no MSH segment", REQUIRED_FIELD_MISSING)
    if start > 0 and text[:start].strip("\ufeff\x0b\x1c\r\n\t "):
        raise MessageError("not an HL7 v2 message: it does not begin with MSH", SEGMENT_SEQUENCE)
    text = text[start:].replace("\r\n", "\r").replace("\n", "\r")
    field_sep = text[3] if len(text) > 3 else "|"
    escape = text[6] if len(text) > 6 else "\\"
    lines: list[str] = []
    for line in text.split("\r"):
        if not line.strip():
            continue
        if lines and _is_boundary(line):
            _refuse_boundary(line.lstrip("\ufeff\x0b\t ")[:3], len(lines))
        is_segment = _SEGMENT_ID.match(line[:3]) is not None and (len(line) == 3 or line[3] == field_sep)
        if lines and not is_segment:
            lines[-1] += f"{escape}.br{escape}{line}"
            continue
        lines.append(line)
    return "\r".join(lines)


def _is_boundary(line: str) -> bool:
    """A line that starts a message or a batch: MSH/FHS/BHS/BTS/FTS and then any delimiter (not a letter)."""
    stripped = line.lstrip("\ufeff\x0b\t ")
    return stripped[:3] in _BOUNDARY_SEGMENTS and (len(stripped) == 3 or not stripped[3].isalnum())


def _refuse_boundary(segment_id: str, before: int) -> None:
    if segment_id != "MSH":
        raise MessageError(
            f"{segment_id} segment inside the message: HL7 batches are not accepted, "
            "send one message per MLLP frame",
            UNSUPPORTED_MESSAGE_TYPE,
            Location(segment_id),
        )
    raise MessageError(
        f"a second MSH after {before} segments: this frame holds more than one message, and none of "
        "them was stored; send each message in its own MLLP frame and wait for its ACK",
        SEGMENT_SEQUENCE,
        Location("MSH", 2),
    )


def read_header(text: str, encoding: str) -> Header:
    """MSH read by splitting the first line; works on a message that python-hl7 cannot parse.

    The line ends at the first CR or LF, whatever the message's separators: a header never holds the next
    segment."""
    line = _LINE_END.split(text, maxsplit=1)[0]
    if not line.startswith("MSH") or len(line) < 8:
        raise MessageError("MSH segment is missing or too short", REQUIRED_FIELD_MISSING, Location("MSH"))
    if not all(_is_delimiter(ch) for ch in line[3:5]):
        raise MessageError("MSH-1/MSH-2: the delimiters are not printable punctuation", DATA_TYPE_ERROR)
    sep = line[3]
    enc = line[4 : line.find(sep, 4)] if line.find(sep, 4) > 0 else line[4:]
    comp = enc[0] if enc else "^"
    esc = enc[2] if len(enc) > 2 else "\\"
    separators = (sep, comp, enc[1] if len(enc) > 1 else "~", enc[3] if len(enc) > 3 else "&", esc)
    fields = [sep, enc, *line.split(sep)[2:]]  # fields[n - 1] is MSH-n

    def msh(n: int, component: int = 1) -> str:
        if n - 1 >= len(fields):
            return ""
        rep = fields[n - 1].split(separators[2])[0]
        parts = rep.split(comp)
        return unescape(parts[component - 1], separators).strip() if component <= len(parts) else ""

    def hd(n: int) -> str:
        return msh(n, 1) or msh(n, 2)

    return Header(
        field_separator=sep,
        encoding_characters=enc,
        sending_application=hd(3),
        sending_facility=hd(4),
        receiving_application=hd(5),
        receiving_facility=hd(6),
        timestamp=msh(7),
        message_type=msh(9, 1).upper(),
        trigger_event=msh(9, 2).upper(),
        structure=msh(9, 3).upper(),
        control_id=msh(10),
        processing_id=msh(11),
        version=msh(12),
        charset=msh(18),
        encoding=encoding,
        accept_ack_type=msh(15).upper(),
        application_ack_type=msh(16).upper(),
    )


def sniff_header(raw: bytes) -> Header | None:
    """The header of a message that could not be read in full (for the ACK), or None.

    Reads the first MSH line wherever it is, even in input that is refused (bytes before it, a second
    message after it, bytes not valid in its character set), so the ACK can still answer its MSH-10."""
    try:
        text, encoding = decode(raw)
    except MessageError:
        text, encoding = raw.decode("latin-1"), "utf-8"
    start = text.find("MSH")
    if start < 0:
        return None
    try:
        return read_header(text[start:], encoding)
    except MessageError:
        return None


def _is_delimiter(ch: str) -> bool:
    return ch.isascii() and ch.isprintable() and not ch.isalnum() and ch != " "


def parse_message(raw: bytes) -> Message:
    text, encoding = decode(raw)
    text = normalise(text)
    header = read_header(text, encoding)
    try:
        parsed = hl7.parse(text)
    except Exception as exc:  # python-hl7 raises several types for malformed input
        raise MessageError(f"message cannot be parsed: {exc}", DATA_TYPE_ERROR) from None
    separators = _separators(header)
    counts: dict[str, int] = {}
    segments: list[Segment] = []
    for seg in parsed:
        fields = [_plain_field(f, separators) for f in seg]
        seg_id = fields[0][0][0][0] if fields and fields[0] and fields[0][0] and fields[0][0][0] else ""
        if seg_id == "MSH":  # MSH-1 and MSH-2 are the delimiters themselves, never unescaped
            fields[1] = (((header.field_separator,),),)
            fields[2] = (((header.encoding_characters,),),)
        counts[seg_id] = counts.get(seg_id, 0) + 1
        segments.append(Segment(seg_id, counts[seg_id], tuple(fields)))
    return Message(header, tuple(segments))


def unescape(value: str, separators: tuple[str, str, str, str, str]) -> str:
    """Resolve HL7 escape sequences: delimiters, hexadecimal bytes and line breaks."""
    field_sep, comp, rep, sub, esc = separators
    if esc not in value:
        return value
    table = {"F": field_sep, "S": comp, "R": rep, "T": sub, "E": esc}
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        end = value.find(esc, i + 1) if ch == esc else -1
        if end < 0:
            out.append(ch)
            i += 1
            continue
        seq = value[i + 1 : end]
        if seq in table:
            out.append(table[seq])
        elif seq[:3] in _LINE_BREAK_ESCAPES:
            out.append("\n")
        elif seq.startswith("X") and len(seq) > 1:
            with contextlib.suppress(ValueError):
                out.append(bytes.fromhex(seq[1:]).decode("latin-1"))
        # anything else (highlighting, character-set switches, formatting) carries no content here
        i = end + 1
    return "".join(out)


def _separators(header: Header) -> tuple[str, str, str, str, str]:
    enc = header.encoding_characters
    return (
        header.field_separator,
        enc[0] if enc else "^",
        enc[1] if len(enc) > 1 else "~",
        enc[3] if len(enc) > 3 else "&",
        enc[2] if len(enc) > 2 else "\\",
    )


def _plain_field(node: object, separators: tuple[str, str, str, str, str]) -> Repetitions:
    """python-hl7's Field/Repetition/Component/str tree as plain tuples, unescaped."""
    if isinstance(node, str):
        return (((unescape(node, separators),),),)
    reps: list[Components] = []
    for rep in node:  # type: ignore[attr-defined]
        if isinstance(rep, str):
            reps.append(((unescape(rep, separators),),))
            continue
        comps: list[Subcomponents] = []
        for comp in rep:
            if isinstance(comp, str):
                comps.append((unescape(comp, separators),))
            else:
                comps.append(tuple(unescape(str(s), separators) for s in comp))
        reps.append(tuple(comps))
    return tuple(reps)
