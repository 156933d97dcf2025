"""What listing the queue costs: S3 requests and time of ``pitstop jobs`` and of a dashboard
refresh at 100, 1,000 and 10,000 jobs, against moto's S3 server on loopback.

Requests are counted as they are sent (a botocore ``before-send`` hook on the default
session, so ``pitstop jobs`` runs unchanged through ``main``). "before" is what
``pitstop jobs`` did until the listing index: one listing of ``jobs/`` and one
``state.json`` per job.

    python benchmarks/job_listing.py [--sizes 100,1000,10000]

Seeding 10,000 jobs takes a few minutes on two cores (five writes per job, 8 threads).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from tests.servers import MotoServer

from pitstop.errors import InvalidJob
from pitstop.intake import Submission, build_spec
from pitstop.serve.data import Dashboard
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store

SENT = {"n": 0}


def _count(**_: Any) -> None:
    SENT["n"] += 1


def seed(endpoint: str, bucket: str, n: int) -> JobStore:
    """``n`` jobs made by ``JobStore.create`` (spec, state, listing key, claim key, event)."""
    store = S3Store(bucket, region="us-east-1", endpoint_url=endpoint)
    store._s3.create_bucket(Bucket=bucket)
    jobs = JobStore(store, Layout("pitstop"))

    def one(i: int) -> None:
        sub = Submission(name=f"job {i:05d}", files={"reward_function.py": f"#{i}".encode()})
        jobs.create(build_spec(sub), {})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))
    return jobs


def measure(fn: Any) -> tuple[int, float, Any]:
    SENT["n"] = 0
    t = time.perf_counter()
    out = fn()
    return SENT["n"], time.perf_counter() - t, out


def before(jobs: JobStore) -> int:
    """The old ``pitstop jobs``: list jobs/, then read each job's state.json."""
    n = 0
    for job_id in jobs.job_ids():
        with contextlib.suppress(InvalidJob):
            jobs.status(job_id)
            n += 1
    return n


def cli_jobs(endpoint: str, bucket: str) -> int:
    from pitstop.cli.main import main

    os.environ.update(PITSTOP_BUCKET=bucket, PITSTOP_S3_ENDPOINT_URL=endpoint)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["jobs", "--json"]) == 0
    return out.getvalue().count('"id"')


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="100,1000,10000")
    sizes = [int(s) for s in p.parse_args().sizes.split(",")]
    for k in [k for k in os.environ if k.startswith(("AWS_", "PITSTOP_"))]:
        del os.environ[k]
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", PITSTOP_REGION="us-east-1"
    )
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-send.s3", _count)
    server = MotoServer.start()
    rows = []
    try:
        for n in sizes:
            bucket = f"bench-listing-{n}-{uuid.uuid4().hex[:6]}"
            t = time.perf_counter()
            jobs = seed(server.endpoint, bucket, n)
            print(f"seeded {n} jobs in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            old_req, old_s, seen = measure(lambda: before(jobs))  # noqa: B023
            assert seen == n
            cli_req, cli_s, listed = measure(lambda: cli_jobs(server.endpoint, bucket))  # noqa: B023
            assert listed == n, listed
            dash = Dashboard(jobs, scan_interval_s=3600, min_refresh_s=0)
            full_req, full_s, doc = measure(dash.queue)  # the first refresh also lists jobs/
            assert doc["total"] == n
            dash_req, dash_s, doc = measure(dash.queue)  # every refresh after it
            assert doc["total"] == n
            rows.append((n, old_req, old_s, cli_req, cli_s, full_req, full_s, dash_req, dash_s))
    finally:
        server.stop()
    print("listing the queue: S3 requests and seconds (moto's S3 server on loopback)")
    print(
        f"{'jobs':>6} | {'before: pitstop jobs':>22} | {'pitstop jobs':>16} | "
        f"{'dashboard, 1st refresh':>22} | {'dashboard refresh':>18}"
    )
    for n, oq, os_, cq, cs, fq, fs, dq, ds in rows:
        print(
            f"{n:>6} | {oq:>9} req {os_:>7.2f} s | {cq:>5} req {cs:>6.2f} s | "
            f"{fq:>9} req {fs:>8.2f} s | {dq:>6} req {ds:>7.2f} s"
        )
    print(
        "(pitstop jobs: one listing of index/jobs/ and one of jobs/ per 1,000 jobs, in "
        "parallel; a dashboard refresh lists jobs/ only every --scan-interval)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
