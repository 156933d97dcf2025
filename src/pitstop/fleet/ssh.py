"""SSH into fleet instances with paramiko: a shell, one command (collected or streamed), or
one command on many in parallel.

Host keys are checked against a known_hosts file: an unknown key is refused unless
``accept_new`` (then it is saved); a changed key is always refused. Keys come from the
agent, a file (``identity``), or the usual ~/.ssh keys. Targets are resolved through an
OpenSSH client config (``Host i-*`` blocks with ``HostName``, ``Port``, ``User``,
``IdentityFile``) so bastions' address maps and tests' loopback servers work alike.
"""

from __future__ import annotations

import contextlib
import os
import select
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pitstop.errors import SshError as SshError  # re-exported while cli/ssh.py imports it here
from pitstop.errors import UsageError


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


def _paramiko() -> None:
    from pitstop.extras import require

    require("paramiko", "SSH to instances")


def resolve(name: str, address: str | None, opts: SshOptions) -> Target:
    """A target for ``name`` (instance id or host), its EC2 ``address`` and the ssh config."""
    _paramiko()  # one line naming the extra when it is missing
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


def target_for(name: str, opts: SshOptions, lookup: Callable[[str], str | None]) -> Target:
    """The target for an instance id or host: the ssh config first; an instance id the
    config gives no address for is looked up (``lookup``: EC2's address of an id)."""
    target = resolve(name, None, opts)
    if name.startswith("i-") and target.host == name:
        found = lookup(name)
        if not found:
            raise UsageError(f"{name}: no IP address (is it running?)")
        target = resolve(name, found, opts)
    return target


def remote_command(parts: list[str]) -> str:
    """The command line to run remotely: one word as it is (a shell snippet such as
    'echo hi; exit 4'), several words each quoted."""
    return " ".join(shlex.quote(p) if len(parts) > 1 else p for p in parts)


def _client(opts: SshOptions) -> Any:
    _paramiko()  # one line naming the extra when it is missing
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


@contextlib.contextmanager
def _session(target: Target, opts: SshOptions) -> Iterator[Any]:
    """A connected, authenticated client; every failure, then or inside, is an ``SshError``."""
    _paramiko()  # one line naming the extra when it is missing
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
        yield client
    except paramiko.BadHostKeyException as e:
        raise SshError(
            f"{target.host}:{target.port}: HOST KEY CHANGED (got {e.key.get_name()} "
            f"{e.key.get_fingerprint().hex()}); refusing to connect. If the instance was replaced, "
            f"remove its line from {opts.known_hosts}"
        ) from None
    except BrokenPipeError:  # our own stdout went away (`| head`): not the connection
        raise
    except paramiko.AuthenticationException as e:
        raise SshError(
            f"{target.user}@{target.host}:{target.port}: authentication failed: {e}"
        ) from None
    except (TimeoutError, paramiko.SSHException, OSError, EOFError) as e:
        raise SshError(f"{target.host}:{target.port}: {e or type(e).__name__}") from None
    finally:
        with contextlib.suppress(Exception):
            client.close()


def run(target: Target, command: str, opts: SshOptions) -> Result:
    """Run ``command`` on ``target``; never raises, the error is in the result."""
    try:
        with _session(target, opts) as client:
            _, out, err = client.exec_command(command, timeout=None)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            code = out.channel.recv_exit_status()
            return Result(target.name, code, stdout, stderr)
    except SshError as e:
        return Result(target.name, None, error=str(e))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _status(chan: Any) -> int:
    code = int(chan.recv_exit_status())
    return 255 if code < 0 else code  # -1: no status (killed by a signal, dropped): as ssh does


def stream(
    target: Target,
    command: str,
    opts: SshOptions,
    *,
    out: Callable[[bytes], None],
    err: Callable[[bytes], None],
    stop: Callable[[], bool] | None = None,
    poll_s: float = 1.0,
) -> int | None:
    """Run ``command``, handing its stdout and stderr to ``out`` and ``err`` as they come.

    Returns the remote exit status, or None when ``stop()`` (asked every ``poll_s``) said to
    stop first; the remote command then gets its channel closed (``tail -F`` ends on SIGPIPE).
    Raises ``SshError``.
    """
    with _session(target, opts) as client:
        chan = client.get_transport().open_session(timeout=opts.timeout_s)
        chan.exec_command(command)
        chan.shutdown_write()
        checked = time.monotonic()
        while True:
            select.select([chan], [], [], poll_s)
            if _relay(chan, out, err):
                return _status(chan)
            if stop is not None and time.monotonic() - checked >= poll_s:
                if stop():
                    chan.close()
                    return None
                checked = time.monotonic()


def _relay(chan: Any, out: Callable[[bytes], None], err: Callable[[bytes], None]) -> bool:
    """Hand on what the channel has; True once the remote side is done sending."""
    while chan.recv_stderr_ready():
        err(chan.recv_stderr(32768))
    if chan.recv_ready():
        data = chan.recv(32768)
        if data:
            out(data)
            return False
    return bool(chan.eof_received or chan.closed) and not (
        chan.recv_ready() or chan.recv_stderr_ready()
    )


def _terminal_size(fd: int) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd)
        return size.columns, size.lines
    except OSError:
        return 80, 24


def shell(
    target: Target, opts: SshOptions, *, stdin: int = 0, stdout: int = 1, stderr: int = 2
) -> int:
    """An interactive login shell on ``target``; returns the shell's exit status.

    When ``stdin`` is a terminal: a pty of the local terminal's size and ``$TERM``, the local
    terminal in raw mode (restored on the way out, whatever happens) and window-size changes
    passed on. Otherwise, like ``ssh host < file``: no pty, the shell reads commands from
    ``stdin`` and its stdout and stderr stay apart. Raises ``SshError``.
    """
    is_tty = os.isatty(stdin)
    with _session(target, opts) as client:
        chan = client.get_transport().open_session(timeout=opts.timeout_s)
        if is_tty:
            cols, rows = _terminal_size(stdout if os.isatty(stdout) else stdin)
            chan.get_pty(term=os.environ.get("TERM", "xterm"), width=cols, height=rows)
        chan.invoke_shell()
        with _raw(stdin, chan, stdout) if is_tty else contextlib.nullcontext():
            _pump(chan, stdin, stdout, stderr)
        return _status(chan)


def _pump(chan: Any, stdin: int, stdout: int, stderr: int) -> None:
    stdin_open = True
    while True:
        ready, _, _ = select.select([chan, stdin] if stdin_open else [chan], [], [])
        if chan in ready and _relay(
            chan, lambda b: _write_all(stdout, b), lambda b: _write_all(stderr, b)
        ):
            return
        if stdin in ready:
            try:
                data = os.read(stdin, 4096)
            except OSError:  # a pty whose other side closed
                data = b""
            if data:
                chan.sendall(data)
            else:
                chan.shutdown_write()  # EOF on our stdin: EOF on the shell's
                stdin_open = False


@contextlib.contextmanager
def _raw(fd: int, chan: Any, size_fd: int) -> Iterator[None]:
    """The terminal on ``fd`` in raw mode, with SIGWINCH resizing the remote pty."""
    import signal
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    old_handler: Any = None
    resizing = False
    try:
        with contextlib.suppress(ValueError):  # not the main thread: no resizing
            old_handler = signal.signal(
                signal.SIGWINCH,
                lambda *_: chan.resize_pty(*_terminal_size(size_fd if os.isatty(size_fd) else fd)),
            )
            resizing = True
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        if resizing:
            signal.signal(signal.SIGWINCH, old_handler)


def run_many(
    targets: Sequence[Target], command: str, opts: SshOptions, parallel: int = 16
) -> list[Result]:
    """Run ``command`` on every target at once; one result per target, in the given order."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(targets)))) as pool:
        return list(pool.map(lambda t: run(t, command, opts), targets))
