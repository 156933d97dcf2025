"""What the fleet commands' options mean: the fleet they name, an account id, SSH options and
targets, and the watchdog's settings. The CLI parses and prints; the rules live here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitstop.config import Settings
from pitstop.errors import UsageError
from pitstop.fleet.runner import DeadlineOptions
from pitstop.fleet.ssh import SshOptions, Target, target_for
from pitstop.fleet.watchdog import OnDemandLimits, Thresholds
from pitstop.store.spend import Prices


def open_fleet(region: str, name: str, endpoint_url: str | None = None) -> Any:
    """The fleet ``name`` (checked) through EC2/Auto Scaling/IAM/SSM at ``endpoint_url``."""
    from pitstop.fleet.aws import AwsClients
    from pitstop.fleet.provision import Fleet, check_fleet_name

    return Fleet(AwsClients(region=region, endpoint_url=endpoint_url), check_fleet_name(name))


def check_account_id(account: str | None) -> str | None:
    if account is not None and not re.match(r"^\d{12}$", account):
        raise UsageError(f"--account-id {account!r}: expected 12 digits")
    return account


def ssh_options(
    *,
    identity: str | None,
    user: str | None,
    port: int | None,
    known_hosts: str,
    ssh_config: str | None,
    accept_new_host_key: bool,
    timeout: float,
) -> SshOptions:
    """SSH options from the command line's; a missing key file is bad usage."""
    if identity and not Path(identity).expanduser().is_file():
        raise UsageError(f"{identity}: no such key file")
    return SshOptions(
        known_hosts=Path(known_hosts).expanduser(),
        accept_new_host_key=accept_new_host_key,
        identity=identity,
        user=user,
        port=port,
        config=Path(ssh_config).expanduser() if ssh_config else None,
        timeout_s=timeout,
    )


def instance_target(
    name: str, opts: SshOptions, fleet: Callable[[], Any], private: bool = False
) -> Target:
    """The SSH target of an instance id or host; EC2 (``fleet()``) is asked only when needed."""

    def lookup(instance_id: str) -> str | None:
        found: str | None = fleet().instance_address(instance_id, private)
        return found

    return target_for(name, opts, lookup)


def exec_targets(
    names: list[str], every: bool, opts: SshOptions, fleet: Callable[[], Any], private: bool
) -> list[Target]:
    """The targets of ``fleet exec``: every running instance of the fleet (``every``), or
    each instance id or host of ``names``."""
    from pitstop.fleet.provision import address
    from pitstop.fleet.ssh import resolve

    if every:
        insts = fleet().running_instances()
        return [resolve(i["InstanceId"], address(i, private), opts) for i in insts]
    return [instance_target(n, opts, fleet, private) for n in names]


def check_exec_targets(command: str, all_instances: bool, names: list[str]) -> None:
    if not command:
        raise UsageError("give the command after --: pitstop fleet exec --all -- CMD")
    if all_instances == bool(names):
        raise UsageError("give --all or instance ids, not both or neither")


@dataclass(frozen=True)
class WatchSetup:
    """The watchdog's thresholds, on-demand limits and deadline options for one run."""

    thresholds: Thresholds
    limits: OnDemandLimits
    deadline: DeadlineOptions | None


def watch_setup(
    settings: Settings,
    *,
    silent_after: float,
    boot_grace: float,
    reboot_grace: float,
    interval: float,
    on_demand_type: str | None,
    no_deadlines: bool,
) -> WatchSetup:
    deadline = None
    if not no_deadlines:
        deadline = DeadlineOptions(
            overhead_s=settings.deadline_restart_overhead_s,
            checkpoint_s=settings.deadline_checkpoint_s,
            guard_s=interval,  # a round late at most
            instance_type=on_demand_type,
            prices=Prices.of(settings.deadline_spot_price, settings.deadline_on_demand_price),
        )
    return WatchSetup(
        Thresholds(
            silent_after_s=silent_after, boot_grace_s=boot_grace, reboot_grace_s=reboot_grace
        ),
        OnDemandLimits(
            cap=settings.max_on_demand_instances, inbox_deadlines=settings.inbox_deadlines
        ),
        deadline,
    )


def run_watch(
    fleet: Any,
    jobs: Any,
    lease_ttl_s: float,
    setup: WatchSetup,
    *,
    once: bool,
    dry_run: bool,
    interval: float,
    report: Callable[[Any], None],
    warn: Callable[[str], None],
) -> None:
    """One round (``once``: its error ends the run), or a round every ``interval`` seconds,
    each ``report``-ed; a failed round is ``warn``-ed and the watch carries on."""
    from pitstop.errors import PitstopError
    from pitstop.fleet.runner import watch_forever, watch_once

    def one() -> None:
        try:
            rnd = watch_once(
                fleet,
                jobs.store,
                jobs,
                lease_ttl_s,
                setup.thresholds,
                dry_run=dry_run,
                deadline=setup.deadline,
                limits=setup.limits,
            )
        except PitstopError as e:
            if once:
                raise
            warn(f"watch round failed: {e}")
            return
        report(rnd)

    if once:
        one()
    else:
        watch_forever(one, interval)
