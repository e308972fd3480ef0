"""What the fuzzer holds intake's answers to, decided from the input and the published rules only.

- **A reason with every refusal.** An HTTP 4xx names it: a non-empty ``detail`` (FastAPI), ``error``
  (``/v1/events`` 422) or an OperationOutcome whose issues carry diagnostics. An HL7 AE/AR ACK carries
  MSA-3 or an ERR segment with its text (ERR-8) or a code (ERR-3).
- **Nothing malformed accepted.** What intake acknowledges must be valid by the published rules, checked
  here without intake's code:

  - ``/v1/events`` 2xx: strict JSON (UTF-8, no key written twice, objects and arrays at most 64 deep), an
    event or a non-empty array of events, each valid by the contract (``carepath.contracts.validate_event``
    restricted to the input types: the JSON Schemas in ``schemas/`` and the cross-field rules);
  - ``/fhir/...`` 2xx: strict JSON, and every resource answered 200/201 (the body, or a Bundle entry whose
    ``response.status`` is 2xx) valid by its FHIR R4B model;
  - HL7 AA: one message, its bytes valid in the character set MSH-18 declares (none declared: UTF-8 or
    ISO 8859-1), beginning ``MSH`` and its delimiters, parsed by python-hl7, with a message type (MSH-9),
    control id (MSH-10) and a patient identifier (PID-3).

  A mutant that still meets these is a valid input that happened to be mutated (a byte flipped in free
  text, say) and its acceptance is correct.
- **Everything stored is valid.** At the end every record on ``clinical.events`` must pass the contract.
"""

from __future__ import annotations

import json
from typing import Any

import hl7  # type: ignore[import-untyped]
import orjson
from fhir.resources.R4B import get_fhir_model_class

from carepath import contracts

MAX_DEPTH = 64


class Malformed(ValueError):
    """Why an input intake acknowledged is not valid."""


def http_reason(status: int, body: bytes) -> str | None:
    """The reason a 4xx names, or None when it names none."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    if doc.get("resourceType") == "OperationOutcome":
        texts = [
            str(i.get("diagnostics") or (i.get("details") or {}).get("text") or "")
            for i in doc.get("issue", [])
            if isinstance(i, dict)
        ]
        return "; ".join(t for t in texts if t) or None
    for key in ("detail", "error"):
        value = doc.get(key)
        if value:
            return value if isinstance(value, str) else json.dumps(value)[:300]
    return None


def ack_code(ack: bytes) -> tuple[str, str | None]:
    """(MSA-1, the reason an AE/AR gives or None), read with the ACK's own field separator (MSH-1: intake
    answers in the separators of the message it answers)."""
    text = ack.decode("utf-8", errors="replace").lstrip("\x0b")
    if not text.startswith("MSH") or len(text) < 4:
        return "?", None
    sep = text[3]
    segments = [s for s in text.replace("\n", "\r").split("\r") if s]
    code, reason = "?", None
    for seg in segments:
        fields = seg.split(sep)
        if fields[0] == "MSA":
            code = fields[1] if len(fields) > 1 else "?"
            if len(fields) > 3 and fields[3]:
                reason = fields[3]
        elif fields[0] == "ERR" and reason is None:
            text8 = fields[8] if len(fields) > 8 else ""
            code3 = fields[3] if len(fields) > 3 else ""
            reason = text8 or code3 or None
    return code, reason


# -- accepted inputs -----------------------------------------------------------------------------------------


def strict_json(body: bytes) -> Any:
    """The document, or Malformed: not UTF-8, not JSON, a key twice in one object, nested too deep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise Malformed("a key written twice in one object")
        return dict(items)

    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_constant=_no_constant)
    except RecursionError:
        raise Malformed("nested too deep") from None
    except json.JSONDecodeError as exc:
        raise Malformed(f"not JSON ({exc.msg})") from None
    if _depth(doc) > MAX_DEPTH:
        raise Malformed(f"nested more than {MAX_DEPTH} deep")
    return doc


def _no_constant(name: str) -> Any:
    raise Malformed(f"not JSON ({name})")


def _depth(node: Any) -> int:
    if isinstance(node, dict):
        return 1 + max((_depth(v) for v in node.values()), default=0)
    if isinstance(node, list):
        return 1 + max((_depth(v) for v in node), default=0)
    return 0


def check_events(body: bytes) -> None:
    doc = strict_json(body)
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise Malformed("an empty array")
    for n, item in enumerate(items):
        errors = contracts.validate_event(item, allowed=contracts.INPUT_TYPES)
        if errors:
            raise Malformed(f"event {n}: {errors[0].field or '(root)'} is invalid by the contract")


def check_fhir(body: bytes, answer: bytes) -> None:
    doc = strict_json(body)
    if not isinstance(doc, dict):
        raise Malformed("not a JSON object")
    if doc.get("resourceType") != "Bundle":
        _valid_resource(doc, "the resource")
        return
    _valid_resource({k: v for k, v in doc.items() if k != "entry"}, "the Bundle")
    try:
        response = orjson.loads(answer)
    except orjson.JSONDecodeError:
        raise Malformed("a 2xx answer that is not JSON") from None
    entries = doc.get("entry")
    answered = response.get("entry", []) if isinstance(response, dict) else []
    if not isinstance(entries, list) or len(answered) != len(entries):
        raise Malformed("a Bundle whose answer does not give one entry per entry sent")
    for n, (sent, got) in enumerate(zip(entries, answered, strict=True)):
        status = str(((got or {}).get("response") or {}).get("status", ""))
        if status.startswith("2"):
            resource = sent.get("resource") if isinstance(sent, dict) else None
            if not isinstance(resource, dict):
                raise Malformed(f"entry {n} accepted without a resource")
            _valid_resource(resource, f"entry {n}")


def _valid_resource(doc: dict[str, Any], what: str) -> None:
    kind = doc.get("resourceType")
    if not isinstance(kind, str):
        raise Malformed(f"{what} has no resourceType")
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError, LookupError):
        raise Malformed(f"{what} is no FHIR R4B type") from None
    try:
        model.model_validate(doc)
    except Exception as exc:  # pydantic's ValidationError and the models' own faults alike
        raise Malformed(f"{what} is not a valid R4B {kind} ({type(exc).__name__})") from None


# The character sets MSH-18 may name (HL7 table 0211, those carepath reads) and their codecs.
CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UNICODE": "utf-8",
    "ASCII": "utf-8",
    "ISO IR6": "utf-8",
    "8859/1": "latin-1",
    "ISO IR100": "latin-1",
}


def check_hl7(message: bytes) -> None:
    """One HL7 v2 message by the published reading rules (docs of ``intake.hl7.message``): MSH-18 binding
    when present (the bytes valid in it), else UTF-8 or ISO 8859-1; a UTF-8 byte-order mark or blank
    before MSH tolerated; any delimiters MSH declares; one MSH; python-hl7 parses it; MSH-9, MSH-10 and
    PID-3 present."""
    head = message.decode("latin-1").lstrip("\ufeff\x0b\r\n\t ")
    if message.startswith(b"\xef\xbb\xbf"):
        head = message[3:].decode("latin-1").lstrip("\x0b\r\n\t ")
    if not head.startswith("MSH") or len(head) < 8:
        raise Malformed("does not begin with MSH and its delimiters")
    sep = head[3]
    if not (sep.isascii() and sep.isprintable() and not sep.isalnum() and sep != " "):
        raise Malformed("MSH-1 is not a delimiter")
    first_line = head.replace("\n", "\r").split("\r", 1)[0]
    fields = first_line.split(sep)
    charset = (
        fields[17].split(head[5] if head[5] != sep else "~")[0].split(head[4])[0].strip()
        if len(fields) > 17
        else ""
    )
    if charset:
        codec = CHARSETS.get(charset.upper())
        if codec is None:
            raise Malformed("MSH-18 names a character set not read")
        try:
            text = message.decode(codec)
        except UnicodeDecodeError:
            raise Malformed("bytes not valid in the character set MSH-18 declares") from None
    else:
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            text = message.decode("latin-1")
    text = text.lstrip("\ufeff\x0b\r\n\t ")
    if "\x0b" in text or "\x1c" in text:
        raise Malformed("holds MLLP block characters")
    segments = [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip()]
    if sum(s.startswith("MSH" + sep) for s in segments) != 1:
        raise Malformed("not exactly one MSH segment")
    try:
        parsed = hl7.parse("\r".join(segments))
        msh = parsed.segment("MSH")
        type_, control = str(msh(9)).strip(), str(msh(10)).strip()
    except Exception as exc:
        raise Malformed(f"python-hl7 cannot parse it ({type(exc).__name__})") from None
    if not type_ or not control:
        raise Malformed("MSH-9 or MSH-10 is empty")
    try:
        pid = parsed.segment("PID")
        patient = str(pid(3)).strip()
    except Exception:
        raise Malformed("no PID segment with PID-3") from None
    if not patient:
        raise Malformed("PID-3 is empty")


def stored_event_errors(record: Any) -> str | None:
    errors = contracts.validate_event(record)
    return f"{errors[0].field or '(root)'} is invalid by the contract" if errors else None
