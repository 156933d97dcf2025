"""``pitstop fleet ...`` (spot capacity, watchdog, SSH) and ``pitstop logs | status | report``.

Fleet commands talk to EC2, Auto Scaling, IAM and SSM through ``AwsClients``;
``--endpoint-url`` points them at another endpoint (a local test server). Heavy libraries
(boto3, paramiko, matplotlib) are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from pitstop.cli.common import add_settings_flags, job_store, settings_from
from pitstop.cli.output import add_json_flag, print_json, print_table, state_style
from pitstop.errors import UsageError

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{3,100}$")
_TYPE_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")


def _positive(kind: type, what: str, minimum: float = 0) -> Any:
    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}, got {text}")
        return v

    return parse


def _aws_flags(p: argparse.ArgumentParser) -> None:
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


def _ssh_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-i",
        "--identity",
        metavar="FILE",
        help="private key (default: the agent, then ~/.ssh keys)",
    )
    p.add_argument("-l", "--user", help="login user (default: from ssh config, else ubuntu)")
    p.add_argument(
        "-p",
        "--port",
        type=_positive(int, "--port", 1),
        help="SSH port (default: from ssh config, else 22)",
    )
    p.add_argument(
        "--known-hosts", metavar="FILE", default=str(Path.home() / ".ssh" / "known_hosts")
    )
    p.add_argument(
        "--ssh-config",
        metavar="FILE",
        default=str(Path.home() / ".ssh" / "config"),
        help="OpenSSH client config read for HostName/Port/User/IdentityFile",
    )
    p.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="trust and save an unknown host key (a changed key is always refused)",
    )
    p.add_argument("--private", action="store_true", help="connect to private IP addresses")
    p.add_argument(
        "--timeout",
        type=_positive(float, "--timeout", 0.1),
        default=10.0,
        help="connect timeout, s",
    )


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "fleet",
        help="spot GPU capacity: up, scale, down, status, watch, ssh",
        description="Run the fleet of spot GPU instances: an Auto Scaling group over many "
        "instance types and zones, an external watchdog, and SSH inspection.",
    )
    p.set_defaults(group_parser=p)
    cmds = p.add_subparsers(dest="fleet_command", metavar="COMMAND")

    up = cmds.add_parser(
        "up", help="create or update the launch template and the group (idempotent)"
    )
    up.add_argument(
        "--instances", type=_positive(int, "--instances"), required=True, help="desired instances"
    )
    up.add_argument(
        "--max",
        dest="max_instances",
        type=_positive(int, "--max", 1),
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
        type=_positive(int, "--root-gb", 30),
        default=120,
        help="gp3 root volume size (GiB)",
    )
    up.add_argument("--key-name", help="EC2 key pair for SSH")
    up.add_argument("--security-groups", default="", help="security group ids, comma-separated")
    up.add_argument(
        "--tag", action="append", default=[], metavar="KEY=VALUE", help="extra tag (repeatable)"
    )
    up.add_argument("--spot-max-price", help="USD per hour cap (default: the on-demand price)")
    _aws_flags(up)
    up.set_defaults(func=_up)

    sc = cmds.add_parser("scale", help="set the desired number of instances")
    sc.add_argument("instances", type=_positive(int, "N"), metavar="N")
    _aws_flags(sc)
    sc.set_defaults(func=_scale)

    dn = cmds.add_parser(
        "down",
        help="scale to zero and terminate the instances; --delete removes the group and template",
    )
    dn.add_argument(
        "--delete", action="store_true", help="also delete the group and the launch template"
    )
    _aws_flags(dn)
    dn.set_defaults(func=_down)

    st = cmds.add_parser(
        "status", help="instances with type, zone, state, heartbeat age, job and checkpoint"
    )
    _aws_flags(st)
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
    _aws_flags(pol)
    pol.set_defaults(func=_policy)

    w = cmds.add_parser(
        "watch",
        help="external watchdog: reboot silent instances, terminate dead ones, add capacity",
    )
    w.add_argument(
        "--once", action="store_true", help="one round, then exit (cron, scheduled Lambda)"
    )
    w.add_argument(
        "--interval",
        type=_positive(float, "--interval", 1),
        default=60.0,
        help="seconds between rounds",
    )
    w.add_argument(
        "--silent-after",
        type=_positive(float, "--silent-after"),
        default=900.0,
        help="heartbeat older than this (s) means silent",
    )
    w.add_argument(
        "--boot-grace",
        type=_positive(float, "--boot-grace"),
        default=900.0,
        help="leave a new instance without a heartbeat alone this long (s)",
    )
    w.add_argument(
        "--reboot-grace",
        type=_positive(float, "--reboot-grace"),
        default=600.0,
        help="terminate if still silent this long after the watchdog's reboot (s)",
    )
    w.add_argument("--dry-run", action="store_true", help="decide and print, change nothing")
    _aws_flags(w)
    w.set_defaults(func=_watch)

    ssh = cmds.add_parser(
        "ssh",
        help="a shell on one instance, or run a command there, over SSH",
        description="pitstop fleet ssh INSTANCE [-- CMD]: INSTANCE is an instance id or a host. "
        "Without CMD, an interactive shell (a pty when stdin is a terminal).",
    )
    ssh.add_argument("instance", metavar="INSTANCE")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD")
    _ssh_flags(ssh)
    _aws_flags(ssh)
    ssh.set_defaults(func=_ssh)

    ex = cmds.add_parser(
        "exec",
        help="run a command on instances in parallel, a result per host",
        description="pitstop fleet exec --all -- CMD | pitstop fleet exec --instance ID [--instance ID ...] -- CMD",
    )
    ex.add_argument("--all", action="store_true", help="every running instance of the fleet")
    ex.add_argument(
        "--instance",
        action="append",
        default=[],
        metavar="INSTANCE",
        help="an instance id or host (repeatable)",
    )
    ex.add_argument("--parallel", type=_positive(int, "--parallel", 1), default=16)
    ex.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD")
    _ssh_flags(ex)
    _aws_flags(ex)
    ex.set_defaults(func=_exec)

    lg = sub.add_parser(
        "logs",
        help="print a job's logs from S3, or live from its instance",
        description="Print a job's logs (jobs/JOB/logs/ in S3), or with --live the current "
        "attempt's trainer log, read over SSH from the instance running it.",
    )
    lg.add_argument("job_id", metavar="JOB_ID")
    lg.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new logs until the job ends"
    )
    lg.add_argument(
        "--interval",
        type=_positive(float, "--interval", 0.05),
        default=2.0,
        help="poll interval with --follow (s)",
    )
    lg.add_argument(
        "--live",
        action="store_true",
        help="read the current attempt's log over SSH from the instance running the job",
    )
    lg.add_argument(
        "--state-dir",
        metavar="DIR",
        default="/var/lib/pitstop",
        help="the supervisor's state directory on the instance, with --live (default: /var/lib/pitstop)",
    )
    _ssh_flags(lg)
    lg.add_argument("--name", default="pitstop", help="fleet name, with --live (default: pitstop)")
    lg.add_argument(
        "--endpoint-url", metavar="URL", help="AWS endpoint for EC2, with --live (tests)"
    )
    add_settings_flags(lg)
    lg.set_defaults(func=_logs)

    s = sub.add_parser(
        "status",
        help="jobs, attempts, states, progress and cost",
        description="A table of jobs with their attempts, restarts, preemptions, progress and cost so far.",
    )
    s.add_argument(
        "--spot-price",
        type=_positive(float, "--spot-price"),
        metavar="USD_PER_HOUR",
        help="spot price for the cost column (instance hours x price)",
    )
    add_settings_flags(s)
    add_json_flag(s)
    s.set_defaults(func=_status)

    r = sub.add_parser(
        "report", help="an HTML report with training curves, attempts, events and cost"
    )
    r.add_argument("--out", required=True, metavar="FILE.html")
    r.add_argument(
        "--job", action="append", default=[], metavar="JOB_ID", help="only these jobs (repeatable)"
    )
    r.add_argument("--spot-price", type=_positive(float, "--spot-price"), metavar="USD_PER_HOUR")
    add_settings_flags(r)
    add_json_flag(r)
    r.set_defaults(func=_report)


# -- helpers ---------------------------------------------------------------------------
def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _fleet(args: Any, settings: Any) -> Any:
    from pitstop.fleet.aws import AwsClients
    from pitstop.fleet.provision import Fleet

    if not _NAME_RE.match(args.name):
        raise UsageError(f"--name {args.name!r}: 3-100 letters, digits, '.', '_' or '-'")
    return Fleet(AwsClients(region=settings.region, endpoint_url=args.endpoint_url), args.name)


def _print_changes(args: Any, changes: list[Any]) -> None:
    if args.json:
        print_json([c.as_dict() for c in changes])
    elif not changes:
        print("nothing to do")
    else:
        print_table(
            ["RESOURCE", "ACTION", "DETAIL"],
            [[c.resource, c.action, c.detail] for c in changes],
        )


# -- fleet -----------------------------------------------------------------------------
def _up(args: Any) -> int:
    from pitstop.fleet.provision import FleetSpec

    types = _csv(args.types)
    bad = [t for t in types if not _TYPE_RE.match(t)]
    if not types or bad:
        raise UsageError(
            f"--types: not an instance type: {(bad or [args.types])[0]!r} (e.g. g4dn.2xlarge)"
        )
    tags = {}
    for t in args.tag:
        k, sep, v = t.partition("=")
        if not sep or not k:
            raise UsageError(f"--tag {t!r}: expected KEY=VALUE")
        tags[k] = v
    max_instances = args.max_instances or max(args.instances, 1) * 2
    if max_instances < args.instances:
        raise UsageError(f"--max {max_instances} is below --instances {args.instances}")
    if args.zones and args.subnets:
        raise UsageError("give --zones or --subnets, not both")
    settings = settings_from(args)
    spec = FleetSpec(
        name=args.name,
        instance_types=types,
        instances=args.instances,
        max_instances=max_instances,
        zones=_csv(args.zones),
        subnets=_csv(args.subnets),
        ami=args.ami,
        instance_profile=args.instance_profile,
        root_gb=args.root_gb,
        key_name=args.key_name,
        security_groups=_csv(args.security_groups),
        tags=tags,
        spot_max_price=args.spot_max_price,
    )
    _print_changes(args, _fleet(args, settings).up(spec, settings, create_role=args.create_role))
    return 0


def _scale(args: Any) -> int:
    settings = settings_from(args)
    _print_changes(args, [_fleet(args, settings).scale(args.instances)])
    return 0


def _down(args: Any) -> int:
    settings = settings_from(args)
    _print_changes(args, _fleet(args, settings).down(delete=args.delete))
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
        account = _fleet(args, settings).account_id()
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
    from pitstop.errors import StoreError
    from pitstop.fleet.runner import heartbeat

    settings = settings_from(args)
    fleet = _fleet(args, settings)
    jobs = job_store(settings)
    now = jobs.store.server_time().timestamp()
    group = fleet.group()
    rows = []
    for inst in fleet.group_instances():
        iid = inst["InstanceId"]
        hb_at, doc = heartbeat(jobs.store, jobs, iid)
        job_id = doc.get("job_id")
        job_state = None
        if job_id:
            try:
                job_state = jobs.status(job_id)[0].state.value
            except StoreError:
                job_state = "?"
        rows.append(
            {
                "instance_id": iid,
                "type": inst.get("InstanceType"),
                "zone": inst.get("Placement", {}).get("AvailabilityZone"),
                "state": inst["State"]["Name"],
                "lifecycle": inst.get("InstanceLifecycle", "on-demand"),
                "heartbeat_age_s": None if hb_at is None else round(now - hb_at, 1),
                "supervisor": doc.get("state"),
                "job_id": job_id,
                "job_state": job_state,
                "last_checkpoint": doc.get("last_checkpoint"),
            }
        )
    summary = (
        None
        if group is None
        else {"desired": group["DesiredCapacity"], "min": group["MinSize"], "max": group["MaxSize"]}
    )
    if args.json:
        print_json({"name": args.name, "group": summary, "instances": rows})
        return 0
    if summary is None:
        print(f"fleet {args.name}: no Auto Scaling group")
    else:
        print(
            f"fleet {args.name}: desired {summary['desired']} (min {summary['min']}, max {summary['max']}), {len(rows)} instance(s)"
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
    from pitstop.fleet.runner import watch_forever, watch_once
    from pitstop.fleet.watchdog import Thresholds

    settings = settings_from(args)
    fleet = _fleet(args, settings)
    jobs = job_store(settings)
    t = Thresholds(
        silent_after_s=args.silent_after,
        boot_grace_s=args.boot_grace,
        reboot_grace_s=args.reboot_grace,
    )

    def one() -> None:
        from pitstop.errors import PitstopError

        try:
            rnd = watch_once(fleet, jobs.store, jobs, settings.lease_ttl_s, t, dry_run=args.dry_run)
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
                print(f"{a['action']:<10} {target}: {a['reason']}", flush=True)
            if not rnd.applied and args.once:
                print(
                    f"{len(rnd.instances)} instance(s), {len(rnd.jobs)} open job(s): nothing to do"
                )

    if args.once:
        one()
    else:
        watch_forever(one, args.interval)
    return 0


# -- SSH -------------------------------------------------------------------------------
def _ssh_options(args: Any) -> Any:
    from pitstop.fleet.ssh import SshOptions

    if args.identity and not Path(args.identity).expanduser().is_file():
        raise UsageError(f"{args.identity}: no such key file")
    return SshOptions(
        known_hosts=Path(args.known_hosts).expanduser(),
        accept_new_host_key=args.accept_new_host_key,
        identity=args.identity,
        user=args.user,
        port=args.port,
        config=Path(args.ssh_config).expanduser() if args.ssh_config else None,
        timeout_s=args.timeout,
    )


def _address(inst: dict[str, Any], private: bool) -> str | None:
    if private:
        return inst.get("PrivateIpAddress")
    return inst.get("PublicIpAddress") or inst.get("PrivateIpAddress")


def _target(args: Any, name: str, opts: Any) -> Any:
    from pitstop.fleet.aws import call
    from pitstop.fleet.ssh import resolve

    target = resolve(name, None, opts)
    if name.startswith("i-") and target.host == name:
        # the ssh config gave no address: ask EC2
        settings = settings_from(args)
        fleet = _fleet(args, settings)
        r = call(f"describe instance {name}", fleet.aws.ec2.describe_instances, InstanceIds=[name])
        insts = [i for res in r["Reservations"] for i in res["Instances"]]
        address = _address(insts[0], args.private) if insts else None
        if not address:
            raise UsageError(f"{name}: no IP address (is it running?)")
        target = resolve(name, address, opts)
    return target


def _print_result(res: Any, prefix: bool) -> None:
    if prefix:
        for line in res.stdout.splitlines():
            print(f"{res.target}: {line}")
        for line in res.stderr.splitlines():
            print(f"{res.target}: {line}", file=sys.stderr)
    else:
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)


def _command(parts: list[str]) -> str:
    import shlex

    if parts and parts[0] == "--":
        parts = parts[1:]
    return " ".join(shlex.quote(p) if len(parts) > 1 else p for p in parts)


def _options_after_instance(args: Any) -> Any:
    """``fleet ssh INSTANCE --opt ... [-- CMD]``: argparse hands the options to CMD; parse them.

    Without ``--``, CMD is options only (a shell) when it starts with one, else all command.
    """
    if not args.cmd or args.cmd[0] == "--" or ("--" not in args.cmd and args.cmd[0][:1] != "-"):
        return args
    cut = args.cmd.index("--") if "--" in args.cmd else len(args.cmd)
    before, args.cmd = args.cmd[:cut], args.cmd[cut:]
    p = argparse.ArgumentParser(prog="pitstop fleet ssh", add_help=False, exit_on_error=False)
    _ssh_flags(p)
    _aws_flags(p)
    try:
        extra, unknown = p.parse_known_args(before, namespace=argparse.Namespace(**vars(args)))
    except (argparse.ArgumentError, SystemExit) as e:
        raise UsageError(f"fleet ssh: {e}") from None
    if unknown:
        raise UsageError(
            f"fleet ssh: unrecognized arguments: {' '.join(unknown)} (put the command after --)"
        )
    return extra


def _ssh(args: Any) -> int:
    from pitstop.fleet.ssh import SshError, run, shell

    args = _options_after_instance(args)
    command = _command(args.cmd)
    opts = _ssh_options(args)
    if not command:
        if args.json:
            raise UsageError("--json needs a command: pitstop fleet ssh INSTANCE --json -- CMD")
        target = _target(args, args.instance, opts)
        sys.stdout.flush()
        return shell(target, opts, stdin=sys.stdin.fileno(), stdout=sys.stdout.fileno())
    res = run(_target(args, args.instance, opts), command, opts)
    if args.json:
        print_json(res.as_dict())
    else:
        _print_result(res, prefix=False)
    if res.error:
        raise SshError(res.error)
    return int(res.exit_code or 0)


def _exec(args: Any) -> int:
    from pitstop.fleet.ssh import resolve, run_many

    command = _command(args.cmd)
    names = args.instance
    if not command:
        raise UsageError("give the command after --: pitstop fleet exec --all -- CMD")
    if args.all == bool(names):
        raise UsageError("give --all or instance ids, not both or neither")
    opts = _ssh_options(args)
    if args.all:
        settings = settings_from(args)
        insts = [
            i for i in _fleet(args, settings).group_instances() if i["State"]["Name"] == "running"
        ]
        targets = [resolve(i["InstanceId"], _address(i, args.private), opts) for i in insts]
    else:
        targets = [_target(args, n, opts) for n in names]
    results = run_many(targets, command, opts, parallel=args.parallel)
    if args.json:
        print_json([r.as_dict() for r in results])
    else:
        for r in results:
            _print_result(r, prefix=True)
        print_table(
            ["INSTANCE", "EXIT", "ERROR"], [[r.target, r.exit_code, r.error] for r in results]
        )
    return 0 if results and all(r.exit_code == 0 for r in results) else 1


# -- progress ----------------------------------------------------------------------------
def _logs(args: Any) -> int:
    from pitstop.fleet.logs import follow_logs

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if args.live:
        return _live_logs(args, write)
    n = follow_logs(
        job_store(settings_from(args)),
        args.job_id,
        write,
        follow=args.follow,
        interval_s=args.interval,
    )
    if n == 0 and not args.follow:
        print(
            f"job {args.job_id}: no logs yet (the supervisor uploads them on every heartbeat "
            "once an attempt runs; --follow waits for them)",
            file=sys.stderr,
        )
    return 0


def _live_logs(args: Any, write: Any) -> int:
    from pathlib import PurePosixPath

    from pitstop.fleet.logs import LiveLog, live_logs
    from pitstop.fleet.ssh import stream

    state_dir = PurePosixPath(args.state_dir)
    if not state_dir.is_absolute():
        raise UsageError(f"--state-dir {args.state_dir}: must be an absolute path")
    opts = _ssh_options(args)

    def out(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    def err(data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.flush()

    def tail(log: LiveLog, command: str, stop: Any) -> int | None:
        target = _target(args, log.instance_id, opts)
        return stream(target, command, opts, out=out, err=err, stop=stop, poll_s=args.interval)

    return live_logs(
        job_store(settings_from(args)),
        args.job_id,
        tail,
        write,
        state_dir=state_dir,
        follow=args.follow,
    )


def _status(args: Any) -> int:
    from pitstop.fleet.progress import all_progress

    rows = [p.row() for p in all_progress(job_store(settings_from(args)), args.spot_price)]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no jobs")
        return 0
    print_table(
        [
            "JOB",
            "STATE",
            "ATTEMPTS",
            "RESTARTS",
            "PREEMPTED",
            "INSTANCE",
            "PROGRESS",
            "HOURS",
            "COST",
        ],
        [
            [
                r["id"],
                r["state"],
                r["attempts"],
                r["restarts"],
                r["preemptions"],
                r["instance_id"],
                r["progress"],
                f"{r['instance_hours']:.2f}",
                None if r["cost"] is None else f"${r['cost']:.2f}",
            ]
            for r in rows
        ],
        styles={1: state_style},
    )
    if args.spot_price is not None:
        total = sum(r["cost"] or 0 for r in rows)
        print(f"\ntotal ${total:.2f} at ${args.spot_price}/h")
    return 0


def _report(args: Any) -> int:
    from pitstop.fleet.progress import all_progress, job_progress
    from pitstop.fleet.report import render

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {args.out}: must be an .html file")
    if not out.parent.is_dir():
        raise UsageError(f"--out {args.out}: no such directory {out.parent}")
    settings = settings_from(args)
    jobs = job_store(settings)
    if args.job:
        now = jobs.store.server_time()
        progress = [job_progress(jobs, j, now, args.spot_price, with_curves=True) for j in args.job]
    else:
        progress = all_progress(jobs, args.spot_price, with_curves=True)
    out.write_text(render(progress, args.spot_price, settings.bucket))
    if args.json:
        print_json({"out": str(out), "jobs": [p.row() for p in progress]})
    else:
        print(f"{out} ({len(progress)} job(s))")
    return 0
