"""How fast the shared queue hands out jobs, and how fast a spot notice stops training.

Prints:
- claims per second and S3 requests per claim for 1, 4, 16 and 64 concurrent supervisors
  draining 100 pending jobs (each supervisor is a ``Supervisor`` with its own S3 client
  and request counter, in its own thread; a claimed job is marked done at once, so this
  measures the queue, not training);
- the notice-to-stopped latency distribution: a real supervisor process, a local
  metadata server that posts a spot notice, time until the job is ``preempted`` in S3
  (trainer stopped, attempt recorded, lease released).

Usage: python benchmarks/queue_claims.py [--jobs 100] [--notices 10]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import make_jobs, start_supervisor, supervisor_env
from tests.servers import FakeImds, MotoServer

from pitstop.config import Settings, load_settings
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.store.objects import S3Store
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.simulated import SimulatedTrainer

SPOT_POLL_S = Settings.model_fields["spot_poll_interval_s"].default


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def requests(sup: Supervisor) -> int:
    return sum(sup.store.requests.values())  # type: ignore[attr-defined]


def drain(endpoint: str, workers: int, n_jobs: int, work: Path) -> tuple[float, float, float, int]:
    bucket = f"bench-claims-{workers}"
    _jobs, _ = make_jobs(endpoint, bucket, n_jobs)
    claimed: list[str] = []
    lock = threading.Lock()
    sups = []
    for w in range(workers):
        settings = load_settings(
            None,
            bucket=bucket,
            s3_endpoint_url=endpoint,
            trainer="simulated",
            state_dir=work / f"c{workers}-{w}",
            instance_id=f"i-w{w}",
        )
        sups.append(
            Supervisor(
                settings,
                S3Store.from_settings(settings),
                SimulatedTrainer(),
                f"i-w{w}",
                spot=NoInterruptions(),
            )
        )

    def finish(s: JobStatus) -> JobStatus:
        s.state, s.reason = JobState.SUCCEEDED, "benchmark"
        return s

    in_claims = [0] * workers

    def run(w: int, sup: Supervisor) -> None:
        while True:
            before = requests(sup)
            cur = sup.claimer.try_claim()
            in_claims[w] += requests(sup) - before
            if cur is None:
                if not sup.jobs.claimable_index():  # the queue is empty (one listing)
                    return
                continue
            with lock:
                claimed.append(cur.job_id)
            sup.jobs.update(cur.job_id, finish)
            sup.leases.release(cur.lease)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(w, s)) for w, s in enumerate(sups)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert len(claimed) == len(set(claimed)) == n_jobs, (len(claimed), len(set(claimed)))
    total = sum(requests(s) for s in sups)
    return n_jobs / elapsed, sum(in_claims) / n_jobs, total / n_jobs, len(claimed)


def notice_latencies(endpoint: str, runs: int, work: Path) -> list[float]:
    out = []
    for i in range(runs):
        bucket = f"bench-notice-{i}"
        jobs, (job_id,) = make_jobs(
            endpoint, bucket, 1, {"checkpoint_interval_s": 0.3, "checkpoints": 1000}
        )
        imds = FakeImds(f"i-notice{i}")
        env = supervisor_env(
            endpoint,
            bucket,
            work / f"n{i}",
            instance_id=imds.instance_id,
            imds_endpoint=imds.endpoint,
            poll_interval_s="1",
            stall_timeout_s="60",
            startup_grace_s="60",
        )  # the spot poll at its default
        p = start_supervisor(env)
        try:
            deadline = time.monotonic() + 30
            while (
                jobs.status(job_id)[0].state is not JobState.RUNNING and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            # land the notice at different points of the spot poll's cycle
            time.sleep(1.0 + (i * 0.37) % SPOT_POLL_S)
            imds.notice()
            t0 = time.monotonic()
            while jobs.status(job_id)[0].state is not JobState.PREEMPTED:
                if time.monotonic() - t0 > 30:
                    raise RuntimeError("no preemption within 30 s")
                time.sleep(0.05)
            out.append(time.monotonic() - t0)
        finally:
            p.terminate()
            p.wait(30)
            imds.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--notices", type=int, default=20)
    args = ap.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    server = MotoServer.start()
    work = Path(tempfile.mkdtemp(prefix="pitstop-queue-bench-"))
    try:
        rows = [(w, *drain(server.endpoint, w, args.jobs, work)) for w in (1, 4, 16, 64)]
        lat = notice_latencies(server.endpoint, args.notices, work)
    finally:
        server.stop()
    print(f"queue claims, {args.jobs} jobs, moto S3 on loopback (2-core machine)")
    print(
        "  supervisors  claims/s  requests/claim (in the claim)  all requests/claim  "
        "jobs claimed (each exactly once)"
    )
    for w, rate, req, total, n in rows:
        print(f"  {w:>11}  {rate:8.1f}  {req:29.1f}  {total:18.1f}  {n}")
    print(
        "  (all requests: also the benchmark's own end of each job, its state, indexes and "
        "lease release, and the listings that find the queue empty)"
    )
    print(
        f"notice-to-stopped latency over {len(lat)} notices (spot poll every {SPOT_POLL_S:g} s, "
        f"the default: {2 * 3600 / SPOT_POLL_S:,.0f} IMDS requests an hour):"
    )
    print(
        f"  min {min(lat):.2f} s  p50 {pct(lat, 50):.2f} s  p90 {pct(lat, 90):.2f} s  "
        f"p99 {pct(lat, 99):.2f} s  max {max(lat):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
