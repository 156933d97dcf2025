"""Which layer of the reward sandbox holds against what, measured on this machine.

Runs hostile reward functions (that skip the static rules: the sandbox must hold without
them) in four configurations: every layer on; the guard off (the kernel's walls alone:
network namespace, mount namespace, Landlock, unprivileged user, rlimits, minimal
environment); the file wall off as well (the user's rights alone for files); the network
namespace off (the guard alone for the network). A local HTTP server that this process
reaches stands in for the metadata service. Prints a Markdown table for docs/security.md,
then the validating process's peak memory while a reward floods its output.

    python benchmarks/sandbox_layers.py        # as root, like the supervisor
"""

from __future__ import annotations

import http.server
import os
import threading

from pitstop import tracks
from pitstop.reward_funcs import harness, sandbox

SWEEP = harness.sweep(tracks.load("reInvent2019_track"), stride=60)


PROBE = f"/tmp/pitstop-sandbox-probe-{os.getpid()}"  # removed at the end if it was made


def attempts(port: int) -> list[tuple[str, str]]:
    def body(code: str) -> str:
        return (
            "import os, socket, urllib.request\n"
            "def reward_function(params):\n"
            "    try:\n"
            + "".join(f"        {line}\n" for line in code.splitlines())
            + "    except Exception as e:\n"
            "        raise ValueError('blocked: ' + repr(e)[:120])\n"
            "    raise ValueError('GOT ' + repr(got)[:60])\n"
        )

    return [
        ("read /etc/shadow", body("got = open('/etc/shadow').read()")),
        ("read /etc/hostname (world-readable)", body("got = open('/etc/hostname').read()")),
        (
            "read the parent's /proc/PPID/environ",
            body("got = open('/proc/%d/environ' % os.getppid(), 'rb').read()"),
        ),
        ("read its own os.environ", body("got = sorted(os.environ)")),
        (
            "switch the guard off (frame walk), then read /etc/hostname",
            body(
                "f = os.sys._getframe()\n"
                "while f is not None:\n"
                "    for v in list(f.f_locals.values()):\n"
                "        h = getattr(v, '_handlers', None)\n"
                "        if isinstance(h, dict): h.clear()\n"
                "    f = f.f_back\n"
                "got = open('/etc/hostname').read()"
            ),
        ),
        (
            f"HTTP to a reachable server on 127.0.0.1:{port}",
            body(f"got = urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2).read()"),
        ),
        (
            "TCP to the metadata service 169.254.169.254:80",
            body("got = socket.create_connection(('169.254.169.254', 80), timeout=2)"),
        ),
        ("resolve amazonaws.com", body("got = socket.getaddrinfo('amazonaws.com', 443)")),
        ("start a process (subprocess.run)", body("got = __import__('subprocess').run(['id'])")),
        ("create a file in /tmp", body(f"got = open({PROBE!r}, 'w')")),
        ("become root again (os.setuid(0))", body("got = os.setuid(0)")),
        ("load native code (ctypes)", body("got = __import__('ctypes').CDLL(None).getuid()")),
        # last: if it worked, the shell would replace the child and end the run
        ("replace itself with a shell (os.execv)", body("got = os.execv('/bin/sh', ['sh'])")),
    ]


def outcome(res: sandbox.ChildResult) -> str:
    f = res.failure
    if f is None:
        return "NOT STOPPED"
    msg = str(f["message"])
    if f["rule"] == "sandbox":
        return "stopped by " + msg.split("; stopped by ", 1)[1].split(" (", 1)[0]
    if "GOT " in msg:
        return "NOT STOPPED: " + msg.split("GOT ", 1)[1][:40]
    return msg.removeprefix("raised ValueError: blocked: ")[:70]


def main() -> int:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"secret")

        def log_message(self, *a: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    configs = {
        "every layer": {},
        "guard off (kernel walls alone)": {"guard": False},
        "guard and file wall off": {"guard": False, "file_wall": False},
        "namespace off (guard for the network)": {"network_namespace": False},
    }
    rows = attempts(port)
    results: dict[str, list[str]] = {}
    isolation = None
    for name, layers in configs.items():
        limits = sandbox.Limits(call_seconds=3.0, budget_seconds=3.0, **layers)  # type: ignore[arg-type]
        out = sandbox.run([(src, "evil.py") for _, src in rows], SWEEP.as_rows(), limits)
        results[name] = [outcome(r) for r in out]
        isolation = isolation or out[0].isolation
    server.shutdown()
    made = os.path.exists(PROBE)
    if made:
        os.remove(PROBE)
    print(f"uid {os.geteuid()}, kernel {os.uname().release}; sandbox: {isolation}")
    print(f"requests the local server received: {len(hits)}; {PROBE} was made: {made}")
    print()
    print("| attempt | " + " | ".join(configs) + " |")
    print("|---|" + "---|" * len(configs))
    for i, (what, _) in enumerate(rows):
        print(f"| {what} | " + " | ".join(results[c][i] for c in configs) + " |")
    print()
    flood()
    return 0


FLOOD = """
import json, resource, time
from pitstop.reward_funcs import validate_source
src = "def reward_function(params):\\n    print('x' * (1 << 20))\\n    return 1.0\\n"
t0 = time.monotonic()
report = validate_source(src, "flood.py")
print(json.dumps({"peak": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) * 1024,
                  "s": time.monotonic() - t0, "warnings": report.warnings, "ok": report.ok}))
"""

IDLE = """
import json, resource
from pitstop.reward_funcs import validate_source
validate_source("def reward_function(params):\\n    return 1.0\\n", "quiet.py")
print(json.dumps({"peak": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) * 1024}))
"""


def flood() -> None:
    """Peak RSS of a process that validates a reward printing 1 MiB per call."""
    import json
    import subprocess
    import sys

    def run(code: str) -> dict[str, object]:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        return dict(json.loads(r.stdout.splitlines()[-1]))

    quiet, loud = run(IDLE), run(FLOOD)
    printed = next((w for w in loud["warnings"] if "printed" in w), "?")  # type: ignore[attr-defined]
    print("| validating process | peak RSS |")
    print("|---|---|")
    print(f"| a quiet reward | {int(quiet['peak']) / 2**20:.0f} MiB |")  # type: ignore[call-overload]
    print(
        f"| a reward that prints 1 MiB per call ({printed.split(' during')[0]}, "  # type: ignore[union-attr]
        f"{float(loud['s']):.1f} s) | {int(loud['peak']) / 2**20:.0f} MiB |"  # type: ignore[arg-type,call-overload]
    )


if __name__ == "__main__":
    raise SystemExit(main())
