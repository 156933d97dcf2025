"""The demo's summary in words: a row per attempt, a line per fault (how long it took to
detect and to recover), the final state; and with ``--keep``, how to explore what it left.
Pure: ``demo.run_demo``'s summary in, text out; printing is the CLI's."""

from __future__ import annotations

from typing import Any

ATTEMPT_HEADERS = ["ATTEMPT", "OUTCOME", "PRETRAINED", "LAST CHECKPOINT", "TRAINED S"]


def attempt_rows(summary: dict[str, Any]) -> list[list[object]]:
    keys = ("n", "outcome", "pretrained_checkpoint", "last_checkpoint")
    return [[*(a[k] for k in keys), f"{a['training_s']:.1f}"] for a in summary["attempts"]]


def outcome_lines(summary: dict[str, Any]) -> list[str]:
    """A line per fault, then the job's final state."""
    faults = [
        f"{f['fault']:>6} in attempt {f['attempt']}: detected {f['detect_s']} s after the last "
        f"checkpoint, training back {f['recover_s']} s later"
        for f in summary["faults"]
    ]
    return [*faults, f"\nfinal state: {summary['state']}: {summary['reason']}"]


def keep_lines(summary: dict[str, Any]) -> list[str]:
    """With ``--keep``: the settings that reach the demo's S3 server, and what to run."""
    return [
        "\nThe S3 server stays up until Ctrl-C. In another shell:",
        f"  export PITSTOP_BUCKET={summary['bucket']} "
        f"PITSTOP_S3_ENDPOINT_URL={summary['endpoint']} "
        "AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo",
        f"  pitstop jobs && pitstop job {summary['job_id']}",
        f"The supervisor's state and log: {summary['work_dir']}",
        "The live dashboard (queue, curves with the stall and crash marked, logs):",
        "  pitstop serve --port 8080    # then open the address it prints",
    ]
