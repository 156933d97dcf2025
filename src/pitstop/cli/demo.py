"""``pitstop demo``: watch pitstop recover a freeze and a crash, with no AWS account."""

from __future__ import annotations

import argparse
import time
from typing import Any

from pitstop.cli.output import add_json_flag, format_table, print_json


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole system locally: a job that freezes once and crashes once",
        description=(
            "Start an embedded S3-compatible server on a loopback port, submit a sample job on "
            "the simulated trainer that freezes once and crashes once, run a real supervisor, "
            "and print the timeline: attempts, checkpoints, and how long each fault took to "
            "detect and recover. Needs no AWS account and takes about a minute."
        ),
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the S3 server up afterwards and print the settings to explore it with 'pitstop jobs'",
    )
    add_json_flag(p)
    p.set_defaults(func=_demo)


def _demo(args: Any) -> int:
    from pitstop.demo import run_demo

    quiet = bool(args.json)
    summary = run_demo(keep=args.keep, out=(lambda s: None) if quiet else print)
    server = summary.pop("server", None)
    if args.json:
        print_json(summary)
    else:
        print()
        print(
            format_table(
                ["ATTEMPT", "OUTCOME", "PRETRAINED", "LAST CHECKPOINT", "TRAINED S"],
                [
                    [
                        a["n"],
                        a["outcome"],
                        a["pretrained_checkpoint"],
                        a["last_checkpoint"],
                        f"{a['training_s']:.1f}",
                    ]
                    for a in summary["attempts"]
                ],
            )
        )
        print()
        for f in summary["faults"]:
            print(
                f"{f['fault']:>6} in attempt {f['attempt']}: detected {f['detect_s']} s after the last checkpoint, "
                f"training back {f['recover_s']} s later"
            )
        print(f"\nfinal state: {summary['state']} ({summary['reason']})")
    if server is not None:
        print("\nThe S3 server stays up until Ctrl-C. In another shell:")
        print(
            f"  export PITSTOP_BUCKET={summary['bucket']} PITSTOP_S3_ENDPOINT_URL={summary['endpoint']} "
            "AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo"
        )
        print(f"  pitstop jobs && pitstop job {summary['job_id']}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
    return 0 if summary["state"] == "succeeded" else 1
