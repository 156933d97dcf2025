"""Confining the sandbox child before any reward code runs (child side, stdlib only).

Reward code comes from the inbox: anyone who can drop a file there can run Python on an
instance during validation. The child (``_child.py``) therefore shuts itself in, in this
order, before it runs a line of it. The walls are the kernel's (1-3): nothing the reward
does inside its own process can take them down.

1. **network namespace**: ``unshare(CLONE_NEWNET)`` (as root), or ``CLONE_NEWUSER |
   CLONE_NEWNET`` (as another user, where the kernel allows unprivileged user namespaces).
   The new namespace has a loopback that is down and no routes: nothing, the metadata
   service included, can be reached. Checked with a real attempt (a UDP connect to the
   metadata address must fail with ENETUNREACH); when it cannot be had, the guard (6)
   refuses every network call instead, and the report says so.
2. **the file wall**: as root, a private mount namespace whose root is an empty,
   read-only ``tmpfs`` holding only Python's import roots (bound read-only, at their own
   paths) and ``/dev/null``, ``/dev/zero``, ``/dev/urandom``: no ``/etc``, ``/home``,
   ``/root``, ``/proc``, ``/tmp`` or ``/sys`` of the host exist for the child
   (``pivot_root``, the old root detached). Then **Landlock** (Linux 5.13+, also without
   root): read-only access beneath the import roots, nothing else; no TCP, no abstract
   Unix sockets, no signals outside the sandbox (by the kernel's Landlock ABI). Either one
   is a wall; the report names which held (``files``).
3. **no new privileges** (``PR_SET_NO_NEW_PRIVS``), **not dumpable** (no ``ptrace`` of
   the sandbox's own processes), and **an unprivileged user** when started as root:
   ``setgroups([])``, then the configured uid/gid (``nobody`` by default) as real,
   effective and saved ids; checked by trying to get root back. If this fails the child
   runs no reward code at all (fail closed).
4. the reward runs in a forked worker (``_child``) with its resource limits; the parent
   gave the child a minimal environment (no ``AWS_*``, no ``PITSTOP_*``, nothing
   inherited). The worker cannot reach the result channel: its descriptor is closed in
   the worker, and only the child's own code, which never runs reward code, writes it.
5. **the guard**: an audit hook (``sys.addaudithook``) that watches file, directory,
   socket, process, signal and ``ctypes`` events. Every attempt is recorded, with the
   layer that stopped it; the validator rejects the reward function for any attempt,
   even one the reward caught and ignored. Where an outer layer refuses the operation by
   itself (a file outside the wall, a socket in the empty namespace), the guard lets the
   call reach it, so the record says which layer held; the guard refuses everything else
   itself.

The guard is a layer that names mistakes, not the boundary: reward code in the same
process can switch it off (docs/security.md), and then meets 1-4 alone.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import ipaddress
import os
import platform
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
# syscall numbers: pivot_root differs per architecture; Landlock's are the same everywhere
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
PROBE_ADDRESS = ("169.254.169.254", 80)  # the instance metadata service
MAX_ATTEMPTS = 100
NOBODY = 65534  # nobody's uid and gid on Debian/Ubuntu/Amazon Linux

GUARD = "the in-process guard"
NETNS = "the network namespace (the sandbox has no network)"
MOUNTNS = "the mount namespace (the sandbox sees only Python's library)"
LANDLOCK = "Landlock (the sandbox may read only Python's library)"
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")

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
    files: str = GUARD  # MOUNTNS or LANDLOCK: the kernel wall that holds the file system
    files_note: str = ""  # why a wall is missing
    landlock_abi: int = 0  # the kernel's Landlock ABI (0: none); > 0 once it is applied
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
            "files": self.files,
            "files_note": self.files_note,
            "landlock": self.landlock_abi > 0,
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


def not_dumpable() -> None:
    """No ptrace of this process by another of the same user (the reward's worker)."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def die_with_parent(parent: int) -> bool:
    """SIGKILL this process when ``parent`` exits; False when it has already gone."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    return os.getppid() == parent


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    import ctypes

    enc = os.fsencode
    rc = _libc().mount(
        enc(source) if source else None,
        enc(target),
        enc(fstype) if fstype else None,
        ctypes.c_ulong(flags),
        enc(data) if data else None,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _bind_read_only(source: str, target: str, *, devices: bool = False) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | (0 if devices else MS_NODEV)
    _mount(None, target, None, flags)


def _outermost(roots: Iterable[str]) -> list[str]:
    """The roots that are not inside another root (a bind of the outer one brings them)."""
    out: list[str] = []
    for r in sorted({r.rstrip("/") or "/" for r in roots}):
        if not any(r == o or r.startswith(o + "/") for o in out):
            out.append(r)
    return out


def enter_mount_namespace(conf: Confinement, roots: Iterable[str], workdir: str) -> None:
    """As root: make the child's root an empty read-only tmpfs with only ``roots`` in it.

    ``roots`` (real paths) are bound read-only at their own paths, so ``sys.path`` keeps
    working; the host's root is detached. Sets ``conf.files`` to MOUNTNS, or leaves a note.
    """
    import ctypes

    if os.geteuid() != 0:
        conf.files_note = "no mount namespace: not started as root"
        return
    if SYS_PIVOT_ROOT is None:
        conf.files_note = f"no mount namespace: pivot_root unknown on {platform.machine()}"
        return
    try:
        err = _unshare(CLONE_NEWNS)
    except (OSError, AttributeError) as e:
        conf.files_note = f"no mount namespace: unshare unavailable ({e})"
        return
    if err:
        conf.files_note = f"unshare(CLONE_NEWNS) refused: {os.strerror(err)}"
        return
    new = os.path.join(workdir, "root")
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing leaks back to the host
        os.makedirs(new, mode=0o711, exist_ok=True)
        _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711,size=1m")
        for root in _outermost(roots):
            target = new + root
            is_dir = os.path.isdir(root)
            os.makedirs(target if is_dir else os.path.dirname(target), mode=0o711, exist_ok=True)
            if not is_dir:
                with open(target, "wb"):
                    pass
            _bind_read_only(root, target)
        os.makedirs(new + "/dev", mode=0o755, exist_ok=True)
        for dev in DEVICES:
            with open(new + dev, "wb"):
                pass
            _bind_read_only(dev, new + dev, devices=True)
        os.mkdir(new + "/.old", 0o700)
        os.chdir(new)
        if _libc().syscall(ctypes.c_long(SYS_PIVOT_ROOT), b".", b".old") != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"pivot_root: {os.strerror(err)}")
        os.chdir("/")
        if _libc().umount2(b"/.old", MNT_DETACH) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"detach the old root: {os.strerror(err)}")
        os.rmdir("/.old")
        _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    except OSError as e:
        # half a wall is no wall: the caller fails closed unless Landlock holds
        conf.files_note = f"mount namespace failed: {e.strerror or e}"
        conf.failure = conf.failure or f"the file wall could not be built ({conf.files_note})"
        return
    conf.files = MOUNTNS


# Landlock (linux/landlock.h): file access rights by ABI version, network and scope rights
_LL_FS = {1: (1 << 13) - 1, 2: 1 << 13, 3: 1 << 14, 5: 1 << 15}
_LL_READ_FILE, _LL_READ_DIR = 1 << 2, 1 << 3
_LL_NET_TCP = 0b11  # bind and connect (ABI 4)
_LL_SCOPE = 0b11  # abstract Unix sockets and signals (ABI 6)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or this is not Linux)."""
    import ctypes

    try:
        abi = _libc().syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, 0, 1)
    except (OSError, AttributeError):
        return 0
    return max(int(abi), 0)


def enter_landlock(conf: Confinement, readable: Iterable[str]) -> None:
    """Read-only access beneath ``readable``, nothing else (this process and its children).

    May be called again (in the worker): each call adds a nested domain, which also cuts
    the worker off from signalling its parent (ABI 6 scopes)."""
    import ctypes

    abi = landlock_abi()
    if abi < 1:
        conf.files_note = (conf.files_note + "; " if conf.files_note else "") + "no Landlock"
        return
    fs = 0
    for version, bits in _LL_FS.items():
        if abi >= version:
            fs |= bits

    class RulesetAttr(ctypes.Structure):
        _fields_ = [
            ("handled_access_fs", ctypes.c_uint64),
            ("handled_access_net", ctypes.c_uint64),
            ("scoped", ctypes.c_uint64),
        ]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = RulesetAttr(fs, _LL_NET_TCP if abi >= 4 else 0, _LL_SCOPE if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    libc = _libc()
    call = libc.syscall
    fd = call(
        ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size), 0
    )
    if fd < 0:
        conf.files_note = f"Landlock ruleset refused: {os.strerror(ctypes.get_errno())}"
        return
    try:
        for path in readable:
            try:
                pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # not there (inside the mount wall): nothing to allow
            try:
                rights = _LL_READ_FILE | (_LL_READ_DIR if os.path.isdir(path) else 0)
                rule = PathBeneath(rights, pfd)
                if call(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), fd, 1, ctypes.byref(rule), 0) != 0:
                    conf.files_note = f"Landlock rule for {path}: {os.strerror(ctypes.get_errno())}"
                    return
            finally:
                os.close(pfd)
        if call(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), fd, 0) != 0:
            conf.files_note = f"Landlock refused: {os.strerror(ctypes.get_errno())}"
            return
    finally:
        os.close(fd)
    conf.landlock_abi = abi
    if conf.files == GUARD:
        conf.files = LANDLOCK


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

    def _held_outside(self, what: str, path: str, mode: int) -> bool:
        """Record ``what`` as held by the kernel wall or the user's rights, when one holds."""
        if self.conf.files != GUARD:  # the file wall refuses it by itself
            self._outer(what, self.conf.files)
            return True
        if self._os_refuses(path, mode):
            self._outer(what, f"the unprivileged user {self.conf.user}")
            return True
        return False

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
        if not self._held_outside(what, path, os.W_OK if writes else os.R_OK):
            self._refuse(what)

    def _listdir(self, event: str, args: tuple[Any, ...]) -> None:
        path = _path(args[0]) if args and args[0] is not None else os.getcwd()
        if path is None or self._under_roots(path):
            return
        what = f"list {path}"
        if not self._held_outside(what, path, os.R_OK):
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
