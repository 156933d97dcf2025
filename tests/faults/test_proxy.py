"""The fault proxy itself: each fault does what it says, against the real S3 server."""

from __future__ import annotations

import pytest

from pitstop.errors import PreconditionFailed, StoreError
from pitstop.store.objects import S3Store
from tests.faults.proxy import FaultProxy, Rule


@pytest.fixture
def proxy(moto_server):  # type: ignore[no-untyped-def]
    p = FaultProxy(moto_server.port).start()
    yield p
    p.close()


def _store(proxy: FaultProxy, bucket: str) -> S3Store:
    return S3Store(bucket, region="us-east-1", endpoint_url=proxy.endpoint)


def test_a_dropped_reply_took_effect_and_its_retry_sees_412(proxy, bucket) -> None:
    store = _store(proxy, bucket)
    etag = store.put("k", b"one")
    proxy.add(Rule("drop_reply", method="PUT", key=r"/k$"))
    # the first PUT lands, its reply is lost; botocore retries it and gets 412 (ETag moved)
    with pytest.raises(PreconditionFailed):
        store.put("k", b"two", if_match=etag)
    assert store.get("k").body == b"two"
    assert proxy.injected["drop_reply"] == 1


def test_reset_requests_never_reach_the_server(proxy, bucket, s3_endpoint) -> None:
    store = _store(proxy, bucket)
    proxy.add(Rule("reset", method="PUT", key=r"/gone$", times=10))
    with pytest.raises(StoreError):
        store.put("gone", b"x")
    assert proxy.injected["reset"] >= 2  # the client retried, each try was cut before S3
    direct = S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)
    assert direct.head("gone") is None


def test_cut_refuses_and_restore_serves_again(proxy, bucket) -> None:
    store = _store(proxy, bucket)
    store.put("a", b"1")
    proxy.cut()
    with pytest.raises(StoreError):
        store.get("a")
    proxy.restore()
    assert store.get("a").body == b"1"
