"""Every record carepath writes says what it holds in a ``content-type`` header, named per topic in the
catalogue: the CloudEvents Kafka protocol binding (structured mode) on every topic an event type is
published to, plain JSON on the dead-letter and parked topics. (The records themselves are checked on a
running pipeline: tests/e2e/test_pipeline.py, and the notifier's dead letters in
tests/integration/test_notifier.py.)"""

from __future__ import annotations

import pytest

from carepath import contracts, topics
from intake.publisher import Record

pytestmark = pytest.mark.contract

CLOUDEVENTS = ("content-type", b"application/cloudevents+json; charset=UTF-8")
PLAIN_JSON = ("content-type", b"application/json; charset=UTF-8")


def test_every_topic_of_an_event_type_carries_the_cloudevents_structured_content_type() -> None:
    event_topics = {contracts.topic_for(t) for t in contracts.INPUT_TYPES | contracts.OUTPUT_TYPES}
    assert {
        topics.CLINICAL_EVENTS,
        topics.ACKNOWLEDGEMENTS,
        topics.ESCALATIONS,
        topics.REMINDERS,
    } <= event_topics
    for topic in event_topics | {topics.ESCALATIONS_SHADOW}:
        assert topics.headers(topic) == (CLOUDEVENTS,), topic


def test_every_other_topic_says_plain_json() -> None:
    event_topics = {contracts.topic_for(t) for t in contracts.INPUT_TYPES | contracts.OUTPUT_TYPES}
    others = {s.name for s in topics.catalogue()} - event_topics - {topics.ESCALATIONS_SHADOW}
    assert others == {topics.CLINICAL_EVENTS_DLQ, topics.CLINICAL_EVENTS_PARKED, "care.notifications.dlq"}
    for topic in others:
        assert topics.headers(topic) == (PLAIN_JSON,), topic


def test_a_topic_outside_the_catalogue_has_no_headers_to_give() -> None:
    with pytest.raises(ValueError, match=r"'care\.elsewhere' is not in the topic catalogue"):
        topics.headers("care.elsewhere")


def test_intake_records_take_their_topic_s_headers() -> None:
    assert Record(topics.CLINICAL_EVENTS, b"p", b"{}").headers == (CLOUDEVENTS,)
    assert Record(topics.CLINICAL_EVENTS_DLQ, None, b"{}").headers == (PLAIN_JSON,)
    assert topics.header_list(topics.REMINDERS) == [CLOUDEVENTS]
