"""The log pipeline has no bypass: carepath's own lines and every third-party library's lines come out as
one JSON object each, with patient identifiers and input-derived text withheld."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
import structlog

from carepath import logs

pytestmark = pytest.mark.unit

NHS_NUMBER = "9434765919"
MRN = "RX1234567"
NAME = "MARKEDNAME"


@pytest.fixture(autouse=True)
def _unconfigured_after() -> Iterator[None]:
    """``logs.configure`` binds the stderr of the moment - here pytest's capture, closed after the test:
    later tests must not write to it."""
    yield
    structlog.reset_defaults()
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "root": {"handlers": []}})


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    config = logs.logging_config("info")
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)
    yield stream
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False, "root": {"handlers": []}})


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_http_client_request_line_naming_a_patient_is_not_written(captured: io.StringIO) -> None:
    logging.getLogger("httpx").info(
        'HTTP Request: GET http://127.0.0.1:6067/v1/patients/%s/targets/esc-1 "HTTP/1.1 200 OK"', NHS_NUMBER
    )
    assert captured.getvalue() == ""


def test_a_third_party_warning_is_json_with_urls_quotes_and_numbers_withheld(captured: io.StringIO) -> None:
    logging.getLogger("aiokafka.consumer").warning(
        "fetch failed for key %r at http://broker:9092/v1/patients/%s?name=%s\nnext line %s",
        NAME,
        MRN,
        NAME,
        NHS_NUMBER,
    )
    [line] = lines(captured)
    assert line["logger"] == "aiokafka.consumer" and line["level"] == "warning"
    text = json.dumps(line)
    assert NAME not in text and MRN not in text and NHS_NUMBER not in text
    assert "http://broker:9092/[withheld]" in str(line["event"]) and "\n" not in str(line["event"])


def test_a_third_party_exception_keeps_its_type_and_frames_not_its_message(captured: io.StringIO) -> None:
    try:
        raise ValueError(f"bad value for patient {NHS_NUMBER}")
    except ValueError:
        logging.getLogger("faust.agents").exception("agent crashed")
    [line] = lines(captured)
    assert line["error"] == "ValueError" and NHS_NUMBER not in json.dumps(line)
    assert any(
        f.endswith(" test_a_third_party_exception_keeps_its_type_and_frames_not_its_message")
        for f in line["frames"]
    )


def test_third_party_info_lines_are_held_back_but_warnings_pass(captured: io.StringIO) -> None:
    logging.getLogger("faust.worker").info("starting")
    logging.getLogger("mode.timers").warning("timer drift")
    assert [line["event"] for line in lines(captured)] == ["timer drift"]


def test_a_long_foreign_message_is_bounded() -> None:
    assert len(logs.scrub("x" * 100_000)) <= logs.FOREIGN_MESSAGE_LIMIT


@pytest.mark.parametrize(
    ("value", "logged"),
    [
        ("MSG00001", "MSG00001"),
        ("ORU^R01", "ORU^R01"),
        ("72514-3", "72514-3"),
        ("A" * 65, "[invalid:65]"),
        ("MSG1\nPID|1||9434765919^^^NHS", "[invalid:28]"),
        ("JOHN SMITH", "[invalid:10]"),
        ("", "[invalid:0]"),
        (None, "[invalid:0]"),
    ],
)
def test_values_read_from_input_are_logged_only_as_bounded_tokens(value: object, logged: str) -> None:
    assert logs.token(value) == logged


def test_a_forbidden_key_is_withheld_from_carepath_lines(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("test", "info")
    logs.get("t").info("something", patient_id=NHS_NUMBER, note=NAME, count=2)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["patient_id"] == "[withheld]" and line["note"] == "[withheld]" and line["count"] == 2


def test_an_exception_logged_by_carepath_keeps_its_type_and_frames_not_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("test", "info")
    try:
        raise KeyError(f"no such patient {NHS_NUMBER}")
    except KeyError:
        logs.get("t").exception("lookup failed")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["error"] == "KeyError" and line["frames"] and NHS_NUMBER not in json.dumps(line)


@pytest.mark.parametrize(
    "message",
    [
        # kafka-python's producer at debug level: the record's key and value as bytes reprs, quotes escaped
        "Sending (key=b'%s' value=b'{\"note\": \"%s it\\'s\", \"x\": \\'%s\\'}' headers=[]) to TopicPartition()",
        # a request dump whose payload runs past the part of the message that is read
        "ProduceRequest(records=bytearray(b'\\x00\\x01%s%s%s" + "x" * 5000 + "'))",
        # a quote that never closes
        "value='%s %s %s",
    ],
)
def test_payloads_that_kafka_clients_log_at_debug_level_are_withheld_whole(message: str) -> None:
    scrubbed = logs.scrub(message % (MRN, NAME, NHS_NUMBER))
    assert MRN not in scrubbed and NAME not in scrubbed and NHS_NUMBER not in scrubbed
    assert "[withheld]" in scrubbed


def test_an_apostrophe_inside_a_word_opens_no_quote() -> None:
    assert (
        logs.scrub("Can't reach the group's coordinator 'x1' now")
        == "Can't reach the group's coordinator [withheld] now"
    )


def test_a_person_is_logged_as_a_pseudonym_never_as_the_identifier() -> None:
    subject = "jane.doe@northgate.nhs.uk"
    logged = logs.pseudonym(subject)
    assert logged.startswith("sha256:") and "jane" not in logged and "@" not in logged
    assert logged == logs.pseudonym(subject) != logs.pseudonym("john.roe@northgate.nhs.uk")


RACE = """
import logging, threading
from carepath import logs
logs.configure("race", "info")
std, own = logging.getLogger("kafka.conn"), logs.get("race")
def third_party():
    for i in range(3000): std.warning("standard library line %d", i)
def carepath():
    for i in range(3000): own.info("carepath line", n=i)
threads = [threading.Thread(target=f) for f in (third_party, carepath, third_party, carepath)]
[t.start() for t in threads]; [t.join() for t in threads]
"""


def test_lines_from_two_threads_and_two_loggers_never_share_a_line() -> None:
    # carepath's lines and a library's (kafka-python logs from its own I/O thread) go to one stream; a
    # line written in two parts lets the other's land between them: two JSON objects on one line.
    import os
    import subprocess
    import sys

    env = {**os.environ, "CAREPATH_ENVIRONMENT": "development"}
    done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=60, env=env)
    lines = done.stderr.splitlines()
    assert len(lines) == 12_000, done.stderr[-500:]
    for line in lines:
        json.loads(line)
