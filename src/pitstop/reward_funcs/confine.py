"""Confining the sandbox child before any reward code runs (child side, stdlib only).

Reward code comes from the inbox: anyone who can drop a file there can run Python on an
instance during validation. The child (``_child.py``) therefore shuts itself in, in this
order, before it runs a line of it:

1. **network namespace**: ``unshare(CLONE_NEWNET)`` (as root), or ``CLONE_NEWUSER |
   CLONE_NEWNET`` (as another user, where the kernel allows unprivileged user namespaces).
   The new namespace has a loopback that is down and no routes: nothing, the metadata
   service included, can be reached. Checked with a real attempt (a UDP connect to the
   metadata address must fail with ENETUNREACH); when it cannot be had, the guard (5)
   refuses every network call instead, and the report says so.
2. **no new privileges** (``PR_SET_NO_NEW_PRIVS``): no setuid program can raise them again.
3. **an unprivileged user** when started as root: ``setgroups([])``, then the configured
   uid/gid (``nobody`` by default) as real, effective and saved ids; checked by trying to
   get root back. If this fails the child runs no reward code at all (fail closed).
4. the caller sets resource limits (``_child._set_limits``); the parent gave the child a
   minimal environment (no ``AWS_*``, no ``PITSTOP_*``, nothing inherited).
5. **the guard**: an audit hook (``sys.addaudithook``, which no later code can remove) that
   watches file, directory, socket, process, signal and ``ctypes`` events. Every attempt is
   recorded, with the layer that stopped it; the validator rejects the reward function for
   any attempt, even one the reward caught and ignored. Where an outer layer refuses the
   operation by itself (a file the unprivileged user may not read, a socket in the empty
   namespace), the guard lets the call reach it, so the record says which layer held; the
   guard refuses everything else itself.

The guard is a second layer, not the boundary: code that defeats it still meets 1-4.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS = 38
PROBE_ADDRESS = ("169.254.169.254", 80)  # the instance metadata service
MAX_ATTEMPTS = 100
NOBODY = 65534  # nobody's uid and gid on Debian/Ubuntu/Amazon Linux

GUARD = "the in-process guard"
NETNS = "the network namespace (the sandbox has no network)"

# files any reward may read although they lie outside the import roots
READABLE = frozenset({"/dev/null", "/dev/urandom", "/dev/zero"})

_PROCESS_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.startfile",
        "subprocess.Popen",
        "pty.spawn",
    }
)
_FS_CHANGE_EVENTS = frozenset(
    {
        "os.chmod",
        "os.chown",
        "os.chflags",
        "os.link",
        "os.mkdir",
        "os.mkfifo",
        "os.mknod",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "os.setxattr",
        "os.removexattr",
        "shutil.chown",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "shutil.make_archive",
        "shutil.unpack_archive",
    }
)
_NET_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.bind",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
    }
)


@dataclass(frozen=True)
class Attempt:
    """Something reward code tried that the sandbox does not allow."""

    what: str  # "read /etc/shadow", "connect to 169.254.169.254:80"
    held_by: str  # the layer that stopped it
    case: int | None = None  # the swept state the reward was called with (None: loading)
    line: int | None = None  # the reward file's line that made the attempt

    def describe(self) -> str:
        return f"tried to {self.what}; stopped by {self.held_by}"


@dataclass
class Confinement:
    """What the child did to itself, for the report (and for the guard's choices)."""

    network: str = GUARD  # NETNS when the namespace is in place and proven
    network_note: str = ""  # why there is no namespace, when there is none
    user: str = "unchanged"  # "nobody (uid 65534)" after a drop
    uid: int = field(default_factory=os.getuid)
    dropped: bool = False  # root privileges were dropped to ``user``
    unprivileged: bool = False  # reward code runs without root (dropped, or never had it)
    no_new_privs: bool = False
    library_note: str = ""  # set when the sandbox user cannot read Python's library
    failure: str | None = None  # set when reward code must not run at all

    def as_dict(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "network_note": self.network_note,
            "user": self.user,
            "dropped_root": self.dropped,
            "no_new_privs": self.no_new_privs,
            "library_note": self.library_note,
            "failure": self.failure,
        }


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> int:
    """0 or the errno of ``unshare(flags)``."""
    import ctypes

    if _libc().unshare(flags) == 0:
        return 0
    return ctypes.get_errno() or errno.EPERM


def _probe_network() -> str | None:
    """None when no address can be reached (a real attempt), else what happened."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(PROBE_ADDRESS)  # UDP: a route lookup, no packet is sent
    except OSError as e:
        if e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return None
        return f"probe connect failed with {errno.errorcode.get(e.errno or 0, e.errno)}"
    return f"a route to {PROBE_ADDRESS[0]} exists"


def enter_network_namespace(conf: Confinement) -> None:
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    try:
        err = _unshare(flags)
    except (OSError, AttributeError) as e:  # no libc symbol: not Linux
        conf.network_note = f"unshare unavailable ({e})"
        return
    if err:
        conf.network_note = f"unshare(CLONE_NEWNET) refused: {os.strerror(err)}"
        return
    leak = _probe_network()
    if leak is not None:
        conf.network_note = f"namespace made but not isolated: {leak}"
        return
    conf.network = NETNS


def no_new_privileges(conf: Confinement) -> None:
    with contextlib.suppress(OSError, AttributeError):
        conf.no_new_privs = _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def drop_privileges(conf: Confinement, uid: int, gid: int, name: str) -> None:
    """As root: become ``uid``/``gid`` for good, or set ``conf.failure`` (fail closed)."""
    if os.geteuid() != 0:  # started unprivileged: nothing to drop
        conf.user, conf.uid, conf.unprivileged = f"uid {os.geteuid()}", os.geteuid(), True
        return
    if uid == 0:
        conf.failure = "the sandbox user is root; refusing to run reward code as root"
        return
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as e:
        conf.failure = f"could not drop root privileges to {name} (uid {uid}): {e.strerror}"
        return
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        conf.failure = "root privileges could be regained after dropping them"
        return
    if os.getresuid() != (uid, uid, uid) or os.getgroups() not in ([], [gid]):
        conf.failure = f"privileges not fully dropped (ids {os.getresuid()})"
        return
    stdlib = os.path.dirname(os.__file__)
    if not os.access(stdlib, os.R_OK | os.X_OK):
        # Not a failure: what the rewards import was imported before the drop. A module
        # imported later fails to load, and that reward is reported for it.
        conf.library_note = (
            f"{name} cannot read Python's library at {stdlib}: only modules imported "
            "before the drop are available"
        )
    shown = name if name == f"uid {uid}" else f"{name} (uid {uid})"
    conf.user, conf.uid, conf.dropped, conf.unprivileged = shown, uid, True, True


# Standard-library modules an attack reaches for, imported before the privilege drop whatever
# the reward says (a fixed list, none with side effects on import): where the sandbox user
# cannot read Python's library (a Python under /root), reward code that imports them then
# meets the real layers (the namespace, the guard), not an ImportError that hides them.
WARM_MODULES = (
    "ctypes",
    "encodings.idna",
    "encodings.latin_1",
    "glob",
    "http.client",
    "pathlib",
    "shutil",
    "socket",
    "subprocess",
    "tempfile",
    "threading",
    "urllib.request",
)


def preimport(sources: Iterable[str], allowed: Iterable[str]) -> None:
    """Import the allowed modules the sources import, before the guard is in place.

    Libraries import ``ctypes`` and open their own files while loading; the guard would
    refuse that, so it happens now, from trusted code. A module that fails to import here
    is left to fail (and be reported) where the reward imports it.
    """
    roots = set(allowed)
    wanted: set[str] = set()
    for text in sources:
        try:
            tree = ast.parse(text)
        except Exception:  # not Python: the run reports it for that source
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                wanted.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                wanted.add(node.module)
                wanted.update(f"{node.module}.{a.name}" for a in node.names)
    import importlib

    for name in WARM_MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    for name in sorted(wanted):
        if name.split(".")[0] not in roots:
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def import_roots() -> list[str]:
    """Where Python imports from (real paths): directories end in ``/``, zip files do not.

    Never ``/`` or the working directory."""
    cwd = os.path.realpath(os.getcwd())
    out = []
    for p in sys.path:
        if not p:
            continue
        real = os.path.realpath(p)
        if real in ("/", cwd):
            continue
        if os.path.isdir(real):
            out.append(real.rstrip("/") + "/")
        elif os.path.isfile(real):  # a zip archive on sys.path (python3X.zip)
            out.append(real)
    return sorted(set(out))


def _path(value: Any) -> str | None:
    if isinstance(value, int):
        return None  # an inherited descriptor, not a path
    try:
        return os.path.abspath(os.fsdecode(value))
    except (TypeError, ValueError):
        return "?"


def _address(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    if isinstance(addr, (bytes, bytearray)):
        return addr.decode("utf-8", "replace").replace("\0", "@")
    return str(addr)


def _literal_ip(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


class Guard:
    """The audit hook: records every attempt and refuses what no outer layer refuses."""

    def __init__(self, conf: Confinement, roots: list[str]) -> None:
        self.conf = conf
        self.roots = tuple(roots)
        self.attempts: list[Attempt] = []
        self.where: Callable[[], int | None] = lambda: None
        self.filename = ""  # the reward file running now (its frames give the line)
        self._handlers: dict[str, Callable[[str, tuple[Any, ...]], None]] = {
            "open": self._open,
            "os.listdir": self._listdir,
            "os.scandir": self._listdir,
            "glob.glob": self._listdir,
            "socket.__new__": self._socket_new,
            "os.kill": self._signal,
            "os.killpg": self._signal,
            "signal.pthread_kill": self._signal,
        }
        for name in _NET_EVENTS:
            self._handlers[name] = self._network
        for name in _PROCESS_EVENTS:
            self._handlers[name] = self._process
        for name in _FS_CHANGE_EVENTS:
            self._handlers[name] = self._fs_change

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        handler = self._handlers.get(event)
        if handler is not None:
            handler(event, args)
        elif event.startswith("ctypes."):
            self._refuse(f"call native code ({event})")

    def _record(self, what: str, held_by: str) -> None:
        """Each distinct attempt once (a reward repeats itself on every call), at most 100."""
        if len(self.attempts) < MAX_ATTEMPTS and all(a.what != what for a in self.attempts):
            self.attempts.append(Attempt(what, held_by, self.where(), self._line()))

    def _line(self) -> int | None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None

    def _refuse(self, what: str) -> None:
        self._record(what, GUARD)
        raise PermissionError(errno.EACCES, f"not allowed in a reward function: {what}")

    def _outer(self, what: str, held_by: str) -> None:
        """An outer layer refuses this by itself: record it and let the call reach it."""
        self._record(what, held_by)

    def _under_roots(self, path: str) -> bool:
        real = os.path.realpath(path)
        # a directory root ends in "/", so only a zip root can equal a path
        return real in READABLE or any(real == r or real.startswith(r) for r in self.roots)

    def _os_refuses(self, path: str, mode: int) -> bool:
        """True when the unprivileged user may not do ``mode`` on an existing ``path``."""
        return self.conf.unprivileged and os.path.lexists(path) and not os.access(path, mode)

    def _open(self, event: str, args: tuple[Any, ...]) -> None:
        path = _path(args[0]) if args else "?"
        if path is None:
            return
        mode = args[1] if len(args) > 1 else None
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
            flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        )
        if not writes and self._under_roots(path):
            return
        what = f"{'write' if writes else 'read'} {path}"
        if self._os_refuses(path, os.W_OK if writes else os.R_OK):
            self._outer(what, f"the unprivileged user {self.conf.user}")
            return
        self._refuse(what)

    def _listdir(self, event: str, args: tuple[Any, ...]) -> None:
        path = _path(args[0]) if args and args[0] is not None else os.getcwd()
        if path is None or self._under_roots(path):
            return
        what = f"list {path}"
        if self._os_refuses(path, os.R_OK):
            self._outer(what, f"the unprivileged user {self.conf.user}")
            return
        self._refuse(what)

    def _socket_new(self, event: str, args: tuple[Any, ...]) -> None:
        family = args[1] if len(args) > 1 else None
        if family == socket.AF_UNIX:
            # a network namespace does not hide sockets in the file system
            self._refuse("open a local (AF_UNIX) socket")

    def _network(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.connect":
            what = f"connect to {_address(args[1])}"
        elif event in ("socket.sendto", "socket.sendmsg"):
            what = f"send to {_address(args[-1])}"
        elif event == "socket.bind":
            what = f"listen on {_address(args[1])}"
        else:
            forward = event in ("socket.getaddrinfo", "socket.gethostbyname")
            if forward and _literal_ip(args[0] if args else None):
                return  # no lookup happens for an address written out
            what = f"resolve {_address(args[0])}"
        if self.conf.network == NETNS:
            self._outer(what, NETNS)
            return
        self._refuse(what)

    def _process(self, event: str, args: tuple[Any, ...]) -> None:
        target = args[0] if args and isinstance(args[0], (str, bytes)) else ""
        shown = os.fsdecode(target)[:80] if target else ""
        self._refuse(f"start a process ({event}{': ' + shown if shown else ''})")

    def _signal(self, event: str, args: tuple[Any, ...]) -> None:
        self._refuse(f"signal another process ({event} {args[0] if args else ''})")

    def _fs_change(self, event: str, args: tuple[Any, ...]) -> None:
        path = _path(args[0]) if args else None
        self._refuse(f"change the file system ({event}{' ' + path if path else ''})")
