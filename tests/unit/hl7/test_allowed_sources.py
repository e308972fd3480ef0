"""The MLLP listener's source allow-list: a connection from an address outside it is closed before a byte
is read, and counted; one from inside it is served, and what it sends is stamped with the name of its entry
(``name=address``). A real listener on loopback, a real socket."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network

import pytest
from prometheus_client import REGISTRY

from intake.hl7.handler import Hl7Intake
from intake.hl7.server import MllpServer
from intake.publisher import MemoryPublisher
from intake.settings import IntakeSettings
from tests.unit.hl7 import samples

pytestmark = pytest.mark.unit


async def exchange(server: MllpServer, message: str) -> bytes:
    await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"\x0b" + message.encode() + b"\x1c\r")
            await writer.drain()
            return await asyncio.wait_for(reader.read(65536), timeout=10)
        except ConnectionResetError:  # the listener aborted the connection
            return b""
        finally:
            writer.close()
    finally:
        await server.close()


def refused() -> float:
    return REGISTRY.get_sample_value("carepath_intake_mllp_sources_refused_total") or 0.0


@pytest.mark.parametrize(
    ("allowed", "served"),
    [
        ((), True),
        (("127.0.0.1/32",), True),
        (("10.1.5.0/28", "127.0.0.0/8"), True),
        (("10.1.5.0/28",), False),
    ],
)
def test_only_listed_sources_are_served(handler: Hl7Intake, allowed: tuple[str, ...], served: bool) -> None:
    server = MllpServer(handler, 1 << 20, allowed_sources=[ip_network(a) for a in allowed])
    before = refused()
    answer = asyncio.run(exchange(server, samples.oru_pain("ALLOW-1", "MRN-A1")))
    if served:
        assert b"MSA|AA|ALLOW-1" in answer
        assert refused() == before
    else:
        assert answer == b""  # closed before anything was read: no ACK, nothing stored
        assert refused() == before + 1


def test_the_setting_names_a_bad_entry() -> None:
    good = IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES="10.1.4.20, 10.1.5.0/28")
    assert [str(n) for n in good.mllp_allowed_networks] == ["10.1.4.20/32", "10.1.5.0/28"]
    with pytest.raises(ValueError, match="'engine-1' is not an IP address or network"):
        IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES="10.1.4.20,engine-1")


@pytest.mark.parametrize(
    ("allowed", "names", "sender"),
    [
        ((), (), "mllp"),  # no allow-list: every source is "mllp"
        (("10.1.5.0/28", "127.0.0.0/8"), ("rhapsody", "mirth-north"), "mirth-north"),
        (("10.1.5.0/28", "127.0.0.0/8"), ("rhapsody",), "mllp-2"),  # unnamed: by position
    ],
)
def test_what_a_source_sends_is_stamped_with_its_name(
    handler: Hl7Intake,
    publisher: MemoryPublisher,
    allowed: tuple[str, ...],
    names: tuple[str, ...],
    sender: str,
) -> None:
    server = MllpServer(
        handler, 1 << 20, allowed_sources=[ip_network(a) for a in allowed], source_names=names
    )
    answer = asyncio.run(exchange(server, samples.oru_pain("NAMED-1", "MRN-N1")))
    assert b"MSA|AA|NAMED-1" in answer
    assert publisher.records
    assert {dict(r.headers)["carepath-sender"] for r in publisher.records} == {sender.encode()}


def test_the_setting_names_each_source() -> None:
    named = IntakeSettings(
        environment="test", CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES="mirth-north=10.1.4.20, 10.1.5.0/28"
    )
    assert [str(n) for n in named.mllp_allowed_networks] == ["10.1.4.20/32", "10.1.5.0/28"]
    assert named.mllp_source_names == ("mirth-north", "mllp-2")
    with pytest.raises(ValueError, match="'Mirth North' is not a source name"):
        IntakeSettings(environment="test", CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES="Mirth North=10.1.4.20")
    with pytest.raises(ValueError, match="'mirth' is given twice"):
        IntakeSettings(
            environment="test", CAREPATH_INTAKE_MLLP_ALLOWED_SOURCES="mirth=10.1.4.20,mirth=10.1.4.21"
        )
