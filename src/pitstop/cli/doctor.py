"""``pitstop doctor``: is this instance ready to train? One line per check."""

from __future__ import annotations

from typing import Any

from pitstop.cli.common import Sub, command, settings_from
from pitstop.cli.output import show


def register(sub: Sub) -> None:
    command(
        sub, "doctor", _doctor,
        "check this instance: DRfC, Docker and swarm, the GPU, S3, the metadata service",
        "Check what training on this instance needs: the settings, the deepracer-for-cloud "
        "checkout and its activation, /tmp/sagemaker and the supervisor's unit, Docker and "
        "swarm (node labels, network, simapp image), the GPU as a container sees it, S3 access "
        "and the instance metadata service. One line per check: ok, warn or fail, and what to "
        "do. Exit 1 if a check failed.",
    )  # fmt: skip


def _doctor(args: Any) -> int:
    from pitstop.config import config_path
    from pitstop.doctor.checks import Doctor
    from pitstop.errors import ConfigError

    try:
        settings, error = settings_from(args), None
    except ConfigError as e:
        settings, error = None, str(e)
    checks = Doctor(settings, error, config_path(getattr(args, "config", None))).run()
    failed = any(c.status == "fail" for c in checks)
    show(args, {"ok": not failed, "checks": [c.doc() for c in checks]}, *(c.line() for c in checks))
    return 1 if failed else 0
