"""Claim-index keys that name no job (issue 22, item 6): what 2,000 of them cost a supervisor.

Whoever can write ``index/`` can write ``index/claimable/1-CREATED-ID`` keys for jobs that do
not exist, older than any real job so they come first. Before the fix each idle tick read
the ``state.json`` of every one of them and none was ever removed (the issue measured 4,006
GETs and 69.5 s before a real job was claimed). This prints, against moto's S3 server on
loopback, with an in-process ``Supervisor`` (its ``S3Store`` counts requests by operation):

- before: what one idle tick cost with the old claim path (one GET per key), emulated;
- boot: a fresh supervisor, 2,000 forged keys and one real job: the claim latency and the
  requests before the claim (its first tick is a full scan: one listing of ``jobs/``
  answers for every key), next to the same with no forged key (the tick that claims also
  starts the trainer process);
- running: an idle supervisor past its full scan; 2,000 forged keys appear with a real job:
  the time from the job's submission to its claim (ticks every ``--poll`` s), and the
  requests of the claiming tick;
- later ticks: while the forged keys wait for deletion (listed, never read) and after it;
  the clean-up itself: one DELETE per key, in rounds that found nothing to claim.

    python benchmarks/forged_claims.py [--forged 2000] [--poll 0.2]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from _common import REWARD
from tests.servers import MotoServer

from pitstop.config import load_settings
from pitstop.core.states import JobState
from pitstop.errors import NotFound
from pitstop.intake import Submission, build_spec, defaults
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.simulated import SimulatedTrainer

FORGED_CREATED = "20000101T000000000Z"  # older than any real job: the keys sort first


def new_bucket(endpoint: str) -> str:
    bucket = f"bench-forged-{uuid.uuid4().hex[:8]}"
    S3Store(bucket, region="us-east-1", endpoint_url=endpoint)._s3.create_bucket(Bucket=bucket)
    return bucket


def supervisor(endpoint: str, bucket: str, work: Path, poll_s: float) -> Supervisor:
    settings = load_settings(
        None,
        bucket=bucket,
        s3_endpoint_url=endpoint,
        trainer="simulated",
        state_dir=work / bucket,
        instance_id="i-bench",
        poll_interval_s=poll_s,
        stall_timeout_s=60.0,
        startup_grace_s=60.0,
        heartbeat_interval_s=5.0,
        lease_ttl_s=300.0,  # one full scan, at the first tick
        reboot_command="true",
        shutdown_command="true",
    )
    return Supervisor(
        settings,
        S3Store.from_settings(settings),
        SimulatedTrainer(),
        "i-bench",
        spot=NoInterruptions(),
        commands=lambda argv: 0,
    )


def forge(endpoint: str, bucket: str, n: int) -> list[str]:
    store = S3Store(bucket, region="us-east-1", endpoint_url=endpoint)
    lay = Layout("pitstop")
    keys = [lay.claim_key(1, FORGED_CREATED, f"forged-{i:05d}") for i in range(n)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put(k, b""), keys))
    return keys


def real_job(endpoint: str, bucket: str) -> str:
    jobs = JobStore(S3Store(bucket, region="us-east-1", endpoint_url=endpoint), Layout("pitstop"))
    files = {"reward_function.py": REWARD + f"# {uuid.uuid4().hex}\n".encode(), **defaults()}
    sim = {"checkpoint_interval_s": 0.1, "checkpoints": 1}
    spec = build_spec(Submission(name="real", files=files, fields={"simulation": sim}))
    jobs.create(spec, files)
    return spec.id


def requests(sup: Supervisor) -> Counter[str]:
    return sup.store.requests  # type: ignore[attr-defined,no-any-return]


def fmt(c: Counter[str]) -> str:
    short = {"list_objects_v2": "list", "get_object": "GET", "put_object": "PUT"}
    short |= {"delete_object": "DELETE", "head_object": "HEAD", "copy_object": "COPY"}
    parts = [f"{short.get(k, k)} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])]
    return f"{sum(c.values())} ({', '.join(parts)})"


def before(endpoint: str, n: int) -> tuple[float, Counter[str]]:
    """One idle tick of the old claim path: list the index, read each key's state.json."""
    bucket = new_bucket(endpoint)
    forge(endpoint, bucket, n)
    store = S3Store(bucket, region="us-east-1", endpoint_url=endpoint)
    jobs = JobStore(store, Layout("pitstop"))
    t = time.perf_counter()
    for job_id in jobs.claimable_index():
        with contextlib.suppress(NotFound):
            jobs.status(job_id)
    return time.perf_counter() - t, Counter(store.requests)


def finish_and_clean(sup: Supervisor, job_id: str, forged: list[str]) -> tuple[int, float, int]:
    """Tick until the job ended and every forged key is gone: (deletes, seconds, idle ticks)."""
    lay = sup.layout
    deadline = time.monotonic() + 120
    while sup.jobs.status(job_id)[0].state is not JobState.SUCCEEDED:
        if time.monotonic() > deadline:
            raise RuntimeError("the real job did not finish in 120 s")
        sup.tick()
        time.sleep(0.05)
    requests(sup).clear()
    t, ticks = time.perf_counter(), 0
    left = set(forged)
    while left:
        sup.tick()
        ticks += 1
        left &= {i.key for i in sup.store.list(lay.claimable_index)}
    seconds = time.perf_counter() - t
    return requests(sup)["delete_object"], seconds, ticks


@dataclass
class Boot:
    latency: float
    first: Counter[str]
    deletes: int
    clean_s: float
    clean_ticks: int
    after: Counter[str]


@dataclass
class Running:
    first_s: float
    first: Counter[str]
    later_s: float
    later: Counter[str]
    claim_s: float
    claiming: Counter[str]
    deletes: int
    clean_s: float
    clean_ticks: int


def boot(endpoint: str, work: Path, n: int, poll_s: float) -> Boot:
    bucket = new_bucket(endpoint)
    forged = forge(endpoint, bucket, n)
    job_id = real_job(endpoint, bucket)
    sup = supervisor(endpoint, bucket, work, poll_s)
    try:
        t = time.perf_counter()
        sup.tick()
        latency = time.perf_counter() - t
        assert sup.current is not None and sup.current.job_id == job_id
        first = Counter(requests(sup))
        deletes, clean_s, ticks = finish_and_clean(sup, job_id, forged)
        requests(sup).clear()
        sup.tick()
        after = Counter(requests(sup))
    finally:
        sup.trainer.stop(2)
    return Boot(latency, first, deletes, clean_s, ticks, after)


def timed_tick(sup: Supervisor) -> tuple[float, Counter[str]]:
    requests(sup).clear()
    t = time.perf_counter()
    sup.tick()
    return time.perf_counter() - t, Counter(requests(sup))


def running(endpoint: str, work: Path, n: int, poll_s: float) -> Running:
    bucket = new_bucket(endpoint)
    sup = supervisor(endpoint, bucket, work, poll_s)
    try:
        sup.tick()  # the full scan of an empty queue; idle from here
        forged = forge(endpoint, bucket, n)
        first_s, first = timed_tick(sup)  # unknown ids: one listing of jobs/ sets them aside
        later_s, later = timed_tick(sup)  # listed, never read; a round of deletes
        job_id = real_job(endpoint, bucket)
        claim_s, claiming = timed_tick(sup)
        assert sup.current is not None and sup.current.job_id == job_id
        deletes, clean_s, ticks = finish_and_clean(sup, job_id, forged)
    finally:
        sup.trainer.stop(2)
    return Running(first_s, first, later_s, later, claim_s, claiming, deletes, clean_s, ticks)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--forged", type=int, default=2000)
    ap.add_argument("--poll", type=float, default=0.2, help="poll_interval_s (s)")
    args = ap.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    server = MotoServer.start()
    work = Path(tempfile.mkdtemp(prefix="pitstop-forged-bench-"))
    try:
        old_s, old = before(server.endpoint, args.forged)
        base = boot(server.endpoint, work, 0, args.poll)
        b = boot(server.endpoint, work, args.forged, args.poll)
        r = running(server.endpoint, work, args.forged, args.poll)
    finally:
        server.stop()
    n = args.forged
    print(f"{n} forged claim-index keys, moto S3 on loopback (2-core machine)")
    print(f"before (old claim path, emulated): every idle tick {old_s:.1f} s, {fmt(old)}")
    print("boot: a fresh supervisor, the forged keys and one real job")
    none = f"no forged keys: {base.latency:.2f} s"
    print(f"  claim latency (first tick)       {b.latency:.2f} s ({none})")
    print(f"  requests before the claim        {fmt(b.first)} (no forged keys: {fmt(base.first)})")
    print(
        f"  clean-up (after the job)         {b.deletes} DELETEs in {b.clean_ticks} idle "
        f"ticks, {b.clean_s:.1f} s"
    )
    print(f"  a later idle tick                {fmt(b.after)}")
    print("running: an idle supervisor past its full scan; the keys appear, then a real job")
    print(f"  first tick with the keys         {fmt(r.first)}, {r.first_s:.2f} s")
    print(f"  the next tick                    {fmt(r.later)}, {r.later_s:.2f} s")
    print(
        f"  claim latency (the next tick)    {r.claim_s:.2f} s, {fmt(r.claiming)}"
        f" (+ up to one poll interval, {args.poll} s, and one delete round in progress)"
    )
    print(
        f"  clean-up (after the job)         {r.deletes} DELETEs in {r.clean_ticks} idle "
        f"ticks, {r.clean_s:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
