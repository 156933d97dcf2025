"""``pitstop fleet up | scale | down | status | iam-policy | watch``: spot capacity and its
watchdog (``ssh | exec`` are added to the group by ``pitstop.cli.ssh``).

Fleet commands talk to EC2, Auto Scaling, IAM and SSM through ``AwsClients``;
``--endpoint-url`` points them at another endpoint (a local test server). What a command
does lives in ``pitstop.fleet``; this module parses options and prints. boto3 is imported
inside the handlers.
"""

from __future__ import annotations

import sys
from typing import Any

from pitstop.cli.common import (
    AWS_OPTIONS,
    FLAG,
    Sub,
    command,
    fleet_from,
    group,
    job_store,
    opt,
    positive,
    settings_from,
    values,
)
from pitstop.cli.output import Table, print_json, show, state_style

UP_DESCRIPTION = (
    "Create or update the launch template (user data writes the settings and starts the "
    "supervisor) and the Auto Scaling group: all spot, price-capacity-optimized over --types "
    "and --zones, with capacity rebalancing. Only what differs is changed, so running it "
    "twice changes nothing."
)
UP_OPTIONS = [
    opt("--instances", type=positive(int, "--instances"), required=True, help="desired instances"),
    opt("--max", dest="max_instances", type=positive(int, "--max", 1), help="group maximum (default: max(instances, 1) x 2)"),
    opt("--types", required=True, help="instance types, comma-separated: g4dn.2xlarge,g5.2xlarge"),
    opt("--zones", default="", help="availability zones, comma-separated (default: all)"),
    opt("--subnets", default="", help="subnet ids, comma-separated (instead of --zones)"),
    opt("--ami", help="AMI id (default: SSM parameter /pitstop/ami-id)"),
    opt("--instance-profile", default="pitstop-instance", help="IAM instance profile name"),
    opt("--create-role", **FLAG, help="create the role and instance profile with the policy of 'fleet iam-policy'"),
    opt("--root-gb", type=positive(int, "--root-gb", 30), default=120, help="gp3 root volume size (GiB)"),
    opt("--key-name", help="EC2 key pair for SSH"),
    opt("--security-groups", default="", help="security group ids, comma-separated"),
    opt("--tag", action="append", default=[], metavar="KEY=VALUE", help="extra tag (repeatable)"),
    opt("--spot-max-price", help="USD per hour cap (default: the on-demand price)"),
]  # fmt: skip
UP_FIELDS = (
    "name",
    "types",
    "instances",
    "max_instances",
    "zones",
    "subnets",
    "ami",
    "instance_profile",
    "root_gb",
    "key_name",
    "security_groups",
    "spot_max_price",
)

POLICY_DESCRIPTION = (
    "Print an IAM policy document. --for instance (default): the instance role's (what "
    "--create-role attaches). --for trainer: read pitstop's objects and models, write the "
    "inbox only. See docs/security.md."
)
POLICY_OPTIONS = [
    opt("--for", dest="principal", choices=("instance", "trainer"), default="instance", help="whose policy (default: instance)"),
    opt("--account-id", help="AWS account id (default: from STS)"),
]  # fmt: skip

WATCH_DESCRIPTION = (
    "Watch the fleet from outside: reboot an instance whose heartbeat went silent, terminate "
    "one still silent after its reboot, and ask for capacity when open jobs wait. A job with "
    "a deadline whose policy says on-demand while nothing holds it gets an on-demand instance "
    "(the fleet's launch template, tagged with the job), released once the job's ended state "
    "is read (docs/deadlines.md): at most max_on_demand_instances of them fleet-wide, and "
    "spot + on-demand never above the group's MaxSize; every launch and refusal is logged "
    "with its reason (docs/security.md). Every --interval seconds, or one round with --once."
)
WATCH_OPTIONS = [
    opt("--once", **FLAG, help="one round, then exit (cron, scheduled Lambda)"),
    opt("--interval", type=positive(float, "--interval", 1), default=60.0, help="seconds between rounds"),
    opt("--silent-after", type=positive(float, "--silent-after"), default=900.0, help="heartbeat older than this (s) means silent"),
    opt("--boot-grace", type=positive(float, "--boot-grace"), default=900.0, help="leave a new instance without a heartbeat alone this long (s)"),
    opt("--reboot-grace", type=positive(float, "--reboot-grace"), default=600.0, help="terminate if still silent this long after the watchdog's reboot (s)"),
    opt("--dry-run", **FLAG, help="decide and print, change nothing"),
    opt("--on-demand-type", metavar="TYPE", help="instance type of a deadline job's on-demand instance (default: the group's first)"),
    opt("--no-deadlines", **FLAG, help="never launch on-demand instances for jobs with deadlines"),
]  # fmt: skip


WATCH_FIELDS = ("silent_after", "boot_grace", "reboot_grace", "interval", "on_demand_type",
                "no_deadlines")  # fmt: skip


def register(sub: Sub) -> None:
    cmds = group(
        sub,
        "fleet",
        "spot GPU capacity: up, scale, down, status, watch, ssh",
        "Run the fleet of spot GPU instances: an Auto Scaling group over many instance types "
        "and zones, an external watchdog, and SSH inspection.",
        dest="fleet_command",
    )
    add = [
        ("up", _up, "create or update the launch template and the group (idempotent)",
         UP_DESCRIPTION, UP_OPTIONS),
        ("scale", _scale, "set the desired number of instances",
         "Set the group's desired capacity to N (raising its maximum if needed).",
         [opt("instances", type=positive(int, "N"), metavar="N")]),
        ("down", _down,
         "scale to zero and terminate the instances; --delete removes the group and template",
         "Scale the group to zero, which terminates its instances (their jobs are taken over "
         "later from their last checkpoint); --delete also removes the group and the launch "
         "template. Nothing in S3 is touched.",
         [opt("--delete", **FLAG, help="also delete the group and the launch template")]),
        ("status", _status, "instances with type, zone, state, heartbeat age, job and checkpoint",
         "The group's size and each instance: type, zone, EC2 state, the age of its "
         "supervisor's heartbeat, the supervisor's state, its job and the job's state, and "
         "the last checkpoint.", []),
        ("iam-policy", _policy,
         "print the IAM policy of instances (default) or of trainers (JSON)",
         POLICY_DESCRIPTION, POLICY_OPTIONS),
        ("watch", _watch,
         "external watchdog: reboot silent instances, terminate dead ones, add capacity",
         WATCH_DESCRIPTION, WATCH_OPTIONS),
    ]  # fmt: skip
    for name, func, help, description, options in add:
        command(cmds, name, func, help, description, [*options, *AWS_OPTIONS])


def _print_changes(args: Any, changes: list[Any]) -> None:
    rows = [[c.resource, c.action, c.detail] for c in changes]
    show(
        args,
        [c.as_dict() for c in changes],
        Table(["RESOURCE", "ACTION", "DETAIL"], rows, "nothing to do"),
    )


def _up(args: Any) -> int:
    from pitstop.fleet.provision import fleet_spec

    spec = fleet_spec(**values(args, UP_FIELDS), tags=args.tag)
    settings = settings_from(args)
    _print_changes(
        args, fleet_from(args, settings).up(spec, settings, create_role=args.create_role)
    )
    return 0


def _scale(args: Any) -> int:
    _print_changes(args, [fleet_from(args).scale(args.instances)])
    return 0


def _down(args: Any) -> int:
    _print_changes(args, fleet_from(args).down(delete=args.delete))
    return 0


def _policy(args: Any) -> int:
    from pitstop.fleet.options import check_account_id
    from pitstop.fleet.policy import policy_for, trainer_policy

    settings = settings_from(args)
    if args.principal == "trainer":  # names no account: no STS call
        print_json(trainer_policy(settings))
        return 0
    account = check_account_id(args.account_id) or _account_id(args, settings)
    print_json(policy_for(args.principal, settings, account_id=account))
    return 0


def _account_id(args: Any, settings: Any) -> str:
    """This account's id from STS; when STS cannot answer, the error names --account-id."""
    from pitstop.errors import FleetError

    try:
        return str(fleet_from(args, settings).account_id())
    except FleetError as e:
        raise FleetError(f"{e}; give --account-id ACCOUNT to skip this look-up") from None


def _status(args: Any) -> int:
    from pitstop.fleet.describe import STATUS_HEADERS, status_heading, status_rows
    from pitstop.fleet.status import fleet_status

    settings = settings_from(args)
    doc = fleet_status(fleet_from(args, settings), job_store(settings))
    rows = status_rows(doc)
    table = Table(STATUS_HEADERS, rows, styles={7: state_style}) if rows else None
    show(args, doc, status_heading(args.name, doc), table)
    return 0


def _watch(args: Any) -> int:
    import logging

    from pitstop import logs
    from pitstop.fleet.describe import round_lines
    from pitstop.fleet.options import run_watch, watch_setup

    settings = settings_from(args)
    # launches, refusals and releases are structured events on stderr (never in --json)
    logs.configure(settings.log_format, level=logging.INFO)
    setup = watch_setup(settings, **values(args, WATCH_FIELDS))

    def report(rnd: Any) -> None:
        show(args, rnd.as_dict(), *round_lines(rnd, args.once))  # one document per round
        sys.stdout.flush()

    def warn(line: str) -> None:
        print(f"pitstop: {line}", file=sys.stderr)

    fleet, jobs = fleet_from(args, settings), job_store(settings)
    rounds = values(args, ("once", "dry_run", "interval"))
    run_watch(fleet, jobs, settings.lease_ttl_s, setup, report=report, warn=warn, **rounds)
    return 0
