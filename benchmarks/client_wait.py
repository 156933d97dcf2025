"""What waiting on many futures costs: S3 requests per poll of the client's waiter.

Submits N jobs through ``pitstop.client.Executor`` (no fleet: they stay queued), then
counts the requests of one poll with 10, 100 and 1,000 futures outstanding, and of a poll
in which 50 jobs have just ended (each ended job's document is read once).

    python benchmarks/client_wait.py
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from tests.servers import MotoServer

from pitstop.client import Client, Executor
from pitstop.core.states import JobState

REWARD = "def reward_function(params):\n    return {n}.0\n"


def requests_per_poll(endpoint: str, outstanding: int) -> tuple[int, int]:
    bucket = f"bench-client-{outstanding}-{uuid.uuid4().hex[:6]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    client = Client(bucket=bucket, endpoint_url=endpoint, poll_interval_s=3600, validate=False)
    ex = Executor(client)
    futures = [
        ex.submit(lambda n=n: {"name": f"j{n}", "reward_function": REWARD.format(n=n)})
        for n in range(outstanding)
    ]
    client.store.requests.clear()
    client.poll_once()
    idle = sum(client.store.requests.values())

    def done(s):  # type: ignore[no-untyped-def]
        s.state = JobState.SUCCEEDED
        return s

    ended = min(50, outstanding)
    for f in futures[:ended]:
        client.job_store.update(f.job_id, done)  # type: ignore[attr-defined]
    client.store.requests.clear()
    client.poll_once()
    return idle, sum(client.store.requests.values())


def main() -> int:
    for k in [k for k in os.environ if k.startswith(("AWS_", "PITSTOP_"))]:
        del os.environ[k]
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    server = MotoServer.start()
    try:
        print("client waiter: S3 requests of one poll")
        print(f"{'outstanding':>12} {'nothing ended':>14} {'50 just ended':>14}")
        for n in (10, 100, 1000):
            idle, ended = requests_per_poll(server.endpoint, n)
            print(f"{n:>12} {idle:>14} {ended:>14}")
        print("(a poll is one listing of index/terminal/; an ended job's document is read once)")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
