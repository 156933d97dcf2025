"""``pitstop supervise``: the on-instance daemon (systemd starts it at boot)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pitstop.cli.common import AS_LISTED, FLAG, SETTINGS, Sub, command, opt, settings_from
from pitstop.cli.output import show
from pitstop.errors import PitstopError

if TYPE_CHECKING:
    from pitstop.config import Settings

OPTIONS = [
    *SETTINGS,
    opt("--instance-id", help="this instance's id (default: from the metadata service)"),
    opt("--log-format", choices=["auto", "json", "console"], help="log rendering"),
    opt("--check", **FLAG, help="only validate the settings and exit"),
    opt(
        "--json",
        **FLAG,
        help='with --check: print the settings as one JSON document ({"ok": false, "error": ...} when they fail)',
    ),
]


def register(sub: Sub) -> None:
    command(
        sub, "supervise", _supervise, "run the supervisor daemon on this instance",
        "Run the supervisor: resume the job this instance holds, or claim the next one; launch "
        "training, watch S3 for fresh checkpoints, restart stalled or crashed runs from the "
        "last checkpoint, and act on spot interruption notices. Stops cleanly on SIGTERM. Logs "
        "JSON under systemd, readable lines on a terminal.",
        OPTIONS, **AS_LISTED,
    )  # fmt: skip


def _checked(args: Any) -> Settings:
    settings = settings_from(args, instance_id=args.instance_id, log_format=args.log_format)
    settings.check_supervisor()
    if settings.trainer == "drfc":
        from pitstop.trainers.drfc import check_settings

        check_settings(settings)  # what DRfC's run.env/system.env would refuse at every attempt
    return settings


def _supervise(args: Any) -> int:
    try:
        settings = _checked(args)
    except PitstopError as e:
        if args.check and args.json:  # the document a script waits for, then the usual line
            print(json.dumps({"ok": False, "error": str(e)}))
        raise
    if args.check:
        ok = f"settings OK: bucket={settings.bucket} prefix={settings.prefix} trainer={settings.trainer}"
        show(args, settings.model_dump(mode="json"), ok)
        return 0
    from pitstop import logs
    from pitstop.supervisor import runtime

    logs.configure(settings.log_format)
    return runtime.run(settings)
