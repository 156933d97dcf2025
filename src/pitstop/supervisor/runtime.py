"""Wiring for ``pitstop supervise``: build the ports from settings, schedule, handle signals.

Signals only set a flag; the main thread acts on it. SIGTERM/SIGINT: stop the trainer
cleanly, record the attempt, release the lease, exit 0. With ``Type=notify`` the unit is
told READY once the supervisor resumed or went idle, and WATCHDOG on every good tick.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from pitstop.config import Settings
from pitstop.core import events as ev
from pitstop.errors import ConfigError, ImdsError
from pitstop.inbox import Inbox
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.notify import SnsNotifier
from pitstop.supervisor.spot import Imds, ImdsSpotSource
from pitstop.trainers.base import Trainer, supervisor_token

log = structlog.get_logger("pitstop.supervisor")


def make_trainer(settings: Settings, store: S3Store) -> Trainer:
    """The configured backend; process backends carry this supervisor's token (its state
    directory's), so supervisors sharing a host never stop each other's trainers."""
    token = supervisor_token(settings.state_dir)
    if settings.trainer == "simulated":
        from pitstop.trainers.simulated import SimulatedTrainer

        return SimulatedTrainer(token)
    if settings.trainer == "script":
        from pitstop.trainers.script import ScriptTrainer

        return ScriptTrainer(store, Layout(settings.prefix), token)
    from pitstop.trainers.drfc import DrfcTrainer

    return DrfcTrainer(settings, store, Layout(settings.prefix))


def resolve_instance_id(settings: Settings, imds: Imds) -> str:
    if settings.instance_id:
        return settings.instance_id
    try:
        value = imds.get("instance-id")
    except ImdsError as e:
        raise ConfigError(
            f"instance_id is not set and the metadata service did not answer ({e})"
        ) from None
    if not value:
        raise ConfigError("instance_id is not set and the metadata service has none")
    return value.strip()


def sd_notify(message: str) -> None:
    """Tell systemd (Type=notify) how we are; a no-op outside systemd."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(addr)
            s.sendall(message.encode())
        except OSError:
            pass


def watchdog_s(settings: Settings) -> float:
    """How long the supervisor may go without feeding systemd's watchdog.

    The watchdog is fed after every tick, and the next tick comes ``poll_interval_s`` later.
    A tick can stop a trainer twice (the stop, then the attempt's clean-up); one stop is
    SIGTERM, a wait, SIGKILL (``stop_timeout_s`` each, at most) and, with DRfC,
    ``dr-stop-training`` and a ``docker stop`` of SageMaker.
    """
    one_stop = 3 * settings.stop_timeout_s + 90.0
    return settings.poll_interval_s + 2 * one_stop + 60.0


def extend_watchdog(settings: Settings) -> None:
    """Under a systemd watchdog shorter than ``watchdog_s``, ask for that much (WATCHDOG_USEC)."""
    current = os.environ.get("WATCHDOG_USEC")
    if not current or not current.isdigit():
        return
    need = int(watchdog_s(settings) * 1_000_000)
    if need > int(current):
        sd_notify(f"WATCHDOG_USEC={need}")
        log.info("watchdog.extended", from_s=int(current) / 1e6, to_s=need / 1e6)


def resolve_market(settings: Settings, imds: Imds) -> Settings:
    """``market = "auto"``: IMDS's ``instance-life-cycle`` says ``on-demand`` or ``spot``;
    no answer reads as spot (the fleet's default)."""
    if settings.market != "auto":
        return settings
    try:
        life = imds.get("instance-life-cycle")
    except ImdsError:
        life = None
    market = "on-demand" if life == "on-demand" else "spot"
    log.info(ev.MARKET_RESOLVED, market=market, instance_life_cycle=life)
    return settings.model_copy(update={"market": market})


def build(settings: Settings) -> Supervisor:
    store = S3Store.from_settings(settings)
    imds = Imds(settings.imds_endpoint)
    instance_id = resolve_instance_id(settings, imds)
    settings = resolve_market(settings, imds)
    notifier = SnsNotifier.from_settings(settings) if settings.sns_topic_arn else None
    inbox = Inbox(
        JobStore(store, Layout(settings.prefix)),
        instance_id,
        claim_ttl_s=settings.lease_ttl_s,
        settle_s=settings.inbox_settle_s,
        deadlines=settings.inbox_deadlines,
    )
    return Supervisor(
        settings,
        store,
        make_trainer(settings, store),
        instance_id,
        spot=ImdsSpotSource(imds),
        notifier=notifier,
        inbox=inbox.scan,
    )


def run(settings: Settings, supervisor: Supervisor | None = None) -> int:
    sup = supervisor or build(settings)
    stop_signal = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop_signal.set()
        sup.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log.info(
        ev.SUPERVISOR_STARTED,
        instance_id=sup.instance_id,
        bucket=settings.bucket,
        prefix=settings.prefix,
        trainer=settings.trainer,
        state_dir=str(settings.state_dir),  # its trainers carry this directory's token
    )
    sup.resume()
    sd_notify("READY=1")
    extend_watchdog(settings)

    failed = 0

    def tick() -> bool:
        """One tick; systemd's watchdog is fed only after a tick that made progress."""
        nonlocal failed
        if sup.tick():
            failed = 0
            sd_notify("WATCHDOG=1")
            return True
        failed += 1
        return failed < settings.max_failed_ticks

    sched = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    )
    sched.add_job(sup.poll_spot, "interval", seconds=settings.spot_poll_interval_s, id="spot")
    sched.add_job(sup.heartbeat, "interval", seconds=settings.heartbeat_interval_s, id="heartbeat")
    sched.start()
    sup.heartbeat()
    code = 0
    try:
        while not stop_signal.is_set() and not sup.stopping.is_set():
            if not tick():
                # crash-only: no progress for max_failed_ticks ticks; systemd starts a fresh
                # supervisor, which resumes from S3 (a running trainer is adopted)
                log.error(ev.SUPERVISOR_GIVING_UP, instance_id=sup.instance_id, ticks=failed)
                code = 1
                break
            sup.wake.wait(settings.poll_interval_s)
            sup.wake.clear()
    finally:
        sched.shutdown(wait=True)
    if stop_signal.is_set():
        sd_notify("STOPPING=1")
        sup.shutdown()
    try:
        sup.write_heartbeat()
    except Exception as e:  # the last heartbeat is best effort
        log.warning(ev.TICK_FAILED, error=str(e), what="last heartbeat")
    log.info(ev.SUPERVISOR_STOPPED, instance_id=sup.instance_id, exit_code=code)
    return code
