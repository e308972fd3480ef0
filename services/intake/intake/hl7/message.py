"""An HL7 v2 message as carepath reads it.

The bytes are decoded (MSH-18 names the character set; UTF-8 is tried first when it is silent, then ISO 8859-1),
``\\r\\n`` and ``\\n`` segment separators are normalised to ``\\r``, and python-hl7 parses the text. The parse
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
    UNSUPPORTED_MESSAGE_TYPE,
    Location,
)

Subcomponents = tuple[str, ...]
Components = tuple[Subcomponents, ...]
Repetitions = tuple[Components, ...]

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "ASCII": "utf-8",  # ASCII is a subset: a stray UTF-8 byte sequence is read rather than refused
}
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
    """The message text and the codec used: MSH-18 decides; without it UTF-8, else ISO 8859-1."""
    start = raw.find(b"MSH")
    first_line = raw[start if start >= 0 else 0 :].split(b"\r", 1)[0].split(b"\n", 1)[0]
    sniffed = first_line.decode("latin-1")
    charset = ""
    if len(sniffed) > 3:
        fields = sniffed.split(sniffed[3])
        charset = (
            fields[17].split(sniffed[4] if len(sniffed) > 4 else "^")[0].strip() if len(fields) > 17 else ""
        )
    codec = _CHARSETS.get(charset.upper(), "") if charset else ""
    for candidate in [codec] if codec and codec != "utf-8" else ["utf-8", "latin-1"]:
        try:
            return raw.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"


def normalise(text: str) -> str:
    """Segments separated by ``\\r`` only, no blank lines, stray continuation lines joined up."""
    if text.lstrip("\ufeff\x0b\r\n\t ").startswith(("FHS", "BHS")):
        raise MessageError(
            "HL7 batches are not accepted: send one message per MLLP frame", UNSUPPORTED_MESSAGE_TYPE
        )
    start = text.find("MSH")
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
        is_segment = _SEGMENT_ID.match(line[:3]) is not None and (len(line) == 3 or line[3] == field_sep)
        if lines and not is_segment:
            lines[-1] += f"{escape}.br{escape}{line}"
            continue
        lines.append(line)
    return "\r".join(lines)


def read_header(text: str, encoding: str) -> Header:
    """MSH read by splitting the first line; works on a message that python-hl7 cannot parse."""
    line = text.split("\r", 1)[0]
    if not line.startswith("MSH") or len(line) < 8:
        raise MessageError("MSH segment is missing or too short", REQUIRED_FIELD_MISSING, Location("MSH"))
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
    )


def sniff_header(raw: bytes) -> Header | None:
    """The header of a message that could not be read in full (for the ACK), or None."""
    try:
        text, encoding = decode(raw)
        return read_header(normalise(text), encoding)
    except MessageError:
        return None


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
