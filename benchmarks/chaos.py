"""Fault injection at length: many seeds of tests/faults/chaos.py, and what survived.

Prints, per seed and in total, how many faults of each kind were injected (lost replies,
reset requests, slow replies, S3 cuts, supervisor SIGKILL/SIGSTOP, SIGKILL of a supervisor
between recording an attempt and saving its trainer handle, trainer SIGKILL) and whether
every invariant held (jobs end exactly once, attempts never overlap and are all closed with
their time counted, no trainer outlives its job, no trained checkpoint is lost).

    python benchmarks/chaos.py --seeds 10 --window 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from tests.faults.chaos import check, run_chaos
from tests.servers import MotoServer

KINDS = [
    *("drop_reply", "reset", "delay", "cut"),
    *("kill", "kill_mid", "kill_start", "stop", "trainer"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--window", type=float, default=20.0, help="seconds of chaos per seed")
    ap.add_argument("--jobs", type=int, default=3)
    args = ap.parse_args()
    for k in [k for k in os.environ if k.startswith("AWS_") or k.startswith("PITSTOP_")]:
        del os.environ[k]
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    server = MotoServer.start()
    total: Counter[str] = Counter()
    failures = 0
    print(f"{'seed':>5} " + " ".join(f"{k:>10}" for k in KINDS) + "  ended_in_s  invariants")
    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            bucket = f"chaos-{seed}-{uuid.uuid4().hex[:8]}"
            boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1").create_bucket(
                Bucket=bucket
            )
            with tempfile.TemporaryDirectory() as tmp:
                env = {
                    "PITSTOP_BUCKET": bucket,
                    "PITSTOP_S3_ENDPOINT_URL": server.endpoint,
                    "PITSTOP_REGION": "us-east-1",
                    "PITSTOP_TRAINER": "simulated",
                    "PITSTOP_STATE_DIR": str(Path(tmp) / "state"),
                    "PITSTOP_INSTANCE_ID": "i-bench",
                    "PITSTOP_REBOOT_COMMAND": "true",
                    "PITSTOP_SHUTDOWN_COMMAND": "true",
                }
                t0 = time.monotonic()
                run = run_chaos(
                    seed, env, server.port, Path(tmp), jobs=args.jobs, window_s=args.window
                )
                del t0
            problems = check(run)
            failures += bool(problems)
            total.update(run.injected)
            verdict = "held" if not problems else f"BROKEN: {problems[0]}"
            print(
                f"{seed:>5} "
                + " ".join(f"{run.injected[k]:>10}" for k in KINDS)
                + f"  {run.ended_in_s:>10.1f}  {verdict}",
                flush=True,
            )
    finally:
        server.stop()
    print(f"{'all':>5} " + " ".join(f"{total[k]:>10}" for k in KINDS))
    injected = sum(total[k] for k in KINDS)
    print(f"{injected} faults injected over {args.seeds} seeds; invariants broken in {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
