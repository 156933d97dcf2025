"""How fast the shared queue hands out jobs, and how fast a spot notice stops training.

Prints:
- claims per second and S3 requests per claim for 1, 4 and 16 concurrent supervisors
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
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import make_jobs, start_supervisor, supervisor_env
from tests.servers import FakeImds, MotoServer

from pitstop.config import load_settings
from pitstop.core.records import JobStatus
from pitstop.core.states import JobState
from pitstop.store.objects import S3Store
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.simulated import SimulatedTrainer


def drain(endpoint: str, workers: int, n_jobs: int, work: Path) -> tuple[float, float, int]:
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

    def run(sup: Supervisor) -> None:
        misses = 0
        while misses < 2:
            cur = sup.claimer.try_claim()
            if cur is None:
                misses += 1
                continue
            misses = 0
            with lock:
                claimed.append(cur.job_id)
            sup.jobs.update(cur.job_id, finish)
            sup.leases.release(cur.lease)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(s,)) for s in sups]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert len(claimed) == len(set(claimed)) == n_jobs, (len(claimed), len(set(claimed)))
    requests = sum(sum(s.store.requests.values()) for s in sups)  # type: ignore[attr-defined]
    return n_jobs / elapsed, requests / n_jobs, len(claimed)


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
            spot_poll_interval_s="5",
        )
        p = start_supervisor(env)
        try:
            deadline = time.monotonic() + 30
            while (
                jobs.status(job_id)[0].state is not JobState.RUNNING and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            time.sleep(1.0 + i * 0.37)  # land the notice at different points of the 5 s poll cycle
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
    ap.add_argument("--notices", type=int, default=10)
    args = ap.parse_args()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    server = MotoServer.start()
    work = Path(tempfile.mkdtemp(prefix="pitstop-queue-bench-"))
    try:
        rows = [(w, *drain(server.endpoint, w, args.jobs, work)) for w in (1, 4, 16)]
        lat = notice_latencies(server.endpoint, args.notices, work)
    finally:
        server.stop()
    print(f"queue claims, {args.jobs} jobs, moto S3 on loopback (2-core machine)")
    print("  supervisors  claims/s  S3 requests/claim  jobs claimed (each exactly once)")
    for w, rate, req, n in rows:
        print(f"  {w:>11}  {rate:8.1f}  {req:17.1f}  {n}")
    q = statistics.quantiles(lat, n=10) if len(lat) >= 2 else [float("nan")] * 9
    print(f"notice-to-stopped latency over {len(lat)} notices (spot poll every 5 s):")
    print(
        f"  min {min(lat):.2f} s  median {statistics.median(lat):.2f} s  p90 {q[8]:.2f} s  max {max(lat):.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
