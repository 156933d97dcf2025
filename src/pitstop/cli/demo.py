"""``pitstop demo``: watch pitstop recover a freeze and a crash, with no AWS account."""

from __future__ import annotations

import time
from typing import Any

from pitstop.cli.common import FLAG, Sub, command, opt
from pitstop.cli.output import Table, progress, show, wants_json


def register(sub: Sub) -> None:
    command(
        sub, "demo", _demo, "run the whole system locally: a job that freezes once and crashes once",
        "Start an embedded S3-compatible server on a loopback port, submit a sample job on the "
        "simulated trainer that freezes once and crashes once, run a real supervisor, and print "
        "the timeline: attempts, checkpoints, and how long each fault took to detect and "
        "recover. Needs no AWS account (but the demo extra: pip install 'pitstop[demo]') and "
        "takes about 20 seconds. Its work folder (/tmp/pitstop-demo-*) is removed afterwards, "
        "unless --keep.",
        [opt("--keep", **FLAG, help="leave the S3 server up (until Ctrl-C) and the work folder in place, and print the settings to explore them with 'pitstop jobs'")],
        settings=False,
    )  # fmt: skip


def _demo(args: Any) -> int:
    from pitstop.demo import run_demo

    # the timeline: on stdout, or with --json (one document on stdout) on a terminal's stderr
    summary = run_demo(keep=args.keep, out=progress() if wants_json(args) else print)
    server = summary.pop("server", None)
    rows = [
        [
            a["n"],
            a["outcome"],
            a["pretrained_checkpoint"],
            a["last_checkpoint"],
            f"{a['training_s']:.1f}",
        ]
        for a in summary["attempts"]
    ]
    faults = [
        f"{f['fault']:>6} in attempt {f['attempt']}: detected {f['detect_s']} s after the last "
        f"checkpoint, training back {f['recover_s']} s later"
        for f in summary["faults"]
    ]
    headers = ["ATTEMPT", "OUTCOME", "PRETRAINED", "LAST CHECKPOINT", "TRAINED S"]
    show(
        args,
        summary,
        "",
        Table(headers, rows),
        "",
        *faults,
        f"\nfinal state: {summary['state']}: {summary['reason']}",
    )
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
