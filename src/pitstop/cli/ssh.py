"""``pitstop fleet ssh | exec``: a shell or a command on fleet instances, over SSH; and the
SSH options ``pitstop logs --live`` shares.

Everything after ``--`` is the remote command (``main`` hands it over as
``args.remote_command``, for the commands in ``REMOTE_COMMANDS``); a single word is sent
as it is, so a shell snippet can be quoted whole: ``-- 'docker ps; uptime'``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pitstop.cli.common import (
    AWS_OPTIONS,
    FLAG,
    Sub,
    add_options,
    command,
    commands_of,
    fleet_from,
    opt,
    positive,
    values,
)
from pitstop.cli.output import Table, show, wants_json
from pitstop.errors import UsageError

# the command paths whose arguments after ``--`` are a remote command
REMOTE_COMMANDS = (("fleet", "ssh"), ("fleet", "exec"))
CMD = opt(
    "cmd",
    nargs="*",
    metavar="CMD",
    help="the remote command: after -- (everything "
    "there, options included), or plain words after the other arguments",
)
SSH_OPTIONS = [
    opt("-i", "--identity", metavar="FILE", help="private key (default: the agent, then ~/.ssh keys)"),
    opt("-l", "--user", help="login user (default: from ssh config, else ubuntu)"),
    opt("-p", "--port", type=positive(int, "--port", 1), help="SSH port (default: from ssh config, else 22)"),
    opt("--known-hosts", metavar="FILE", default=str(Path.home() / ".ssh" / "known_hosts"), help="known host keys (default: ~/.ssh/known_hosts)"),
    opt("--ssh-config", metavar="FILE", default=str(Path.home() / ".ssh" / "config"), help="OpenSSH client config read for HostName/Port/User/IdentityFile"),
    opt("--accept-new-host-key", **FLAG, help="trust and save an unknown host key (a changed key is always refused)"),
    opt("--private", **FLAG, help="connect to private IP addresses"),
    opt("--timeout", type=positive(float, "--timeout", 0.1), default=10.0, help="connect timeout, s"),
]  # fmt: skip
SSH_FIELDS = (
    "identity",
    "user",
    "port",
    "known_hosts",
    "ssh_config",
    "accept_new_host_key",
    "timeout",
)


def add_ssh_flags(p: argparse.ArgumentParser) -> None:
    add_options(p, SSH_OPTIONS)


def register(sub: Sub) -> None:
    """Add ``ssh`` and ``exec`` to the ``fleet`` group."""
    cmds = commands_of(sub, "fleet")
    ssh = command(
        cmds, "ssh", _ssh, "a shell on one instance, or run a command there, over SSH",
        "pitstop fleet ssh INSTANCE [options] [-- CMD]: INSTANCE is an instance id or a host. "
        "Without CMD, an interactive shell (a pty when stdin is a terminal); with CMD, its "
        "output and exit status. Host keys are verified.",
        [opt("instance", metavar="INSTANCE", help="instance id (i-...) or host"), CMD,
         *SSH_OPTIONS, *AWS_OPTIONS],
    )  # fmt: skip
    ex = command(
        cmds, "exec", _exec, "run a command on instances in parallel, a result per host",
        "pitstop fleet exec --all -- CMD | pitstop fleet exec --instance ID [--instance ID ...] "
        "-- CMD: run CMD on each instance in parallel, print each one's output prefixed by its "
        "name and a table of exit codes; exit 1 unless every instance exited 0.",
        [opt("--all", **FLAG, help="every running instance of the fleet"),
         opt("--instance", action="append", default=[], metavar="INSTANCE", help="an instance id or host (repeatable)"),
         opt("--parallel", type=positive(int, "--parallel", 1), default=16, help="at most this many at once"),
         CMD, *SSH_OPTIONS, *AWS_OPTIONS],
    )  # fmt: skip
    for p in (ssh, ex):
        p.set_defaults(remote_command=[])


def ssh_options(args: Any) -> Any:
    from pitstop.fleet.options import ssh_options as options

    return options(**values(args, SSH_FIELDS))


def target(args: Any, name: str, opts: Any) -> Any:
    """The SSH target of an instance id or host (EC2 is asked only when needed)."""
    from pitstop.fleet.options import instance_target

    return instance_target(name, opts, lambda: fleet_from(args), args.private)


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
        if wants_json(args):
            raise UsageError("--json needs a command: pitstop fleet ssh INSTANCE --json -- CMD")
        dest = target(args, args.instance, opts)
        sys.stdout.flush()
        return shell(dest, opts, stdin=sys.stdin.fileno(), stdout=sys.stdout.fileno())
    res = run(target(args, args.instance, opts), command, opts)
    show(args, res.as_dict(), lambda: _print_result(res, prefix=False))
    if res.error:
        raise SshError(res.error)
    return int(res.exit_code or 0)


def _exec(args: Any) -> int:
    from pitstop.fleet.options import check_exec_targets, exec_targets
    from pitstop.fleet.ssh import remote_command, run_many

    command = remote_command(args.remote_command or args.cmd)
    check_exec_targets(command, args.all, args.instance)
    opts = ssh_options(args)
    targets = exec_targets(args.instance, args.all, opts, lambda: fleet_from(args), args.private)
    results = run_many(targets, command, opts, parallel=args.parallel)
    show(
        args,
        [r.as_dict() for r in results],
        *(lambda r=r: _print_result(r, prefix=True) for r in results),
        Table(["INSTANCE", "EXIT", "ERROR"], [[r.target, r.exit_code, r.error] for r in results]),
    )
    return 0 if results and all(r.exit_code == 0 for r in results) else 1
