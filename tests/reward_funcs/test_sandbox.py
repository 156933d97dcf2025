"""The reward sandbox holds against code that got past the static rules.

Reward code comes from the inbox and runs on the instance during validation. These tests
call the sandbox directly with code the static rules would refuse (the static rules are a
gate, not a sandbox) and check each layer: with everything on, the attempt is refused and
named; with one layer off, the others still hold by themselves. A local HTTP server that the
test process *can* reach stands in for the metadata service, so "not reached" is proven, not
assumed. Tests and CI run as root, as the supervisor does.
"""

from __future__ import annotations

import ast
import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pitstop import tracks
from pitstop.reward_funcs import harness, sandbox
from tests.servers import FakeImds

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the privilege drop happens only as root")

SWEEP = harness.sweep(tracks.load("reInvent2019_track"), stride=40)


def run1(source: str, **layers: Any) -> sandbox.ChildResult:
    limits = sandbox.Limits(call_seconds=2.0, budget_seconds=3.0, **layers)
    return sandbox.run([(source, "evil.py")], SWEEP.as_rows(), limits, collect=True)[0]


def message(res: sandbox.ChildResult) -> str:
    assert res.failure is not None, "the sandbox let it through"
    return str(res.failure["message"])


@pytest.fixture
def server() -> Iterator[FakeImds]:
    """A metadata-like HTTP server on loopback that this process reaches (checked)."""
    s = FakeImds()
    req = urllib.request.Request(
        f"{s.endpoint}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
    )
    assert urllib.request.urlopen(req, timeout=5).read().startswith(b"tok-")
    s.tokens_issued, s.gets = 0, []
    yield s
    s.close()


def http_reward(endpoint: str) -> str:
    return f"""
import urllib.request
def reward_function(params):
    req = urllib.request.Request("{endpoint}/latest/api/token", method="PUT",
                                 headers={{"X-aws-ec2-metadata-token-ttl-seconds": "60"}})
    try:
        got = urllib.request.urlopen(req, timeout=2).read()
    except Exception as e:
        raise ValueError("blocked: " + repr(e))
    raise ValueError("GOT " + got.decode())
"""


SHADOW = """
import os
def reward_function(params):
    try:
        fd = os.open("/etc/shadow", os.O_RDONLY)
        data = os.read(fd, 4096)
    except OSError as e:
        raise ValueError("blocked: " + repr(e))
    raise ValueError("GOT " + data.decode(errors="replace"))
"""


def test_library_rewards_run_unchanged_in_the_confined_child() -> None:
    src = (
        "import math, random\nimport numpy as np\n"
        "def reward_function(params):\n"
        "    return float(np.clip(math.hypot(params['x'], params['y']) * random.random(), 0, 5))\n"
    )
    res = run1(src)
    assert res.failure is None and res.calls == len(SWEEP)
    assert res.isolation is not None and res.isolation["failure"] is None


@needs_root
def test_reward_code_runs_as_nobody_without_groups_or_capabilities() -> None:
    res = run1(
        "import os\ndef reward_function(params):\n"
        "    assert os.getgroups() in ([], [65534]), os.getgroups()\n"
        "    assert len(set(os.getresuid() + os.getresgid())) == 1, os.getresuid()\n"
        "    return float(os.getresuid()[0])\n"
    )
    assert res.failure is None, res.failure
    assert set(res.values or []) == {65534.0}
    assert res.isolation is not None and res.isolation["user"] == "nobody (uid 65534)"
    assert res.isolation["no_new_privs"] is True


def test_reading_etc_shadow_gets_nothing_and_is_named() -> None:
    res = run1(SHADOW)
    msg = message(res)
    assert res.failure is not None and res.failure["rule"] == "sandbox"
    wall = "mount namespace" if ROOT else "Landlock"
    assert msg.startswith(f"tried to read /etc/shadow; stopped by the {wall}"), msg
    assert "GOT" not in msg and "root:" not in msg


@needs_root
def test_the_unprivileged_user_alone_keeps_etc_shadow_closed() -> None:
    res = run1(SHADOW, guard=False, file_wall=False)
    msg = message(res)
    assert "blocked: PermissionError(13, 'Permission denied')" in msg, msg
    assert "GOT" not in msg


def test_a_swallowed_refusal_still_rejects() -> None:
    res = run1(
        "def reward_function(params):\n"
        "    try:\n        open('/etc/hostname').read()\n    except OSError:\n        pass\n"
        "    return 1.0\n"
    )
    assert res.failure is not None and res.failure["rule"] == "sandbox"
    wall = "mount namespace" if ROOT else "Landlock"
    assert message(res).startswith(f"tried to read /etc/hostname; stopped by the {wall}")
    assert res.failure["case"] == 0  # named with the params of the first call


@pytest.mark.parametrize(
    "layers",
    [
        {},
        {"guard": False, "file_wall": False},
        {"guard": False, "network_namespace": False},
        {"network_namespace": False, "file_wall": False},
    ],
)
def test_a_reachable_local_server_is_not_reached(server: FakeImds, layers: dict[str, bool]) -> None:
    res = run1(http_reward(server.endpoint), **layers)
    msg = message(res)
    assert "GOT" not in msg
    assert server.tokens_issued == 0 and server.gets == []
    where = f"127.0.0.1:{server.port}"
    if layers.get("guard") is False and layers.get("file_wall") is False:  # the namespace alone
        assert "Network is unreachable" in msg, msg
    elif layers.get("guard") is False:  # Landlock alone: no TCP connect
        assert "Permission denied" in msg, msg
    elif layers.get("network_namespace") is False:  # the guard alone
        assert msg == f"tried to connect to {where}; stopped by the in-process guard"
        assert res.isolation is not None and res.isolation["network"] == "the in-process guard"
    else:
        assert msg.startswith(f"tried to connect to {where}; stopped by the network namespace")


def test_the_metadata_address_is_not_reached() -> None:
    res = run1(
        "import socket\ndef reward_function(params):\n"
        "    s = socket.create_connection(('169.254.169.254', 80), timeout=2)\n"
        "    return 1.0\n"
    )
    assert message(res).startswith("tried to connect to 169.254.169.254:80; stopped by the")


def test_the_child_sees_none_of_the_parents_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-aws")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "sekrit-token")
    monkeypatch.setenv("PITSTOP_BUCKET", "sekrit-bucket")
    res = run1(
        # the names and whether any value holds a secret: a reason is cut at 300 characters,
        # and the values (PYTHONPATH) are as long as the checkout's path
        "import os\ndef reward_function(params):\n"
        "    leak = any('sekrit' in v for v in os.environ.values())\n"
        "    raise ValueError(repr((leak, sorted(os.environ))))\n",
        guard=False,
    )
    msg = message(res)
    assert "sekrit" not in msg and "AWS_" not in msg and "PITSTOP_" not in msg
    leak, listed = ast.literal_eval(msg.removeprefix("raised ValueError: "))
    assert leak is False
    names = set(listed)
    assert names <= {
        "PATH",
        "LANG",
        "PYTHONPATH",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED",
        "PYTHONNOUSERSITE",
        "PYTHONSAFEPATH",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
    }


@needs_root
def test_the_parents_environ_file_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-aws")
    src = (
        "def reward_function(params):\n"
        f"    with open('/proc/{os.getpid()}/environ', 'rb') as f:\n"
        "        raise ValueError('GOT ' + repr(f.read()))\n"
    )
    msg = message(run1(src))
    assert f"tried to read /proc/{os.getpid()}/environ; stopped by the mount namespace" in msg
    walled = message(run1(src, guard=False))  # no /proc at all inside the wall
    assert "No such file or directory" in walled and "sekrit" not in walled
    alone = message(run1(src, guard=False, file_wall=False))  # the user's rights alone
    assert "Permission denied" in alone and "sekrit" not in alone


def test_processes_and_native_code_are_refused() -> None:
    msg = message(run1("import os\ndef reward_function(params):\n    os.system('id')\n"))
    assert msg == "tried to start a process (os.system: id); stopped by the in-process guard"
    msg = message(
        run1(
            "import ctypes\ndef reward_function(params):\n"
            "    ctypes.CDLL(None).getpid()\n    return 1.0\n"
        )
    )
    assert msg.startswith("tried to call native code (ctypes.")


def test_the_sandbox_reports_how_it_was_confined() -> None:
    res = run1("def reward_function(params):\n    return 1.0\n")
    iso = res.isolation
    assert iso is not None
    json.dumps(iso)
    # this machine lets root make a network namespace: the namespace holds, not the guard
    assert iso["network"].startswith("the network namespace"), iso["network_note"]


PRIVATE_PYTHON_SCRIPT = """
import json, sys
from pitstop import tracks
from pitstop.reward_funcs import harness, sandbox
sweep = harness.sweep(tracks.load("reInvent2019_track"), stride=40)
src = sys.argv[1]
limits = sandbox.Limits(call_seconds=2.0, budget_seconds=3.0)
res = sandbox.run([(src, "r.py")], sweep.as_rows(), limits, collect=True)[0]
print(json.dumps({"failure": res.failure, "calls": res.calls, "n": len(sweep),
                  "isolation": res.isolation}))
"""


@needs_root
def test_a_python_the_sandbox_user_cannot_read_still_validates(tmp_path: Path) -> None:
    """CI's Python lives under /root (pyenv): nobody cannot read its library. The child
    imports what rewards use before it drops root, so validation still works there."""
    import shutil
    import subprocess
    import sys
    import sysconfig

    private = tmp_path / "private"
    (private / "bin").mkdir(parents=True)
    private.chmod(0o700)
    (private / "lib").mkdir()
    stdlib = Path(os.__file__).resolve().parent
    (private / "lib" / stdlib.name).symlink_to(stdlib)
    python = private / "bin" / "python3"
    shutil.copy2(os.path.realpath(getattr(sys, "_base_executable", sys.executable)), python)
    paths = sysconfig.get_paths()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(
            [str(Path(sandbox.__file__).resolve().parents[2]), paths["purelib"], paths["platlib"]]
        ),
    }
    probe = subprocess.run(
        [str(python), "-c", "import os; print(os.__file__)"],
        env=env,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:  # a Python linked to a shared libpython elsewhere
        pytest.skip(f"could not make a private copy of this Python: {probe.stderr.strip()}")
    assert probe.stdout.startswith(str(private)), probe.stdout
    reward = (
        "import math, random\n"
        "def reward_function(params):\n"
        "    return float(min(5.0, math.hypot(params['x'], params['y']) * random.random()))\n"
    )
    r = subprocess.run(
        [str(python), "-c", PRIVATE_PYTHON_SCRIPT, reward],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout.splitlines()[-1])
    assert doc["failure"] is None, doc
    assert doc["calls"] == doc["n"]
    assert doc["isolation"]["user"] == "nobody (uid 65534)"
    # inside the file wall the library is bound read-only where nobody can read it
    assert doc["isolation"]["files"].startswith("the mount namespace"), doc["isolation"]
    # a module the reward could not import before the drop is reported, not a crash
    late = "def reward_function(params):\n    __import__('statistics')\n    return 1.0\n"
    r = subprocess.run(
        [str(python), "-c", PRIVATE_PYTHON_SCRIPT, late],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    doc = json.loads(r.stdout.splitlines()[-1])
    failure = doc["failure"]
    assert failure is not None and failure["line"] == 2, doc
    assert "statistics" in failure["message"] or str(private / "lib") in failure["message"], doc
