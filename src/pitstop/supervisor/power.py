"""Powering the instance off or rebooting it: the one module that runs the power commands.

The core decides when (``Reboot``, ``Shutdown``, ``ownership.idle``); this runs the
configured command (``reboot_command``/``shutdown_command``), after a last instance
heartbeat so the fleet sees why. A command that fails is recorded and the instance
carries on (an idle shutdown tries again after another idle period).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

import structlog

from pitstop.core import events as ev
from pitstop.errors import StoreError
from pitstop.supervisor.context import Context

log = structlog.get_logger("pitstop.supervisor")


class Power:
    def __init__(self, ctx: Context, write_heartbeat: Callable[[], None]) -> None:
        self.ctx = ctx
        self.write_heartbeat = write_heartbeat
        self.powering_off = False  # a command succeeded: the instance is going down
        self.stopping = threading.Event()  # set then: the runtime's loop ends
        self.failed = False  # the last command failed (the idle clock starts over)

    def reboot(self, reason: str) -> bool:
        return self._run(ev.INSTANCE_REBOOTING, "reboot", reason)

    def shutdown(self, reason: str) -> bool:
        return self._run(ev.INSTANCE_SHUTTING_DOWN, "shutdown", reason)

    def _run(self, event: str, which: Literal["reboot", "shutdown"], reason: str) -> bool:
        try:
            self.write_heartbeat()
        except StoreError as e:
            log.warning(ev.TICK_FAILED, error=str(e), what="instance heartbeat")
        self.ctx.log_event(event, reason=reason)
        argv = self.ctx.settings.command_argv(which)
        self.powering_off = True
        code = self.ctx.commands(argv)
        if code != 0:
            self.powering_off = False
            self.failed = True
            self.ctx.log_event(ev.POWER_FAILED, command=argv[0], exit_code=code, reason=reason)
            return False
        self.stopping.set()
        return True
