"""What supervision costs, and how fast it sees a freeze.

Prints:
- supervisor RSS (a real ``pitstop supervise`` process, trainer excluded);
- CPU seconds per hour of supervision: CPU per scheduled run measured at compressed
  intervals, scaled to the default intervals (poll 30 s, spot 5 s, heartbeat 60 s);
- S3 requests per poll with 10 and with 5,000 objects in the model prefix;
- the distribution of stall-detection latency over >= 20 injected freezes (time from the
  trainer writing its last checkpoint to the supervisor's stall verdict), with
  stall_timeout_s = 2 and poll_interval_s = 0.25.

Everything runs locally: moto's S3 server on loopback, real supervisor and trainer processes.
Usage: python benchmarks/supervisor_overhead.py [--freezes 22]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from _common import make_jobs, start_supervisor, supervisor_env
from tests.servers import MotoServer

from pitstop.config import load_settings
from pitstop.store.layout import model_prefix
from pitstop.store.objects import S3Store
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.simulated import SimulatedTrainer


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS MiB, CPU seconds) of one process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss_kb / 1024, (int(fields[11]) + int(fields[12])) / ticks


def measure_rss_cpu(endpoint: str, work: Path) -> dict[str, float]:
    make_jobs(endpoint, "bench-rss", 1, {"checkpoint_interval_s": 1.0, "checkpoints": 1000})
    interval = "0.5"
    env = supervisor_env(
        endpoint,
        "bench-rss",
        work / "rss",
        poll_interval_s=interval,
        spot_poll_interval_s=interval,
        heartbeat_interval_s=interval,
        stall_timeout_s="60",
        startup_grace_s="60",
    )
    p = start_supervisor(env)
    try:
        time.sleep(8)  # start-up (imports, claim, launch) is not steady state
        rss0, cpu0 = proc_stats(p.pid)
        window = 30.0
        time.sleep(window)
        rss1, cpu1 = proc_stats(p.pid)
    finally:
        p.terminate()
        p.wait(30)
    runs = 3 * window / float(interval)  # tick + spot + heartbeat each every `interval`
    cpu_per_run = (cpu1 - cpu0) / runs
    default_runs_per_hour = 3600 / 30 + 3600 / 5 + 3600 / 60
    return {
        "rss_mib": round(max(rss0, rss1), 1),
        "cpu_s_per_run": cpu_per_run,
        "cpu_s_per_hour_default": cpu_per_run * default_runs_per_hour,
        "cpu_s_per_hour_compressed": (cpu1 - cpu0) * 3600 / window,
    }


def requests_per_poll(endpoint: str, work: Path, extra_objects: int) -> float:
    bucket = f"bench-req-{extra_objects}"
    _, (job_id,) = make_jobs(
        endpoint, bucket, 1, {"checkpoint_interval_s": 0.2, "checkpoints": 100000}
    )
    settings = load_settings(
        None,
        bucket=bucket,
        s3_endpoint_url=endpoint,
        trainer="simulated",
        state_dir=work / f"req-{extra_objects}",
        instance_id="i-req",
        stall_timeout_s=600,
        startup_grace_s=600,
    )
    store = S3Store.from_settings(settings)
    trainer = SimulatedTrainer()
    sup = Supervisor(settings, store, trainer, "i-req", spot=NoInterruptions())
    sup.tick()  # claim and launch
    prefix = model_prefix(job_id, 1)
    for i in range(extra_objects):
        store.put(f"{prefix}/training-simtrace/filler-{i:05d}.csv", b"x")
    try:
        store.requests.clear()
        polls = 20
        for _ in range(polls):
            sup.tick()
        return sum(store.requests.values()) / polls
    finally:
        trainer.stop(2)


def stall_latencies(endpoint: str, work: Path, freezes: int) -> list[float]:
    freezer = {
        "checkpoint_interval_s": 0.2,
        "checkpoints": 1000,
        "faults": [{"kind": "freeze", "after_checkpoint": 1}],
    }
    jobs, (job_id,) = make_jobs(endpoint, "bench-stall", 1, freezer)
    env = supervisor_env(
        endpoint,
        "bench-stall",
        work / "stall",
        poll_interval_s="0.25",
        stall_timeout_s="2",
        startup_grace_s="2",
        backoff_base_s="0.1",
        backoff_max_s="0.1",
        max_restarts=str(freezes + 5),
        stop_timeout_s="1",
        heartbeat_interval_s="1",
        lease_ttl_s="10",
    )
    p = start_supervisor(env, work / "stall.log")
    try:
        deadline = time.monotonic() + freezes * 8 + 30
        while time.monotonic() < deadline:
            status, _ = jobs.status(job_id)
            if sum(1 for a in status.attempts if a.outcome == "stalled") >= freezes:
                break
            time.sleep(0.5)
    finally:
        p.terminate()
        p.wait(30)
    out = []
    state_dir = work / "stall" / "jobs" / job_id
    stalls = {}
    for e in jobs.events(job_id):
        if e["event"] == "run.stalled":
            stalls[e["attempt"]] = datetime.fromisoformat(
                e["at"].replace("Z", "+00:00")
            ).timestamp()
    for n, at in sorted(stalls.items()):
        text = (state_dir / f"attempt-{n}.log").read_text()
        written = [
            float(m) for m in re.findall(r"\[simulated-trainer ([\d.]+)\] checkpoint ", text)
        ]
        if written:
            out.append(at - written[-1])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--freezes", type=int, default=22)
    args = ap.parse_args()
    server = MotoServer.start()
    work = Path(tempfile.mkdtemp(prefix="pitstop-bench-"))
    try:
        small = requests_per_poll(server.endpoint, work, 10)
        large = requests_per_poll(server.endpoint, work, 5000)
        usage = measure_rss_cpu(server.endpoint, work)
        lat = stall_latencies(server.endpoint, work, args.freezes)
    finally:
        server.stop()
    q = statistics.quantiles(lat, n=20) if len(lat) >= 2 else [float("nan")] * 19
    print("pitstop supervisor overhead")
    print(f"  supervisor RSS                          {usage['rss_mib']:.1f} MiB")
    print(f"  CPU per scheduled run                   {usage['cpu_s_per_run'] * 1000:.2f} ms")
    print(
        f"  CPU per hour, default intervals         {usage['cpu_s_per_hour_default']:.1f} s  (poll 30 s, spot 5 s, heartbeat 60 s)"
    )
    print(f"  CPU per hour, 0.5 s intervals (measured) {usage['cpu_s_per_hour_compressed']:.1f} s")
    print(f"  S3 requests per poll, 10 objects        {small:.2f}")
    print(f"  S3 requests per poll, 5,000 objects     {large:.2f}")
    print(f"  stall-detection latency, {len(lat)} freezes (stall_timeout 2 s, poll 0.25 s):")
    print(
        f"    min {min(lat):.2f} s  median {statistics.median(lat):.2f} s  p95 {q[18]:.2f} s  max {max(lat):.2f} s"
    )
    print(
        f"    over the timeout: median {statistics.median(lat) - 2:.2f} s, max {max(lat) - 2:.2f} s "
        f"(bound: 2 polls = 0.50 s + 1 s S3 timestamp resolution)"
    )
    print(
        json.dumps(
            {"usage": usage, "requests_per_poll": {"10": small, "5000": large}, "latencies": lat}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
