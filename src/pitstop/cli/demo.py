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
        "recover. Needs no AWS account (but the demo extra: pip install '.[demo]' in pitstop's clone) and "
        "takes about 20 seconds. Its work folder (/tmp/pitstop-demo-*) is removed afterwards, "
        "unless --keep.",
        [opt("--keep", **FLAG, help="leave the S3 server up (until Ctrl-C) and the work folder in place, and print the settings to explore them with 'pitstop jobs'")],
        settings=False,
    )  # fmt: skip


def _demo(args: Any) -> int:
    from pitstop.demo import ATTEMPT_HEADERS, attempt_rows, keep_lines, outcome_lines, run_demo

    # the timeline: on stdout, or with --json (one document on stdout) on a terminal's stderr
    summary = run_demo(keep=args.keep, out=progress() if wants_json(args) else print)
    server = summary.pop("server", None)
    try:  # a kept server stops on Ctrl-C wherever it lands (its thread would outlive us)
        table = Table(ATTEMPT_HEADERS, attempt_rows(summary))
        show(args, summary, "", table, "", *outcome_lines(summary))
        if server is not None:
            for line in keep_lines(summary):
                print(line, flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        if server is None:
            raise
    finally:
        if server is not None:
            server.stop()
    return 0 if summary["state"] == "succeeded" else 1
