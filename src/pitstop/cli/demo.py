"""``pitstop demo``: watch pitstop recover a freeze and a crash, with no AWS account."""

from __future__ import annotations

import argparse
import time
from typing import Any

from pitstop.cli.output import add_json_flag, print_json, print_table


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole system locally: a job that freezes once and crashes once",
        description=(
            "Start an embedded S3-compatible server on a loopback port, submit a sample job on "
            "the simulated trainer that freezes once and crashes once, run a real supervisor, "
            "and print the timeline: attempts, checkpoints, and how long each fault took to "
            "detect and recover. Needs no AWS account (but the demo extra: pip install "
            "'pitstop[demo]') and takes about 20 seconds. Its work folder "
            "(/tmp/pitstop-demo-*) is removed afterwards, unless --keep."
        ),
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the S3 server up (until Ctrl-C) and the work folder in place, and print "
        "the settings to explore them with 'pitstop jobs'",
    )
    add_json_flag(p)
    p.set_defaults(func=_demo)


def _demo(args: Any) -> int:
    from pitstop.cli.output import progress
    from pitstop.demo import run_demo

    # the timeline: on stdout, or with --json (one document on stdout) on a terminal's stderr
    out = progress() if args.json else print
    summary = run_demo(keep=args.keep, out=out)
    server = summary.pop("server", None)
    if args.json:
        print_json(summary)
    else:
        print()
        print_table(
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
        print()
        for f in summary["faults"]:
            print(
                f"{f['fault']:>6} in attempt {f['attempt']}: detected {f['detect_s']} s after the last checkpoint, "
                f"training back {f['recover_s']} s later"
            )
        print(f"\nfinal state: {summary['state']}: {summary['reason']}")
    if server is not None:
        print("\nThe S3 server stays up until Ctrl-C. In another shell:")
        print(
            f"  export PITSTOP_BUCKET={summary['bucket']} PITSTOP_S3_ENDPOINT_URL={summary['endpoint']} "
            "AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo"
        )
        print(f"  pitstop jobs && pitstop job {summary['job_id']}")
        print(f"The supervisor's state and log: {summary['work_dir']}")
        print("The live dashboard (queue, curves with the stall and crash marked, logs):")
        print("  pitstop serve --port 8080    # then open the address it prints", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
    return 0 if summary["state"] == "succeeded" else 1
