"""``pitstop fleet up | scale | down | status | iam-policy | watch`` (and ``ssh | exec``, from
``pitstop.cli.ssh``): spot capacity and its watchdog.

Fleet commands talk to EC2, Auto Scaling, IAM and SSM through ``AwsClients``;
``--endpoint-url`` points them at another endpoint (a local test server). What a command
does lives in ``pitstop.fleet``; this module parses options and prints. boto3 is imported
inside the handlers.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from pitstop.cli.common import add_settings_flags, job_store, positive, settings_from
from pitstop.cli.output import add_json_flag, print_json, print_table, state_style
from pitstop.errors import UsageError


def add_aws_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--name",
        default="pitstop",
        help="fleet name: launch template, group and tags (default: pitstop)",
    )
    p.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="AWS endpoint for EC2/Auto Scaling/IAM/SSM (tests, LocalStack)",
    )
    add_settings_flags(p)
    add_json_flag(p)


def fleet_from(args: Any, settings: Any) -> Any:
    from pitstop.fleet.aws import AwsClients
    from pitstop.fleet.provision import Fleet, check_fleet_name

    aws = AwsClients(region=settings.region, endpoint_url=args.endpoint_url)
    return Fleet(aws, check_fleet_name(args.name))


def register(sub: argparse._SubParsersAction[Any]) -> None:
    from pitstop.cli.ssh import register_fleet_commands

    p = sub.add_parser(
        "fleet",
        help="spot GPU capacity: up, scale, down, status, watch, ssh",
        description="Run the fleet of spot GPU instances: an Auto Scaling group over many "
        "instance types and zones, an external watchdog, and SSH inspection.",
    )
    p.set_defaults(group_parser=p)
    cmds = p.add_subparsers(dest="fleet_command", metavar="COMMAND")

    up = cmds.add_parser(
        "up",
        help="create or update the launch template and the group (idempotent)",
        description="Create or update the launch template (user data writes the settings "
        "and starts the supervisor) and the Auto Scaling group: all spot, "
        "price-capacity-optimized over --types and --zones, with capacity rebalancing. "
        "Only what differs is changed, so running it twice changes nothing.",
    )
    up.add_argument(
        "--instances", type=positive(int, "--instances"), required=True, help="desired instances"
    )
    up.add_argument(
        "--max",
        dest="max_instances",
        type=positive(int, "--max", 1),
        help="group maximum (default: max(instances, 1) x 2)",
    )
    up.add_argument(
        "--types", required=True, help="instance types, comma-separated: g4dn.2xlarge,g5.2xlarge"
    )
    up.add_argument(
        "--zones", default="", help="availability zones, comma-separated (default: all)"
    )
    up.add_argument(
        "--subnets", default="", help="subnet ids, comma-separated (instead of --zones)"
    )
    up.add_argument("--ami", help="AMI id (default: SSM parameter /pitstop/ami-id)")
    up.add_argument(
        "--instance-profile", default="pitstop-instance", help="IAM instance profile name"
    )
    up.add_argument(
        "--create-role",
        action="store_true",
        help="create the role and instance profile with the policy of 'fleet iam-policy'",
    )
    up.add_argument(
        "--root-gb",
        type=positive(int, "--root-gb", 30),
        default=120,
        help="gp3 root volume size (GiB)",
    )
    up.add_argument("--key-name", help="EC2 key pair for SSH")
    up.add_argument("--security-groups", default="", help="security group ids, comma-separated")
    up.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="extra tag (repeatable)"
    )
    up.add_argument("--spot-max-price", help="USD per hour cap (default: the on-demand price)")
    add_aws_flags(up)
    up.set_defaults(func=_up)

    sc = cmds.add_parser(
        "scale",
        help="set the desired number of instances",
        description="Set the group's desired capacity to N (raising its maximum if needed).",
    )
    sc.add_argument("instances", type=positive(int, "N"), metavar="N")
    add_aws_flags(sc)
    sc.set_defaults(func=_scale)

    dn = cmds.add_parser(
        "down",
        help="scale to zero and terminate the instances; --delete removes the group and template",
        description="Scale the group to zero, which terminates its instances (their jobs "
        "are taken over later from their last checkpoint); --delete also removes the group "
        "and the launch template. Nothing in S3 is touched.",
    )
    dn.add_argument(
        "--delete", action="store_true", help="also delete the group and the launch template"
    )
    add_aws_flags(dn)
    dn.set_defaults(func=_down)

    st = cmds.add_parser(
        "status",
        help="instances with type, zone, state, heartbeat age, job and checkpoint",
        description="The group's size and each instance: type, zone, EC2 state, the age of "
        "its supervisor's heartbeat, the supervisor's state, its job and the job's state, "
        "and the last checkpoint.",
    )
    add_aws_flags(st)
    st.set_defaults(func=_fleet_status)

    pol = cmds.add_parser(
        "iam-policy",
        help="print the IAM policy of instances (default) or of trainers (JSON)",
        description=(
            "Print an IAM policy document. --for instance (default): the instance role's "
            "(what --create-role attaches). --for trainer: read pitstop's objects and models, "
            "write the inbox only. See docs/security.md."
        ),
    )
    pol.add_argument(
        "--for",
        dest="principal",
        choices=("instance", "trainer"),
        default="instance",
        help="whose policy (default: instance)",
    )
    pol.add_argument("--account-id", help="AWS account id (default: from STS)")
    add_aws_flags(pol)
    pol.set_defaults(func=_policy)

    w = cmds.add_parser(
        "watch",
        help="external watchdog: reboot silent instances, terminate dead ones, add capacity",
        description="Watch the fleet from outside: reboot an instance whose heartbeat went "
        "silent, terminate one still silent after its reboot, and ask for capacity when "
        "open jobs wait. A job with a deadline whose policy says on-demand while nothing "
        "holds it gets an on-demand instance (the fleet's launch template, tagged with the "
        "job), released once the job's ended state is read (docs/deadlines.md): at most "
        "max_on_demand_instances of them fleet-wide, and spot + on-demand never above the "
        "group's MaxSize; every launch and refusal is logged with its reason "
        "(docs/security.md). Every --interval seconds, or one round with --once.",
    )
    w.add_argument(
        "--once", action="store_true", help="one round, then exit (cron, scheduled Lambda)"
    )
    w.add_argument(
        "--interval",
        type=positive(float, "--interval", 1),
        default=60.0,
        help="seconds between rounds",
    )
    w.add_argument(
        "--silent-after",
        type=positive(float, "--silent-after"),
        default=900.0,
        help="heartbeat older than this (s) means silent",
    )
    w.add_argument(
        "--boot-grace",
        type=positive(float, "--boot-grace"),
        default=900.0,
        help="leave a new instance without a heartbeat alone this long (s)",
    )
    w.add_argument(
        "--reboot-grace",
        type=positive(float, "--reboot-grace"),
        default=600.0,
        help="terminate if still silent this long after the watchdog's reboot (s)",
    )
    w.add_argument("--dry-run", action="store_true", help="decide and print, change nothing")
    w.add_argument(
        "--on-demand-type",
        metavar="TYPE",
        help="instance type of a deadline job's on-demand instance (default: the group's first)",
    )
    w.add_argument(
        "--no-deadlines",
        action="store_true",
        help="never launch on-demand instances for jobs with deadlines",
    )
    add_aws_flags(w)
    w.set_defaults(func=_watch)

    register_fleet_commands(cmds)


def _print_changes(args: Any, changes: list[Any]) -> None:
    if args.json:
        print_json([c.as_dict() for c in changes])
    elif not changes:
        print("nothing to do")
    else:
        print_table(
            ["RESOURCE", "ACTION", "DETAIL"], [[c.resource, c.action, c.detail] for c in changes]
        )


def _up(args: Any) -> int:
    from pitstop.fleet.provision import fleet_spec

    spec = fleet_spec(
        name=args.name,
        types=args.types,
        instances=args.instances,
        max_instances=args.max_instances,
        zones=args.zones,
        subnets=args.subnets,
        tags=args.tag,
        ami=args.ami,
        instance_profile=args.instance_profile,
        root_gb=args.root_gb,
        key_name=args.key_name,
        security_groups=args.security_groups,
        spot_max_price=args.spot_max_price,
    )
    settings = settings_from(args)
    changes = fleet_from(args, settings).up(spec, settings, create_role=args.create_role)
    _print_changes(args, changes)
    return 0


def _scale(args: Any) -> int:
    _print_changes(args, [fleet_from(args, settings_from(args)).scale(args.instances)])
    return 0


def _down(args: Any) -> int:
    _print_changes(args, fleet_from(args, settings_from(args)).down(delete=args.delete))
    return 0


def _policy(args: Any) -> int:
    from pitstop.fleet.policy import policy_for, trainer_policy

    settings = settings_from(args)
    if args.principal == "trainer":  # names no account: no STS call
        print_json(trainer_policy(settings))
        return 0
    account = args.account_id
    if account is not None and not re.match(r"^\d{12}$", account):
        raise UsageError(f"--account-id {account!r}: expected 12 digits")
    if account is None:
        account = fleet_from(args, settings).account_id()
    print_json(policy_for(args.principal, settings, account_id=account))
    return 0


def _age(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _fleet_status(args: Any) -> int:
    from pitstop.fleet.status import fleet_status

    settings = settings_from(args)
    doc = fleet_status(fleet_from(args, settings), job_store(settings))
    if args.json:
        print_json(doc)
        return 0
    group, rows = doc["group"], doc["instances"]
    if group is None:
        print(f"fleet {args.name}: no Auto Scaling group")
    else:
        print(
            f"fleet {args.name}: desired {group['desired']} (min {group['min']}, "
            f"max {group['max']}), {len(rows)} instance(s)"
        )
    if rows:
        print_table(
            [
                "INSTANCE",
                "TYPE",
                "ZONE",
                "STATE",
                "HEARTBEAT",
                "SUPERVISOR",
                "JOB",
                "JOB STATE",
                "CHECKPOINT",
            ],
            [
                [
                    r["instance_id"],
                    r["type"],
                    r["zone"],
                    r["state"],
                    _age(r["heartbeat_age_s"]),
                    r["supervisor"],
                    r["job_id"],
                    r["job_state"],
                    r["last_checkpoint"],
                ]
                for r in rows
            ],
            styles={7: state_style},
        )
    return 0


def _watch(args: Any) -> int:
    import logging

    from pitstop import logs
    from pitstop.errors import PitstopError
    from pitstop.fleet.runner import DeadlineOptions, watch_forever, watch_once
    from pitstop.fleet.watchdog import OnDemandLimits, Thresholds

    settings = settings_from(args)
    # launches, refusals and releases are structured events on stderr (never in --json)
    logs.configure(settings.log_format, level=logging.INFO)
    limits = OnDemandLimits(
        cap=settings.max_on_demand_instances, inbox_deadlines=settings.inbox_deadlines
    )
    fleet = fleet_from(args, settings)
    jobs = job_store(settings)
    t = Thresholds(
        silent_after_s=args.silent_after,
        boot_grace_s=args.boot_grace,
        reboot_grace_s=args.reboot_grace,
    )
    deadline = (
        None
        if args.no_deadlines
        else DeadlineOptions(
            overhead_s=settings.deadline_restart_overhead_s,
            checkpoint_s=settings.deadline_checkpoint_s,
            guard_s=args.interval,  # a round late at most
            instance_type=args.on_demand_type,
        )
    )

    def one() -> None:
        try:
            rnd = watch_once(
                fleet,
                jobs.store,
                jobs,
                settings.lease_ttl_s,
                t,
                dry_run=args.dry_run,
                deadline=deadline,
                limits=limits,
            )
        except PitstopError as e:
            if args.once:
                raise
            print(f"pitstop: watch round failed: {e}", file=sys.stderr)
            return
        if args.json:
            print_json(rnd.as_dict())
        else:
            for a in rnd.applied:
                target = a.get("instance_id") or f"desired {a.get('desired')}"
                if a.get("job_id"):
                    target = f"{target} for {a['job_id']}"
                print(f"{a['action']:<10} {target}: {a['reason']}", flush=True)
            for r in rnd.refused:
                print(f"{'refused':<10} on-demand for {r['job_id']}: {r['reason']}", flush=True)
            for k in rnd.kept:
                print(f"{'kept':<10} {k['instance_id']} for {k['job_id']}: {k['reason']}")
            if not (rnd.applied or rnd.refused or rnd.kept) and args.once:
                print(
                    f"{len(rnd.instances)} instance(s), {len(rnd.jobs)} open job(s): nothing to do"
                )
            if args.once:
                b = rnd.budget
                print(
                    f"on-demand at the round's start: {b.running} running, cap {b.cap} "
                    f"(max_on_demand_instances), {b.allowed} allowed; group MaxSize "
                    f"{b.max_size}, {b.spot} spot"
                )

    if args.once:
        one()
    else:
        watch_forever(one, args.interval)
    return 0
