"""A stand-in for ``docker`` (the CLI *and* the daemon), for running deepracer-for-cloud's real
scripts in tests. Test code: nothing in ``src/`` knows it exists.

Only the calls DRfC v5.3.3/v6.0.4 (``bin/init.sh``, ``bin/activate.sh``, ``dr-start-training``,
``dr-stop-training``, ...) and pitstop's ``drfc`` backend make are implemented, with the
rules of the real thing that matter to them:

- swarm: ``stack deploy`` needs an initialised swarm, its external networks and, per task, a
  node whose labels satisfy the placement constraints; a *bind source that does not exist on
  the host fails the task* (state Rejected), swarm never creates it; deploying onto a stack
  that exists is an update this stand-in does not model (it refuses, loudly); ``stack rm``
  deletes the services at once and the containers shut down afterwards (SIGTERM, SIGKILL
  after 10 s); restart policies other than ``none`` are refused.
- compose (the SageMaker container that rl_coach starts through the docker socket): bind
  sources are created when missing, as the engine does for short volume syntax.
- "the host" is this machine, except ``/tmp``: the daemon's ``/tmp`` is
  ``$DOCKER_STANDIN_HOST_TMP``, so a caller with a private ``/tmp`` (systemd's
  ``PrivateTmp=true``) sees a different ``/tmp/sagemaker`` than containers do.
- containers are local processes (see ``containers.py``): each runs under a small shim that
  records its exit code, so they outlive the ``docker`` call that started them, like
  containers outlive the CLI. When a container's main process ends, the rest of its
  processes are killed (the container's PID namespace goes away).
- what containers get: the environment their compose file gives them, and, standing in for
  the instance's network and metadata service, ``AWS_ENDPOINT_URL`` and the instance role's
  ``AWS_*`` credentials from the calling environment when the compose file sets none, plus the
  test's ``PITSTOP_SIMULATION``/``PITSTOP_ATTEMPT``/``PITSTOP_JOB_ID`` (pace and faults of the
  simulated trainer: the one thing a real container would not get).

Any other call exits 125 with a message naming it, and is appended to
``$DOCKER_STANDIN_STATE/unsupported.log`` (the test fixtures fail on it), so a new DRfC
version cannot pass by accident. All state is under ``$DOCKER_STANDIN_STATE``; nothing global.
Test controls (not docker commands): ``docker __reboot`` (kill every container, keep swarm
state, as a reboot does), ``docker __exit NAME CODE`` (the one running container whose name
contains NAME: its main process exits with CODE, the other containers run on, as when one
worker dies), ``docker __restarting NAME COUNT`` (that container shows docker's
``restarting`` state with ``RestartCount`` COUNT, as a container in a restart loop does, its
process still running), ``docker __shim CID`` (internal).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONTAINERS_PY = HERE / "containers.py"
DOCKER = HERE / "bin" / "docker"
GPU_BIN = HERE / "gpu"
VERSION = "Docker version 28.2.2, build standin"
STOP_GRACE_S = 10.0
PASSTHROUGH = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "PITSTOP_SIMULATION",
    "PITSTOP_ATTEMPT",
    "PITSTOP_JOB_ID",
)
ARGV = sys.argv[1:]


class Unsupported(Exception):
    pass


class Fail(Exception):
    """A docker error: message on stderr, exit code (1 unless said)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def state_dir() -> Path:
    path = os.environ.get("DOCKER_STANDIN_STATE")
    if not path:
        raise Unsupported("DOCKER_STANDIN_STATE is not set")
    p = Path(path)
    (p / "exits").mkdir(parents=True, exist_ok=True)
    (p / "logs").mkdir(exist_ok=True)
    return p


def host_path(path: str) -> Path:
    """Where a host path the daemon is given really is."""
    if path == "/tmp" or path.startswith("/tmp/"):
        root = os.environ.get("DOCKER_STANDIN_HOST_TMP")
        if not root:
            raise Unsupported("DOCKER_STANDIN_HOST_TMP is not set")
        return Path(root) / path[len("/tmp") :].lstrip("/")
    return Path(path)


# -- state ---------------------------------------------------------------------------------


class State:
    """The daemon's state: one JSON document, read and written under an exclusive lock."""

    def __init__(self) -> None:
        self.dir = state_dir()
        self.closed = False
        self._lock = (self.dir / "lock").open("a")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        path = self.dir / "state.json"
        self.doc: dict[str, Any] = (
            json.loads(path.read_text())
            if path.exists()
            else {"swarm": None, "networks": {}, "images": {}, "stacks": {}, "containers": {}}
        )
        for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
            self.doc["networks"].setdefault(name, _network(name, driver, "local", {}, None))
        self.reconcile()

    def save(self) -> None:
        path = self.dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.doc, indent=1))
        tmp.replace(path)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.save()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()

    @property
    def containers(self) -> dict[str, dict[str, Any]]:
        return self.doc["containers"]  # type: ignore[no-any-return]

    def reconcile(self) -> None:
        """Notice containers that ended; finish stack removals."""
        now = time.time()
        for c in self.containers.values():
            if c["state"] == "running" and not _alive(c):
                exit_file = self.dir / "exits" / c["id"]
                code = int(exit_file.read_text()) if exit_file.exists() else 137
                c.update(state="exited", exit_code=code, finished=now)
        for name, stack in list(self.doc["stacks"].items()):
            if stack.get("removing") is None:
                continue
            mine = [c for c in self.containers.values() if c.get("stack") == name]
            for c in mine:
                if c["state"] == "running" and now - stack["removing"] > STOP_GRACE_S:
                    _signal(c, signal.SIGKILL)
            if all(c["state"] != "running" for c in mine):
                for c in mine:
                    del self.containers[c["id"]]
                del self.doc["stacks"][name]

    def find(self, ref: str) -> dict[str, Any] | None:
        for c in self.containers.values():
            if c["id"].startswith(ref) or c["name"] == ref:
                return c
        return None

    def container(self, ref: str) -> dict[str, Any]:
        c = self.find(ref)
        if c is None:
            raise Fail(f"Error response from daemon: No such container: {ref}")
        return c


def _network(
    name: str, driver: str, scope: str, labels: dict[str, str], subnet: str | None
) -> dict[str, Any]:
    return {
        "Name": name,
        "Id": secrets.token_hex(32),
        "Driver": driver,
        "Scope": scope,
        "Labels": labels,
        "IPAM": {"Config": [{"Subnet": subnet}] if subnet else []},
        "Containers": {},
    }


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


def _alive(c: dict[str, Any]) -> bool:
    return bool(c.get("pid")) and _start_time(c["pid"]) == c.get("pid_start")


def _signal(c: dict[str, Any], sig: int) -> None:
    if _alive(c):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(c["pid"], sig)


def _launch(st: State, c: dict[str, Any]) -> None:
    """Start the container's shim in its own session: it outlives this docker call."""
    (st.dir / "exits" / c["id"]).unlink(missing_ok=True)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "__shim", c["id"]],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    c.update(pid=proc.pid, pid_start=None, state="running", started=time.time(), exit_code=None)
    for _ in range(200):  # the start time identifies the shim, not a recycled pid
        c["pid_start"] = _start_time(proc.pid)
        if c["pid_start"]:
            break
        time.sleep(0.005)


def _new_container(
    st: State,
    name: str,
    image: str,
    command: list[str],
    env: dict[str, str],
    labels: dict[str, str],
    **extra: Any,
) -> dict[str, Any]:
    if any(c["name"] == name for c in st.containers.values()):
        raise Fail(
            f'Error response from daemon: Conflict. The container name "/{name}" is already in use'
        )
    cid = secrets.token_hex(32)
    c = {
        "id": cid,
        "name": name,
        "image": image,
        "command": command,
        "argv": _entrypoint(image, command),
        "env": env,
        "labels": labels,
        "created": time.time(),
        "state": "created",
        "exit_code": None,
        **extra,
    }
    st.containers[cid] = c
    return c


def _entrypoint(image: str, command: list[str]) -> list[str]:
    """What a container of ``image`` runs: the role programs of ``containers.py``."""
    joined = " ".join(command)
    if "deepracer-simapp" in image:
        if "rl_coach/start.py" in joined:
            return [sys.executable, str(CONTAINERS_PY), "rl_coach"]
        if "distributed_training.launch" in joined:
            return [sys.executable, str(CONTAINERS_PY), "robomaker"]
        if "evaluation.launch" in joined:  # dr-start-evaluation's ROBOMAKER_COMMAND
            return [sys.executable, str(CONTAINERS_PY), "robomaker_eval"]
        if joined == "/bin/bash -c echo No work for coach in Evaluation Mode":
            return [sys.executable, str(CONTAINERS_PY), "coach_idle"]
        if joined == "train":
            return [sys.executable, str(CONTAINERS_PY), "sagemaker"]
    raise Unsupported(f"no stand-in for running {image!r} with command {joined!r}")


def _container_env(
    service_env: dict[str, str], caller: dict[str, str], binds: dict[str, str]
) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root"}
    for key in PASSTHROUGH:
        if caller.get(key) and not service_env.get(key):
            env[key] = caller[key]
    env.update({k: v for k, v in service_env.items() if not (k in PASSTHROUGH and v == "")})
    env.update(
        STANDIN_BINDS=json.dumps(binds),
        STANDIN_DOCKER=str(DOCKER),
        DOCKER_STANDIN_STATE=os.environ["DOCKER_STANDIN_STATE"],
        DOCKER_STANDIN_HOST_TMP=os.environ.get("DOCKER_STANDIN_HOST_TMP", ""),
    )
    return env


# -- compose files ---------------------------------------------------------------------------

_VAR = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1) or m.group(4)
            current = env.get(name)
            if m.group(2) == ":-" and not current:
                return m.group(3)
            if m.group(2) == "-" and current is None:
                return m.group(3)
            return current or ""

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def _env_dict(entries: Any, caller: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    items = (
        entries.items()
        if isinstance(entries, dict)
        else [[*e.split("=", 1), None][:2] for e in entries or []]
    )
    for key, value in items:
        if value is None:  # "NAME" alone: the caller's value, if any
            if key in caller:
                out[key] = caller[key]
        else:
            out[key] = str(value)
    return out


def load_compose(files: list[str], caller: dict[str, str]) -> dict[str, Any]:
    import yaml

    merged: dict[str, Any] = {"services": {}, "networks": {}}
    for f in files:
        try:
            doc = yaml.safe_load(Path(f).read_text()) or {}
        except OSError as e:
            raise Fail(f"open {f}: {e.strerror}") from None
        doc = interpolate(doc, caller)
        merged["networks"].update(doc.get("networks") or {})
        for name, svc in (doc.get("services") or {}).items():
            into = merged["services"].setdefault(
                name, {"environment": {}, "volumes": [], "deploy": {}}
            )
            for key, value in svc.items():
                if key == "environment":
                    into["environment"].update(_env_dict(value, caller))
                elif key in ("volumes", "ports"):
                    into.setdefault(key, []).extend(value)
                elif key == "deploy":
                    for k, v in value.items():
                        if isinstance(v, dict):
                            into["deploy"].setdefault(k, {}).update(v)
                        else:
                            into["deploy"][k] = v
                else:
                    into[key] = value
    return merged


def _command(svc: dict[str, Any]) -> list[str]:
    cmd = svc.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def _binds(svc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, dict) or ":" not in v:
            raise Unsupported(f"volume {v!r} (only SRC:DST bind mounts are modelled)")
        src, dst = v.split(":")[:2]
        out.append((src, dst))
    return out


def _bind_exists(src: str) -> bool:
    return src == "/var/run/docker.sock" or host_path(src).exists()


# -- output -----------------------------------------------------------------------------------


def _fmt_value(obj: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def render(fmt: str, obj: Any) -> str:
    """The subset of Go templates DRfC's --format strings use."""
    fmt = fmt.replace("\\t", "\t").replace("\\n", "\n")
    out: list[str] = []
    pos = 0
    for m in re.finditer(r"\{\{\s*(.*?)\s*\}\}", fmt):
        if m.start() < pos:  # inside a range body, rendered already
            continue
        out.append(fmt[pos : m.start()])
        pos = m.end()
        expr = m.group(1)
        if expr.startswith("range "):
            end = fmt.index("{{end}}", pos)
            body = fmt[pos:end]
            pos = end + len("{{end}}")
            for item in _fmt_value(obj, expr[6:].strip()) or []:
                out.append(render(body, item))
        elif expr == "json .":
            out.append(json.dumps(obj))
        elif expr.startswith("json ."):
            out.append(json.dumps(_fmt_value(obj, expr[5:])))
        elif m2 := re.fullmatch(r'index \.(\S+) "([^"]+)"', expr):
            value = (_fmt_value(obj, m2.group(1)) or {}).get(m2.group(2))
            out.append("" if value is None else str(value))
        elif expr.startswith("len ."):
            out.append(str(len(_fmt_value(obj, expr[4:]) or [])))
        elif re.fullmatch(r"\.[A-Za-z][A-Za-z0-9.]*", expr):
            value = _fmt_value(obj, expr)
            out.append(
                ""
                if value is None
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
        else:
            raise Unsupported(f"template {{{{{expr}}}}}")
    out.append(fmt[pos:])
    return "".join(out)


def _ago(t: float | None) -> str:
    s = int(time.time() - (t or time.time()))
    return f"{s} seconds ago" if s < 60 else f"{s // 60} minutes ago"


def shown_state(c: dict[str, Any]) -> str:
    """The state docker shows: a running container marked by ``__restarting`` is restarting."""
    return "restarting" if c["state"] == "running" and c.get("restarting") else str(c["state"])


def ps_row(c: dict[str, Any]) -> dict[str, Any]:
    running = c["state"] == "running"
    status = (
        f"Restarting ({c.get('restart_exit_code', 1)}) {_ago(c.get('started'))}"
        if shown_state(c) == "restarting"
        else f"Up {int(time.time() - c['started'])} seconds"
        if running
        else (
            f"Exited ({c['exit_code']}) {_ago(c.get('finished'))}"
            if c["state"] == "exited"
            else "Created"
        )
    )
    return {
        "ID": c["id"][:12],
        "Names": c["name"],
        "Image": c["image"],
        "Command": '"' + " ".join(c["command"])[:20] + '"',
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c["created"])),
        "RunningFor": _ago(c["created"]),
        "Status": status,
        "State": shown_state(c),
        "Ports": "",
        "Labels": ",".join(f"{k}={v}" for k, v in c["labels"].items()),
    }


def inspect_container(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": c["id"],
        "Name": "/" + c["name"],
        "Created": c["created"],
        "State": {
            "Status": shown_state(c),
            "Running": c["state"] == "running",
            "Restarting": shown_state(c) == "restarting",
            "OOMKilled": False,
            "Dead": False,
            "Pid": c.get("pid") or 0 if c["state"] == "running" else 0,
            "ExitCode": c["exit_code"] if c["exit_code"] is not None else 0,
        },
        "RestartCount": int(c.get("restart_count", 0)),
        "Config": {
            "Image": c["image"],
            "Env": [f"{k}={v}" for k, v in c["env"].items()],
            "Labels": c["labels"],
            "Cmd": c["command"],
        },
    }


# -- argument parsing -------------------------------------------------------------------------


def options(
    args: list[str], switches: str = "", valued: str = ""
) -> tuple[dict[str, list[str]], list[str]]:
    """Parse ``args``: ``switches`` and ``valued`` name the known options (space-separated);
    any other option is an unsupported call."""
    flags = {name: False for name in switches.split()} | {name: True for name in valued.split()}
    opts: dict[str, list[str]] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and a != "-":
            name, eq, value = a.partition("=")
            if name not in flags:
                raise Unsupported(f"option {name}")
            if flags[name] and not eq:
                i += 1
                value = args[i]
            opts.setdefault(name, []).append(value if flags[name] or eq else "true")
        else:
            rest.append(a)
        i += 1
    return opts, rest


def _filters(opts: dict[str, list[str]]) -> list[tuple[str, str]]:
    out = []
    for f in opts.get("--filter", []) + opts.get("-f", []):
        key, _, value = f.partition("=")
        if key not in ("name", "id", "status", "label"):
            raise Unsupported(f"filter {key}")
        out.append((key, value))
    return out


def _matches(c: dict[str, Any], filters: list[tuple[str, str]]) -> bool:
    for key, value in filters:
        if key == "name" and not re.search(value, c["name"]):
            return False
        if key == "id" and not c["id"].startswith(value):
            return False
        if key == "status" and shown_state(c) != value:
            return False
        if key == "label":
            k, _, v = value.partition("=")
            if k not in c["labels"] or (v and c["labels"][k] != v):
                return False
    return True


# -- commands ---------------------------------------------------------------------------------


def cmd_ps(st: State, args: list[str]) -> str:
    opts, rest = options(args, "-a --all -q --quiet --no-trunc", "--filter -f --format")
    if rest:
        raise Unsupported(f"ps arguments {rest}")
    everything = "-a" in opts or "--all" in opts
    shown = [
        c
        for c in st.containers.values()
        if (everything or c["state"] == "running") and _matches(c, _filters(opts))
    ]
    shown.sort(key=lambda c: c["created"], reverse=True)  # newest first, as docker lists them
    rows = [ps_row(c) for c in shown]
    if "--no-trunc" in opts:
        for row, c in zip(rows, shown, strict=True):
            row["ID"] = c["id"]
    if "-q" in opts or "--quiet" in opts:
        return "".join(r["ID"] + "\n" for r in rows)
    if "--format" in opts:
        return "".join(render(opts["--format"][0], r) + "\n" for r in rows)
    head = "CONTAINER ID   IMAGE   COMMAND   CREATED   STATUS   PORTS   NAMES\n"
    return head + "".join(
        f"{r['ID']}   {r['Image']}   {r['Command']}   {r['RunningFor']}   {r['Status']}      {r['Names']}\n"
        for r in rows
    )


def _swarm(st: State) -> dict[str, Any]:
    if not st.doc["swarm"]:
        raise Fail(
            'Error response from daemon: This node is not a swarm manager. Use "docker swarm init" '
            'or "docker swarm join" to connect this node to swarm and try again.'
        )
    return st.doc["swarm"]  # type: ignore[no-any-return]


def _node_doc(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "ID": node["id"],
        "Description": {"Hostname": "standin"},
        "Spec": {"Labels": node["labels"], "Role": "manager", "Availability": "active"},
        "Status": {"State": "ready"},
    }


def cmd_swarm(st: State, args: list[str]) -> str:
    if args[:1] != ["init"]:
        raise Unsupported("swarm " + " ".join(args))
    options(args[1:], "", "--advertise-addr")
    if st.doc["swarm"]:
        raise Fail("Error response from daemon: This node is already part of a swarm.")
    st.doc["swarm"] = {"id": secrets.token_hex(13)[:25], "labels": {}}
    return f"Swarm initialized: current node ({st.doc['swarm']['id']}) is now a manager.\n"


def cmd_node(st: State, args: list[str]) -> str:
    sub, rest = args[0] if args else "", args[1:]
    node = _swarm(st)
    if sub == "inspect":
        opts, refs = options(rest, "", "--format -f")
        if refs not in (["self"], [node["id"]]):
            raise Fail(f"Error: No such node: {' '.join(refs)}")
        doc = _node_doc(node)
        fmt = (opts.get("--format") or opts.get("-f") or [None])[0]
        return render(fmt, doc) + "\n" if fmt else json.dumps([doc], indent=4) + "\n"
    if sub == "update":
        opts, refs = options(rest, "", "--label-add")
        if refs not in (["self"], [node["id"]]):
            raise Fail(f"Error: No such node: {' '.join(refs)}")
        for label in opts.get("--label-add", []):
            k, _, v = label.partition("=")
            node["labels"][k] = v
        return node["id"] + "\n"
    if sub == "ls":
        opts, _ = options(rest, "-q", "--format")
        if "--format" in opts:
            return render(opts["--format"][0], {"ID": node["id"], "Hostname": "standin"}) + "\n"
        if "-q" in opts:
            return node["id"] + "\n"
        return f"ID   HOSTNAME   STATUS   AVAILABILITY   MANAGER STATUS\n{node['id']} *   standin   Ready   Active   Leader\n"
    raise Unsupported("node " + " ".join(args))


def cmd_network(st: State, args: list[str]) -> str:
    sub, rest = args[0] if args else "", args[1:]
    nets = st.doc["networks"]
    if sub == "ls":
        opts, _ = options(rest, "-q", "--format")
        if "-q" in opts:
            return "".join(n["Id"][:12] + "\n" for n in nets.values())
        if "--format" in opts:
            return "".join(render(opts["--format"][0], n) + "\n" for n in nets.values())
        return "NETWORK ID   NAME   DRIVER   SCOPE\n" + "".join(
            f"{n['Id'][:12]}   {n['Name']}   {n['Driver']}   {n['Scope']}\n" for n in nets.values()
        )
    if sub == "create":
        opts, names = options(rest, "--attachable", "-d --driver --scope --subnet --label")
        name = names[0]
        if name in nets:
            raise Fail(f"Error response from daemon: network with name {name} already exists")
        driver = (opts.get("-d") or opts.get("--driver") or ["bridge"])[0]
        if driver == "overlay":
            _swarm(st)
        labels = dict(label.partition("=")[::2] for label in opts.get("--label", []))
        nets[name] = _network(
            name,
            driver,
            (opts.get("--scope") or ["local"])[0],
            labels,
            (opts.get("--subnet") or [None])[0],
        )
        return nets[name]["Id"] + "\n"
    if sub == "rm":
        for name in rest:
            if nets.pop(name, None) is None:
                raise Fail(f"Error response from daemon: network {name} not found")
        return "".join(n + "\n" for n in rest)
    if sub == "inspect":
        opts, refs = options(rest, "", "--format -f")
        found = [n for r in refs for n in nets.values() if r in (n["Name"], n["Id"], n["Id"][:12])]
        if len(found) != len(refs):
            raise Fail(f"Error response from daemon: network {refs[-1]} not found")
        fmt = (opts.get("--format") or opts.get("-f") or [None])[0]
        return (
            "".join(render(fmt, n) + "\n" for n in found)
            if fmt
            else json.dumps(found, indent=4) + "\n"
        )
    raise Unsupported("network " + " ".join(args))


def _image_doc(ref: str, img: dict[str, Any]) -> dict[str, Any]:
    return {"Id": img["id"], "RepoTags": [ref], "Config": {"Labels": img["labels"]}}


def _pull(st: State, ref: str) -> None:
    tag = ref.rsplit(":", 1)[1] if ":" in ref.rsplit("/", 1)[-1] else "latest"
    version = re.match(r"^(\d+\.\d+\.\d+)", tag)
    labels = {"version": version.group(1)} if version and "deepracer-simapp" in ref else {}
    st.doc["images"][ref] = {"id": "sha256:" + secrets.token_hex(32), "labels": labels}


def cmd_pull(st: State, args: list[str]) -> str:
    _, refs = options(args, "-q")
    _pull(st, refs[0])
    return f"{refs[0].rsplit(':', 1)[-1]}: Pulling from {refs[0]}\nStatus: Downloaded newer image for {refs[0]}\n"


def cmd_inspect(st: State, args: list[str], kind: str | None = None) -> str:
    opts, refs = options(args, "", "--format -f --type")
    fmt = (opts.get("--format") or opts.get("-f") or [None])[0]
    docs: list[Any] = []
    missing = []
    for ref in refs:
        c = st.find(ref) if kind in (None, "container") else None
        node = (
            st.doc["swarm"]
            if kind is None and st.doc["swarm"] and ref == st.doc["swarm"]["id"]
            else None
        )
        img = st.doc["images"].get(ref) if kind in (None, "image") else None
        if c is not None:
            docs.append(inspect_container(c))
        elif node is not None:
            docs.append(_node_doc(node))
        elif img is not None:
            docs.append(_image_doc(ref, img))
        else:
            missing.append(ref)
    out = "".join(render(fmt, d) + "\n" for d in docs) if fmt else json.dumps(docs, indent=4) + "\n"
    if missing:
        sys.stdout.write(out)
        raise Fail(f"Error: No such object: {missing[0]}")
    return out


def cmd_logs(st: State, args: list[str]) -> str:
    opts, refs = options(args, "-t", "--tail --since")
    c = st.container(refs[0])
    lines = (
        (st.dir / "logs" / f"{c['id']}.log").read_text(errors="replace").splitlines(keepends=True)
        if (st.dir / "logs" / f"{c['id']}.log").exists()
        else []
    )
    tail = opts.get("--tail", ["all"])[0]
    return "".join(lines if tail == "all" else lines[-int(tail) :])


def _stop(st: State, cs: list[dict[str, Any]], timeout: float) -> None:
    """SIGTERM, wait, SIGKILL: with the lock released while waiting."""
    for c in cs:
        _signal(c, signal.SIGTERM)
    st.close()
    deadline = time.time() + timeout
    while any(_alive(c) for c in cs) and time.time() < deadline:
        time.sleep(0.05)
    for c in cs:
        _signal(c, signal.SIGKILL)
    while any(_alive(c) for c in cs):
        time.sleep(0.05)
    st.__init__()  # type: ignore[misc]


def cmd_stop(st: State, args: list[str]) -> str:
    opts, refs = options(args, "", "-t --time")
    cs = [st.container(r) for r in refs]
    _stop(st, cs, float((opts.get("-t") or opts.get("--time") or [STOP_GRACE_S])[0]))
    return "".join(r + "\n" for r in refs)


def cmd_rm(st: State, args: list[str]) -> str:
    opts, refs = options(args, "-f --force -v --volumes")
    for ref in refs:
        c = st.container(ref)
        if c["state"] == "running":
            if "-f" not in opts and "--force" not in opts:
                raise Fail(
                    f'Error response from daemon: cannot remove container "/{c["name"]}": container is running: stop the container before removing or force remove'
                )
            _stop(st, [c], 0)
            c = st.container(ref)
        if c.get("stack"):
            raise Unsupported("removing a swarm task's container")
        del st.containers[c["id"]]
    return "".join(r + "\n" for r in refs)


def cmd_run(st: State, args: list[str]) -> int:
    """``docker run --rm [--gpus all] IMAGE CMD...``: a foreground command with the host's tools."""
    i = 0
    opts: dict[str, str] = {}
    while i < len(args) and args[i].startswith("-"):
        name, eq, value = args[i].partition("=")
        if name not in ("--rm", "--gpus", "--pull"):
            raise Unsupported(f"run option {name}")
        if name in ("--gpus", "--pull") and not eq:
            i += 1
            value = args[i]
        opts[name] = value
        i += 1
    image, command = args[i], args[i + 1 :]
    if image not in st.doc["images"]:
        if opts.get("--pull") != "missing":
            raise Fail(f"Unable to find image '{image}' locally", 125)
        _pull(st, image)
    if "--rm" not in opts or not command or command[0] not in ("bash", "sh", "nvidia-smi"):
        raise Unsupported(f"run {image} {command}")
    if command[0] == "bash" and command[1:2] == ["-lc"]:
        command = [
            "bash",
            "--noprofile",
            "--norc",
            "-c",
            *command[2:],
        ]  # a container has no profile
    path = os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
    path = [p for p in path if Path(p).resolve() != GPU_BIN]
    if opts.get("--gpus") == "all":
        path.insert(0, str(GPU_BIN))
    st.close()
    return subprocess.run(command, env={**os.environ, "PATH": os.pathsep.join(path)}).returncode


def cmd_info(st: State, args: list[str]) -> str:
    opts, _ = options(args, "", "--format -f")
    doc = {
        "ServerVersion": "28.2.2",
        "Swarm": {
            "LocalNodeState": "active" if st.doc["swarm"] else "inactive",
            "NodeID": (st.doc["swarm"] or {}).get("id", ""),
        },
        "DefaultRuntime": "nvidia",
        "Runtimes": {"nvidia": {}, "runc": {}},
        "Containers": len(st.containers),
        "ContainersRunning": sum(c["state"] == "running" for c in st.containers.values()),
    }
    fmt = (opts.get("--format") or opts.get("-f") or [None])[0]
    return (
        render(fmt, doc) + "\n"
        if fmt
        else f"Server Version: 28.2.2\nSwarm: {doc['Swarm']['LocalNodeState']}\n"
    )


# -- stacks -----------------------------------------------------------------------------------

_CONSTRAINT = re.compile(r"^node\.labels\.(\w+)\s*==\s*(\S+)$")
TERMINAL = ("complete", "failed", "rejected", "shutdown")


def _task_state(st: State, task: dict[str, Any]) -> str:
    c = st.containers.get(task.get("container") or "")
    if task["state"] in ("rejected", "pending"):
        return task["state"]
    if c is None or task["state"] == "shutdown":
        return "shutdown"
    if c["state"] == "running":
        return "running"
    return "complete" if c["exit_code"] == 0 else "failed"


def cmd_stack(st: State, args: list[str]) -> str:
    sub, rest = args[0] if args else "", args[1:]
    if sub == "deploy":
        opts, names = options(rest, "--prune", "-c --compose-file --detach")
        if len(names) != 1:
            raise Unsupported("stack deploy " + " ".join(rest))
        return _deploy(st, names[0], opts.get("-c", []) + opts.get("--compose-file", []))
    if sub == "ps":
        opts, names = options(rest, "--no-trunc -q", "--format --filter -f")
        if opts.get("--filter") or opts.get("-f"):
            raise Unsupported("stack ps --filter")
        stack = st.doc["stacks"].get(names[0]) if names else None
        if stack is None or stack.get("removing") is not None:
            raise Fail(f"nothing found in stack: {names[0] if names else ''}")
        rows = []
        for t in stack["tasks"]:
            state = _task_state(st, t)
            c = st.containers.get(t.get("container") or "")
            error = t.get("error", "")
            if state == "failed" and c is not None:
                error = f"task: non-zero exit ({c['exit_code']})"
            rows.append(
                {
                    "ID": t["id"] if "--no-trunc" in opts else t["id"][:12],
                    "Name": f"{names[0]}_{t['service']}.{t['slot']}",
                    "Image": t["image"],
                    "Node": "standin",
                    "DesiredState": "Running" if state in ("running", "pending") else "Shutdown",
                    "CurrentState": f"{state.capitalize()} {_ago(t['created'])}",
                    "Error": error,
                    "Ports": "",
                }
            )
        if "-q" in opts:
            return "".join(r["ID"] + "\n" for r in rows)
        if "--format" in opts:
            return "".join(render(opts["--format"][0], r) + "\n" for r in rows)
        return (
            "ID   NAME   IMAGE   NODE   DESIRED STATE   CURRENT STATE   ERROR   PORTS\n"
            + "".join(
                f'{r["ID"]}   {r["Name"]}   {r["Image"]}   {r["Node"]}   {r["DesiredState"]}   {r["CurrentState"]}   "{r["Error"]}"\n'
                for r in rows
            )
        )
    if sub == "rm":
        out = []
        for name in rest:
            stack = st.doc["stacks"].get(name)
            if stack is None or stack.get("removing") is not None:
                out.append(f"Nothing found in stack: {name}\n")
                continue
            for svc in stack["services"]:
                out.append(f"Removing service {name}_{svc}\n")
            stack["removing"] = time.time()
            for c in st.containers.values():
                if c.get("stack") == name:
                    _signal(c, signal.SIGTERM)
        st.reconcile()
        return "".join(out)
    if sub == "ls":
        opts, _ = options(rest, "", "--format")
        live = [n for n, s in st.doc["stacks"].items() if s.get("removing") is None]
        if "--format" in opts:
            return "".join(
                render(
                    opts["--format"][0],
                    {"Name": n, "Services": len(st.doc["stacks"][n]["services"])},
                )
                + "\n"
                for n in live
            )
        return "NAME   SERVICES\n" + "".join(
            f"{n}   {len(st.doc['stacks'][n]['services'])}\n" for n in live
        )
    raise Unsupported("stack " + " ".join(args))


def _deploy(st: State, name: str, files: list[str]) -> str:
    node = _swarm(st)
    old = st.doc["stacks"].get(name)
    if old is not None and old.get("removing") is None:
        raise Unsupported(f"deploying onto existing stack {name} (an in-place update)")
    if old is not None:  # removed, its containers still shutting down: they carry on doing so
        tomb = f"{name}#removed-{old['removing']}"
        st.doc["stacks"][tomb] = st.doc["stacks"].pop(name)
        for c in st.containers.values():
            if c.get("stack") == name:
                c["stack"] = tomb
    caller = dict(os.environ)
    compose = load_compose(files, caller)
    for net, spec in compose["networks"].items():
        real = (spec or {}).get("name", net) if (spec or {}).get("external") else None
        if real and real not in st.doc["networks"]:
            raise Fail(
                f'network "{real}" is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed'
            )
    out = [f"Creating network {name}_default\n"] if "default" not in compose["networks"] else []
    stack = {
        "services": list(compose["services"]),
        "tasks": [],
        "created": time.time(),
        "removing": None,
    }
    st.doc["stacks"][name] = stack
    for svc_name, svc in compose["services"].items():
        out.append(f"Creating service {name}_{svc_name}\n")
        deploy = svc.get("deploy") or {}
        if (deploy.get("restart_policy") or {}).get("condition") != "none":
            raise Unsupported(f"service {svc_name}: restart policies other than condition none")
        constraints = (deploy.get("placement") or {}).get("constraints") or []
        for slot in range(1, int(deploy.get("replicas", 1)) + 1):
            task = {
                "id": secrets.token_hex(13)[:25],
                "service": svc_name,
                "slot": slot,
                "image": svc["image"],
                "created": time.time(),
                "state": "new",
            }
            stack["tasks"].append(task)
            for con in constraints:
                m = _CONSTRAINT.match(con)
                if not m:
                    raise Unsupported(f"placement constraint {con!r}")
                if node["labels"].get(m.group(1)) != m.group(2):
                    task.update(
                        state="pending",
                        error="no suitable node (scheduling constraints not satisfied on 1 node)",
                    )
            if task["state"] == "pending":
                continue
            if svc["image"] not in st.doc["images"]:
                task.update(state="rejected", error=f"No such image: {svc['image']}")
                continue
            missing = [src for src, _ in _binds(svc) if not _bind_exists(src)]
            if missing:
                task.update(
                    state="rejected",
                    error=f'invalid mount config for type "bind": bind source path does not exist: {missing[0]}',
                )
                continue
            env = {k: v.replace("{{.Task.Slot}}", str(slot)) for k, v in svc["environment"].items()}
            binds = {dst: str(host_path(src)) for src, dst in _binds(svc)}
            c = _new_container(
                st,
                f"{name}_{svc_name}.{slot}.{task['id']}",
                svc["image"],
                _command(svc),
                _container_env(env, caller, binds),
                {
                    "com.docker.stack.namespace": name,
                    "com.docker.swarm.service.name": f"{name}_{svc_name}",
                    "com.docker.swarm.task.id": task["id"],
                },
                stack=name,
            )
            task.update(state="running", container=c["id"])
            _launch(st, c)
    return "".join(out)


# -- compose (the SageMaker container) -------------------------------------------------------


def cmd_compose(st: State, args: list[str]) -> int | str:
    files: list[str] = []
    project = None
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i] in ("-f", "--file"):
            files.append(args[i + 1])
        elif args[i] in ("-p", "--project-name"):
            project = args[i + 1]
        else:
            raise Unsupported(f"compose option {args[i]}")
        i += 2
    sub, rest = args[i] if i < len(args) else "", args[i + 1 :]
    if not files:
        raise Unsupported("compose without -f")
    project = project or Path(files[0]).resolve().parent.name
    caller = dict(os.environ)
    compose = load_compose(files, caller)
    if sub == "up":
        opts, services = options(
            rest,
            "-d --detach --abort-on-container-exit --build --force-recreate --remove-orphans",
            "--scale",
        )
        if services:
            raise Unsupported("compose up SERVICE")
        scale: dict[str, int] = {}
        for item in opts.get("--scale", []):  # SERVICE=N: N containers, numbered from 1
            svc_name, _, n = item.partition("=")
            if svc_name not in compose["services"] or not n.isdigit():
                raise Fail(f"no such service: {svc_name}" if n.isdigit() else f"--scale {item}")
            scale[svc_name] = int(n)
        started = []
        for svc_name, svc in compose["services"].items():
            if svc.get("image") not in st.doc["images"]:
                raise Fail(f"Error response from daemon: pull access denied for {svc.get('image')}")
            for src, _ in _binds(svc):
                if not _bind_exists(src):
                    host_path(src).mkdir(parents=True, exist_ok=True)  # the engine creates it
            binds = {dst: str(host_path(src)) for src, dst in _binds(svc)}
            replicas = scale.get(svc_name, 1)
            if replicas > 1 and svc.get("container_name"):
                raise Fail(f'service "{svc_name}" has a container_name: it cannot be scaled')
            for i in range(1, replicas + 1):
                c = _new_container(
                    st,
                    svc.get("container_name") or f"{project}-{svc_name}-{i}",
                    svc["image"],
                    _command(svc),
                    _container_env(svc["environment"], caller, binds),
                    {
                        "com.docker.compose.project": project,
                        "com.docker.compose.service": svc_name,
                        "com.docker.compose.container-number": str(i),
                    },
                    compose_file=str(Path(files[0]).resolve()),
                )
                _launch(st, c)
                started.append(c["id"])
        if "-d" in opts or "--detach" in opts:
            return "".join(f"Container {st.containers[c]['name']}  Started\n" for c in started)
        st.close()
        while True:  # the foreground client: until a container exits (abort-on-container-exit)
            time.sleep(0.25)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(-1, os.WNOHANG)
            st.__init__()  # type: ignore[misc]
            ended = [
                st.containers[c]
                for c in started
                if c in st.containers and st.containers[c]["state"] != "running"
            ]
            gone = [c for c in started if c not in st.containers]
            if ended or gone:
                code = ended[0]["exit_code"] if ended else 1
                sys.stdout.write(
                    f"{ended[0]['name'] if ended else 'container'} exited with code {code}\n"
                )
                st.close()
                return int(code)
            st.close()
    if sub == "stop":
        opts, services = options(rest, "", "-t --timeout")
        cs = [
            c
            for c in st.containers.values()
            if c["labels"].get("com.docker.compose.project") == project
            and (not services or c["labels"].get("com.docker.compose.service") in services)
            and c["state"] == "running"
        ]
        _stop(st, cs, float((opts.get("-t") or opts.get("--timeout") or [STOP_GRACE_S])[0]))
        return "".join(f"Container {c['name']}  Stopped\n" for c in cs)
    if sub == "down":  # dr-stop-evaluation in compose mode: stop, then remove the containers
        opts, services = options(rest, "--remove-orphans -v --volumes", "-t --timeout")
        if services:
            raise Unsupported("compose down SERVICE")
        mine = [
            c
            for c in st.containers.values()
            if c["labels"].get("com.docker.compose.project") == project
        ]
        running = [c for c in mine if c["state"] == "running"]
        _stop(st, running, float((opts.get("-t") or opts.get("--timeout") or [STOP_GRACE_S])[0]))
        st.reconcile()
        for c in mine:
            st.containers.pop(c["id"], None)
        return "".join(f"Container {c['name']}  Removed\n" for c in mine)
    raise Unsupported("compose " + " ".join(args))


# -- test controls ----------------------------------------------------------------------------


def shim(cid: str) -> int:
    """Run container ``cid``'s process, record its exit code, then end the container."""
    st = State()
    c = st.containers[cid]
    argv, env = c["argv"], c["env"]
    log = (st.dir / "logs" / f"{cid}.log").open("ab")
    st.close()
    child = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/"
    )

    def forward(sig: int, _frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(sig)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    code = 128 - code if code < 0 else code
    (st.dir / "exits" / cid).write_text(str(code))
    # the container's PID namespace goes away with its main process: so do its other processes
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(0), signal.SIGKILL)
    return code


def reboot(st: State) -> str:
    """A reboot, as the daemon lives it: every container dies; swarm keeps its stacks (their
    tasks now Failed). Emptying the host's /tmp is the caller's part."""
    for c in st.containers.values():
        _signal(c, signal.SIGKILL)
    deadline = time.time() + 10
    while any(_alive(c) for c in st.containers.values()) and time.time() < deadline:
        time.sleep(0.05)
    st.reconcile()
    return ""


def _one_running(st: State, pattern: str) -> dict[str, Any]:
    """The one running container whose name contains ``pattern`` (a test control's target)."""
    found = [c for c in st.containers.values() if pattern in c["name"] and c["state"] == "running"]
    if len(found) != 1:
        names = [c["name"] for c in found]
        raise Fail(f"test control: {len(found)} running containers match {pattern!r}: {names}")
    return found[0]


def exit_container(st: State, pattern: str, code: str) -> str:
    """``__exit``: the container's main process exits with ``code`` (its PID namespace, the
    rest of its processes, goes with it); every other container runs on."""
    c = _one_running(st, pattern)
    _signal(c, signal.SIGKILL)
    deadline = time.time() + 10
    while _alive(c) and time.time() < deadline:
        time.sleep(0.02)
    if _alive(c):
        raise Fail(f"test control: {c['name']} did not die")
    (st.dir / "exits" / c["id"]).write_text(str(int(code)))
    st.reconcile()
    return c["name"] + "\n"


def mark_restarting(st: State, pattern: str, count: str) -> str:
    """``__restarting``: the container shows docker's restart loop (state ``restarting``,
    ``RestartCount`` ``count``); its process runs on, so only docker's view changes."""
    c = _one_running(st, pattern)
    c.update(restarting=True, restart_count=int(count), restart_exit_code=1)
    return c["name"] + "\n"


def main() -> int:
    args = ARGV
    if args[:1] == ["--version"]:
        print(VERSION)
        return 0
    if args[:1] == ["__shim"]:
        return shim(args[1])
    st = State()
    try:
        cmd, rest = (args[0] if args else ""), args[1:]
        if cmd == "container" and rest[:1] in (["rm"], ["stop"], ["inspect"], ["ls"]):
            cmd, rest = {"ls": "ps"}.get(rest[0], rest[0]), rest[1:]
            kind = "container"
        elif cmd == "image" and rest[:1] == ["inspect"]:
            cmd, rest, kind = "inspect", rest[1:], "image"
        else:
            kind = None
        table: dict[str, Any] = {
            "ps": cmd_ps,
            "swarm": cmd_swarm,
            "node": cmd_node,
            "network": cmd_network,
            "pull": cmd_pull,
            "logs": cmd_logs,
            "stop": cmd_stop,
            "rm": cmd_rm,
            "stack": cmd_stack,
            "info": cmd_info,
        }
        if cmd == "inspect":
            out: Any = cmd_inspect(st, rest, kind)
        elif cmd == "run":
            return cmd_run(st, rest)
        elif cmd == "compose":
            out = cmd_compose(st, rest)
            if isinstance(out, int):
                return out
        elif cmd == "__reboot":
            out = reboot(st)
        elif cmd == "__exit" and len(rest) == 2:
            out = exit_container(st, rest[0], rest[1])
        elif cmd == "__restarting" and len(rest) == 2:
            out = mark_restarting(st, rest[0], rest[1])
        elif cmd in table:
            out = table[cmd](st, rest)
        else:
            raise Unsupported(cmd or "(no command)")
        sys.stdout.write(out)
        return 0
    except Fail as e:
        print(str(e), file=sys.stderr)
        return e.code
    finally:
        with contextlib.suppress(ValueError, OSError):
            st.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Unsupported as e:
        message = f"docker stand-in: unsupported call: docker {' '.join(ARGV)} ({e})"
        print(message, file=sys.stderr)
        with (
            contextlib.suppress(Unsupported, OSError),
            (state_dir() / "unsupported.log").open("a") as f,
        ):
            f.write(message + "\n")
        sys.exit(125)
