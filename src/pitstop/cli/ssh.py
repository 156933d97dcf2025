"""``pitstop fleet ssh | exec``: a shell or a command on fleet instances, over SSH.

Everything after ``--`` is the remote command (``main`` hands it over as
``args.remote_command``, for the commands in ``REMOTE_COMMANDS``); a single word is sent
as it is, so a shell snippet can be quoted whole: ``-- 'docker ps; uptime'``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pitstop.cli.common import positive, settings_from
from pitstop.cli.output import print_json, print_table
from pitstop.errors import UsageError

# the command paths whose arguments after ``--`` are a remote command
REMOTE_COMMANDS = (("fleet", "ssh"), ("fleet", "exec"))
CMD_HELP = (
    "the remote command: after -- (everything there, options included), or plain words "
    "after the other arguments"
)


def add_ssh_flags(p: argparse.ArgumentParser) -> None:
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
        type=positive(int, "--port", 1),
        help="SSH port (default: from ssh config, else 22)",
    )
    p.add_argument(
        "--known-hosts",
        metavar="FILE",
        default=str(Path.home() / ".ssh" / "known_hosts"),
        help="known host keys (default: ~/.ssh/known_hosts)",
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
        type=positive(float, "--timeout", 0.1),
        default=10.0,
        help="connect timeout, s",
    )


def register_fleet_commands(cmds: argparse._SubParsersAction[Any]) -> None:
    """Add ``ssh`` and ``exec`` to the ``fleet`` group."""
    from pitstop.cli.fleet import add_aws_flags

    ssh = cmds.add_parser(
        "ssh",
        help="a shell on one instance, or run a command there, over SSH",
        description="pitstop fleet ssh INSTANCE [options] [-- CMD]: INSTANCE is an instance "
        "id or a host. Without CMD, an interactive shell (a pty when stdin is a terminal); "
        "with CMD, its output and exit status. Host keys are verified.",
    )
    ssh.add_argument("instance", metavar="INSTANCE", help="instance id (i-...) or host")
    ssh.add_argument("cmd", nargs="*", metavar="CMD", help=CMD_HELP)
    add_ssh_flags(ssh)
    add_aws_flags(ssh)
    ssh.set_defaults(func=_ssh, remote_command=[])

    ex = cmds.add_parser(
        "exec",
        help="run a command on instances in parallel, a result per host",
        description="pitstop fleet exec --all -- CMD | pitstop fleet exec --instance ID "
        "[--instance ID ...] -- CMD: run CMD on each instance in parallel, print each "
        "one's output prefixed by its name and a table of exit codes; exit 1 unless every "
        "instance exited 0.",
    )
    ex.add_argument("--all", action="store_true", help="every running instance of the fleet")
    ex.add_argument(
        "--instance",
        action="append",
        default=[],
        metavar="INSTANCE",
        help="an instance id or host (repeatable)",
    )
    ex.add_argument(
        "--parallel",
        type=positive(int, "--parallel", 1),
        default=16,
        help="at most this many at once",
    )
    ex.add_argument("cmd", nargs="*", metavar="CMD", help=CMD_HELP)
    add_ssh_flags(ex)
    add_aws_flags(ex)
    ex.set_defaults(func=_exec, remote_command=[])


def ssh_options(args: Any) -> Any:
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


def target(args: Any, name: str, opts: Any) -> Any:
    """The SSH target of an instance id or host (EC2 is asked only when needed)."""
    from pitstop.cli.fleet import fleet_from
    from pitstop.fleet.ssh import target_for

    def lookup(instance_id: str) -> str | None:
        fleet = fleet_from(args, settings_from(args))
        found: str | None = fleet.instance_address(instance_id, args.private)
        return found

    return target_for(name, opts, lookup)


def _print_result(res: Any, prefix: bool) -> None:
    if prefix:
        for line in res.stdout.splitlines():
            print(f"{res.target}: {line}")
        for line in res.stderr.splitlines():
            print(f"{res.target}: {line}", file=sys.stderr)
    else:
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)


def _ssh(args: Any) -> int:
    from pitstop.fleet.ssh import SshError, remote_command, run, shell

    command = remote_command(args.remote_command or args.cmd)
    opts = ssh_options(args)
    if not command:
        if args.json:
            raise UsageError("--json needs a command: pitstop fleet ssh INSTANCE --json -- CMD")
        dest = target(args, args.instance, opts)
        sys.stdout.flush()
        return shell(dest, opts, stdin=sys.stdin.fileno(), stdout=sys.stdout.fileno())
    res = run(target(args, args.instance, opts), command, opts)
    if args.json:
        print_json(res.as_dict())
    else:
        _print_result(res, prefix=False)
    if res.error:
        raise SshError(res.error)
    return int(res.exit_code or 0)


def _exec(args: Any) -> int:
    from pitstop.cli.fleet import fleet_from
    from pitstop.fleet.provision import address
    from pitstop.fleet.ssh import remote_command, resolve, run_many

    command = remote_command(args.remote_command or args.cmd)
    names = args.instance
    if not command:
        raise UsageError("give the command after --: pitstop fleet exec --all -- CMD")
    if args.all == bool(names):
        raise UsageError("give --all or instance ids, not both or neither")
    opts = ssh_options(args)
    if args.all:
        insts = fleet_from(args, settings_from(args)).running_instances()
        targets = [resolve(i["InstanceId"], address(i, args.private), opts) for i in insts]
    else:
        targets = [target(args, n, opts) for n in names]
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
