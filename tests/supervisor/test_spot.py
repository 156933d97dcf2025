"""The IMDSv2 spot source against a local metadata server: notices, de-duplication, errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pitstop.errors import ImdsError
from pitstop.supervisor.spot import Imds, ImdsSpotSource
from tests.servers import FakeImds


@pytest.fixture
def imds() -> Iterator[FakeImds]:
    server = FakeImds()
    yield server
    server.close()


def test_no_event_is_no_notice(imds: FakeImds) -> None:
    src = ImdsSpotSource(Imds(imds.endpoint))
    assert src.poll() == [] and src.poll() == []
    assert imds.tokens_issued == 1  # one token, reused until it nears expiry


def test_interruption_notice_is_reported_once(imds: FakeImds) -> None:
    src = ImdsSpotSource(Imds(imds.endpoint))
    imds.notice("stop")
    first = src.poll()
    assert [(n.kind, n.action, n.time) for n in first] == [
        ("interruption", "stop", "2026-11-21T12:00:00Z")
    ]
    assert src.poll() == []  # de-duplicated


def test_rebalance_recommendation(imds: FakeImds) -> None:
    src = ImdsSpotSource(Imds(imds.endpoint))
    imds.rebalance = {"noticeTime": "2026-11-21T11:50:00Z"}
    assert [(n.kind, n.time) for n in src.poll()] == [("rebalance", "2026-11-21T11:50:00Z")]


def test_server_error_is_an_error_never_a_notice(imds: FakeImds) -> None:
    src = ImdsSpotSource(Imds(imds.endpoint))
    imds.mode = "500"
    with pytest.raises(ImdsError, match="HTTP 500"):
        src.poll()


def test_slow_service_times_out_after_two_seconds(imds: FakeImds) -> None:
    src = ImdsSpotSource(Imds(imds.endpoint))
    src.poll()  # token first
    imds.mode = "slow"
    t0 = time.monotonic()
    with pytest.raises(ImdsError):
        src.poll()
    assert time.monotonic() - t0 < 4.5  # the 2 s timeout, not the 5 s answer


def test_service_down_is_an_error() -> None:
    with pytest.raises(ImdsError, match="token request failed"):
        ImdsSpotSource(Imds("http://127.0.0.1:9")).poll()


def test_expired_token_is_refreshed(imds: FakeImds) -> None:
    src = ImdsSpotSource(Imds(imds.endpoint))
    src.poll()
    imds.mode = "expire"
    imds.notice()
    assert [n.action for n in src.poll()] == ["terminate"]
    assert imds.tokens_issued == 2


def test_token_is_refreshed_before_its_ttl(imds: FakeImds) -> None:
    client = Imds(imds.endpoint, token_ttl_s=1)
    src = ImdsSpotSource(client)
    src.poll()
    deadline = time.monotonic() + 5
    while imds.tokens_issued < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        src.poll()
    assert imds.tokens_issued >= 2


def test_malformed_notice_is_an_error(imds: FakeImds) -> None:
    src = ImdsSpotSource(Imds(imds.endpoint))
    imds.action = {"unexpected": "shape"}
    with pytest.raises(ImdsError, match="unreadable"):
        src.poll()


def test_market_auto_is_read_from_instance_life_cycle(imds: FakeImds) -> None:
    from pitstop.config import Settings
    from pitstop.supervisor.runtime import resolve_market

    auto = Settings(bucket="bucket", market="auto")
    assert resolve_market(auto, Imds(imds.endpoint)).market == "spot"  # no answer: spot
    imds.life_cycle = "on-demand"
    assert resolve_market(auto, Imds(imds.endpoint)).market == "on-demand"
    imds.life_cycle = "spot"
    assert resolve_market(auto, Imds(imds.endpoint)).market == "spot"
    imds.life_cycle = "on-demand"
    fixed = Settings(bucket="bucket", market="spot")  # a set market is never asked about
    assert resolve_market(fixed, Imds(imds.endpoint)).market == "spot"
