"""What the supervisor ships to S3 on its own schedule: trainer logs and its instance heartbeat."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import structlog

from pitstop import __version__
from pitstop.core import events as ev
from pitstop.core.times import iso
from pitstop.errors import StoreError
from pitstop.store.layout import Layout
from pitstop.supervisor.context import Context, Current

log = structlog.get_logger("pitstop.supervisor")

MAX_LOG_UPLOAD = 5 * 1024 * 1024


class Shipper:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._uploaded: dict[str, int] = {}  # log name -> size at its last upload

    def upload_logs(self, cur: Current, n: int, *, only_grown: bool = False) -> None:
        """Copy the attempt's local logs into ``jobs/JOB/logs/`` (the last 5 MB of each).

        ``only_grown``: skip files that did not grow since the last upload (the heartbeat
        uses it, so logs can be followed while training runs at one PUT per heartbeat).
        """
        if cur.fenced:
            return
        for path in self.ctx.trainer.log_files():
            if not self.belongs(path, cur.job_id, n):
                continue
            name = self.ctx.layout.log_name(n, path.name)
            try:
                size = path.stat().st_size
                if only_grown and self._uploaded.get(name) == size:
                    continue
                with path.open("rb") as f:
                    f.seek(max(0, size - MAX_LOG_UPLOAD))
                    self.ctx.jobs.put_log(cur.job_id, name, f.read())
                self._uploaded[name] = size
            except (OSError, StoreError) as e:
                log.warning(ev.TICK_FAILED, job_id=cur.job_id, error=str(e), what="uploading logs")

    def belongs(self, path: Path, job_id: str, n: int) -> bool:
        """Whether a trainer's log file is this supervisor's, of this job and attempt: in the
        job's folder of our state directory, and named for attempt ``n`` if for any attempt.
        A backend that still names an earlier attempt's log (or another job's, or a log of
        another supervisor's state directory) never has it shipped as this attempt's."""
        folder = (self.ctx.state_dir / "jobs" / job_id).resolve()
        try:
            if path.resolve().parent != folder:
                return False
        except OSError:
            return False
        named = Layout.attempt_of_log_file(path.name)
        return named is None or named == n

    def write_heartbeat(self, cur: Current | None, interruption: str | None) -> None:
        """``instances/ID.json``: what this instance does, for `pitstop fleet status`."""
        doc = {
            "instance_id": self.ctx.instance_id,
            "hostname": socket.gethostname(),
            "version": __version__,
            "at": iso(self.ctx.clock.wall()),
            "job_id": cur.job_id if cur else None,
            "attempt": cur.run.attempt if cur else None,
            "state": cur.run.state.value if cur else "idle",
            "last_checkpoint": cur.run.checkpoint if cur else None,
            "interruption": interruption,
        }
        self.ctx.store.put(
            self.ctx.layout.instance(self.ctx.instance_id),
            json.dumps(doc).encode(),
            content_type="application/json",
        )
