"""SSH into fleet instances with paramiko: one command, or one command on many in parallel.

Host keys are checked against a known_hosts file: an unknown key is refused unless
``accept_new`` (then it is saved); a changed key is always refused. Keys come from the
agent, a file (``identity``), or the usual ~/.ssh keys. Targets are resolved through an
OpenSSH client config (``Host i-*`` blocks with ``HostName``, ``Port``, ``User``,
``IdentityFile``) so bastions' address maps and tests' loopback servers work alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitstop.errors import PitstopError, UsageError


class SshError(PitstopError):
    """Connecting or authenticating failed, or the host key was refused (exit 1)."""


@dataclass(frozen=True)
class Target:
    name: str  # what the user called it: an instance id or a host
    host: str
    port: int = 22
    user: str = "ubuntu"
    identity: str | None = None


@dataclass
class Result:
    target: str
    exit_code: int | None  # None: it never ran (see error)
    stdout: str = ""
    stderr: str = ""
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SshOptions:
    known_hosts: Path = Path.home() / ".ssh" / "known_hosts"
    accept_new_host_key: bool = False
    identity: str | None = None
    user: str | None = None
    port: int | None = None
    config: Path | None = Path.home() / ".ssh" / "config"
    timeout_s: float = 10.0


def resolve(name: str, address: str | None, opts: SshOptions) -> Target:
    """A target for ``name`` (instance id or host), its EC2 ``address`` and the ssh config."""
    import paramiko

    found: dict[str, Any] = {}
    if opts.config is not None and opts.config.is_file():
        cfg = paramiko.SSHConfig.from_path(str(opts.config))
        found = dict(cfg.lookup(name))
        if found.get("hostname") == name and address:
            found["hostname"] = address  # the config only set options, not an address
    host = str(found.get("hostname") or address or name)
    try:
        port = int(opts.port or found.get("port") or 22)
    except ValueError:
        raise UsageError(f"{name}: bad port in ssh config: {found.get('port')!r}") from None
    identity = opts.identity or (found.get("identityfile") or [None])[0]
    user = opts.user or found.get("user") or "ubuntu"
    return Target(name=name, host=host, port=port, user=str(user), identity=identity)


def _client(opts: SshOptions) -> Any:
    import paramiko

    class Refuse(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            raise SshError(
                f"{hostname}: unknown host key ({key.get_name()} {key.get_fingerprint().hex()}); "
                "check it and rerun with --accept-new-host-key"
            )

    class AcceptNew(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            client.get_host_keys().add(hostname, key.get_name(), key)
            opts.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            with opts.known_hosts.open("a") as f:
                f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")

    client = paramiko.SSHClient()
    if opts.known_hosts.is_file():
        try:
            client.load_host_keys(str(opts.known_hosts))
        except (OSError, paramiko.SSHException) as e:
            raise SshError(f"{opts.known_hosts}: cannot read known hosts: {e}") from None
    client.set_missing_host_key_policy(AcceptNew() if opts.accept_new_host_key else Refuse())
    return client


def run(target: Target, command: str, opts: SshOptions) -> Result:
    """Run ``command`` on ``target``; never raises, the error is in the result."""
    import paramiko

    client = _client(opts)
    try:
        key_file = str(Path(target.identity).expanduser()) if target.identity else None
        client.connect(
            target.host,
            port=target.port,
            username=target.user,
            key_filename=key_file,
            allow_agent=True,
            look_for_keys=key_file is None,
            timeout=opts.timeout_s,
            banner_timeout=opts.timeout_s,
            auth_timeout=opts.timeout_s,
        )
        _, out, err = client.exec_command(command, timeout=None)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        code = out.channel.recv_exit_status()
        return Result(target.name, code, stdout, stderr)
    except paramiko.BadHostKeyException as e:
        return Result(
            target.name,
            None,
            error=(
                f"{target.host}:{target.port}: HOST KEY CHANGED (got {e.key.get_name()} "
                f"{e.key.get_fingerprint().hex()}); refusing to connect. If the instance was replaced, "
                f"remove its line from {opts.known_hosts}"
            ),
        )
    except SshError as e:
        return Result(target.name, None, error=str(e))
    except paramiko.AuthenticationException as e:
        return Result(
            target.name,
            None,
            error=f"{target.user}@{target.host}:{target.port}: authentication failed: {e}",
        )
    except (TimeoutError, paramiko.SSHException, OSError, EOFError) as e:
        return Result(
            target.name, None, error=f"{target.host}:{target.port}: {e or type(e).__name__}"
        )
    finally:
        with contextlib.suppress(Exception):
            client.close()


def run_many(
    targets: Sequence[Target], command: str, opts: SshOptions, parallel: int = 16
) -> list[Result]:
    """Run ``command`` on every target at once; one result per target, in the given order."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(targets)))) as pool:
        return list(pool.map(lambda t: run(t, command, opts), targets))
