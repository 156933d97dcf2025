"""``pitstop supervise``: the on-instance daemon (systemd starts it at boot)."""

from __future__ import annotations

import argparse
from typing import Any

from pitstop.cli.common import add_settings_flags, settings_from


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "supervise",
        help="run the supervisor daemon on this instance",
        description=(
            "Run the supervisor: resume the job this instance holds, or claim the next one; "
            "launch training, watch S3 for fresh checkpoints, restart stalled or crashed runs "
            "from the last checkpoint, and act on spot interruption notices. Stops cleanly on "
            "SIGTERM. Logs JSON under systemd, readable lines on a terminal."
        ),
    )
    add_settings_flags(p)
    p.add_argument("--instance-id", help="this instance's id (default: from the metadata service)")
    p.add_argument("--log-format", choices=["auto", "json", "console"], help="log rendering")
    p.add_argument("--check", action="store_true", help="only validate the settings and exit")
    p.add_argument(
        "--json", action="store_true", help="with --check: print the settings as one JSON document"
    )
    p.set_defaults(func=_supervise)


def _supervise(args: Any) -> int:
    settings = settings_from(args, instance_id=args.instance_id, log_format=args.log_format)
    settings.check_supervisor()
    if settings.trainer == "drfc":
        from pitstop.trainers.drfc import check_settings

        check_settings(settings)  # what DRfC's run.env/system.env would refuse at every attempt
    if args.check and args.json:
        from pitstop.cli.output import print_json

        print_json(settings.model_dump(mode="json"))
        return 0
    if args.check:
        print(
            f"settings OK: bucket={settings.bucket} prefix={settings.prefix} trainer={settings.trainer}"
        )
        return 0
    from pitstop import logs
    from pitstop.supervisor import runtime

    logs.configure(settings.log_format)
    return runtime.run(settings)
