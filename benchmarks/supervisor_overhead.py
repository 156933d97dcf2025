"""What supervision costs, and how fast it sees a freeze.

Prints:
- supervisor RSS (a real ``pitstop supervise`` process, trainer excluded);
- CPU seconds per hour of supervision: CPU per scheduled run measured at compressed
  intervals, scaled to the default intervals (poll 30 s, spot 5 s, heartbeat 60 s);
- S3 requests per poll while training, with 10 and with 5,000 checkpoints in the model
  prefix: per tick, and amortised at the default intervals (a heartbeat every 2 polls);
- S3 requests per tick of an idle instance with 10 and with 2,000 ended jobs in the bucket
  (and per full scan, once every lease TTL);
- how fast an idle instance takes a preempted job (polls from the preemption to the claim);
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

from pitstop.config import Settings, load_settings
from pitstop.core.states import JobState
from pitstop.store.layout import model_prefix
from pitstop.store.objects import S3Store
from pitstop.supervisor.daemon import Supervisor
from pitstop.supervisor.spot import NoInterruptions
from pitstop.trainers.simulated import SimulatedTrainer


def d(name: str) -> str:
    """A setting's default, as printed."""
    return f"{float(Settings.model_fields[name].default):g}"


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


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
        peak = peak_rss_mib(p.pid)
    finally:
        p.terminate()
        p.wait(30)
    runs = 3 * window / float(interval)  # tick + spot + heartbeat each every `interval`
    cpu_per_run = (cpu1 - cpu0) / runs
    d = Settings.model_fields
    default_runs_per_hour = sum(
        3600 / float(d[name].default)
        for name in ("poll_interval_s", "spot_poll_interval_s", "heartbeat_interval_s")
    )
    return {
        "rss_mib": round(max(rss0, rss1), 1),
        "peak_rss_mib": round(peak, 1),
        "cpu_s_per_run": cpu_per_run,
        "cpu_s_per_hour_default": cpu_per_run * default_runs_per_hour,
        "cpu_s_per_hour_compressed": (cpu1 - cpu0) * 3600 / window,
    }


def _settings(endpoint: str, bucket: str, state_dir: Path, instance: str, **extra: object):  # type: ignore[no-untyped-def]
    return load_settings(
        None,
        bucket=bucket,
        s3_endpoint_url=endpoint,
        trainer="simulated",
        state_dir=state_dir,
        instance_id=instance,
        stall_timeout_s=600,
        startup_grace_s=600,
        reboot_command="true",
        shutdown_command="true",
        **extra,
    )


def requests_per_poll(endpoint: str, work: Path, checkpoints: int) -> tuple[float, float]:
    """(requests per tick, per poll amortised with a heartbeat every second poll)."""
    bucket = f"bench-req-{checkpoints}"
    _, (job_id,) = make_jobs(
        endpoint, bucket, 1, {"checkpoint_interval_s": 0.2, "checkpoints": 100000}
    )
    settings = _settings(endpoint, bucket, work / f"req-{checkpoints}", "i-req")
    store = S3Store.from_settings(settings)
    trainer = SimulatedTrainer()
    sup = Supervisor(settings, store, trainer, "i-req", spot=NoInterruptions())
    sup.tick()  # claim and launch
    prefix = model_prefix(job_id, 1)
    for i in range(checkpoints):  # old checkpoints the trainer would have written
        store.put(f"{prefix}/model/{i + 100000}_Step-{i}.ckpt.index", b"x")
    try:
        polls = 20
        store.requests.clear()
        for _ in range(polls):
            sup.tick()
        per_tick = sum(store.requests.values()) / polls
        store.requests.clear()
        for i in range(polls):
            sup.tick()
            if i % 2:
                sup.heartbeat()  # default intervals: poll 30 s, heartbeat 60 s
        return per_tick, sum(store.requests.values()) / polls
    finally:
        trainer.stop(2)


def idle_requests(endpoint: str, work: Path, ended: int) -> tuple[float, int]:
    """(requests per idle tick between full scans, requests of one full scan)."""
    bucket = f"bench-idle-{ended}"
    jobs, ids = make_jobs(endpoint, bucket, ended)

    def done(s):  # type: ignore[no-untyped-def]
        s.state = JobState.SUCCEEDED
        return s

    for job_id in ids:
        jobs.update(job_id, done)
    settings = _settings(endpoint, bucket, work / f"idle-{ended}", "i-idle")
    store = S3Store.from_settings(settings)
    sup = Supervisor(settings, store, SimulatedTrainer(), "i-idle", spot=NoInterruptions())
    store.requests.clear()
    sup.tick()  # the first tick does a full scan
    full = sum(store.requests.values())
    store.requests.clear()
    ticks = 20
    for _ in range(ticks):
        sup.tick()
    return sum(store.requests.values()) / ticks, full


def preempted_pickup(endpoint: str, work: Path, poll_s: float = 0.2) -> float:
    """Polls between a job's preemption (SIGTERM path) and an idle instance's claim of it."""
    bucket = "bench-pickup"
    jobs, (job_id,) = make_jobs(
        endpoint, bucket, 1, {"checkpoint_interval_s": 0.2, "checkpoints": 100000}
    )
    a_set = _settings(endpoint, bucket, work / "pick-a", "i-a", poll_interval_s=poll_s)
    b_set = _settings(endpoint, bucket, work / "pick-b", "i-b", poll_interval_s=poll_s)
    a_trainer, b_trainer = SimulatedTrainer(), SimulatedTrainer()
    a = Supervisor(a_set, S3Store.from_settings(a_set), a_trainer, "i-a", spot=NoInterruptions())
    b = Supervisor(b_set, S3Store.from_settings(b_set), b_trainer, "i-b", spot=NoInterruptions())
    try:
        a.tick()
        b.tick()  # b is idle now, and did its first full scan
        a.shutdown()  # preempted, lease released
        t0 = time.monotonic()
        polls = 0
        while jobs.status(job_id)[0].instance_id != "i-b" and polls < 10000:
            time.sleep(poll_s)
            b.tick()
            polls += 1
        del t0
        return polls
    finally:
        a_trainer.stop(2)
        b_trainer.stop(2)


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
        idle_small = idle_requests(server.endpoint, work, 10)
        idle_large = idle_requests(server.endpoint, work, 2000)
        pickup = preempted_pickup(server.endpoint, work)
        usage = measure_rss_cpu(server.endpoint, work)
        lat = stall_latencies(server.endpoint, work, args.freezes)
    finally:
        server.stop()
    q = statistics.quantiles(lat, n=20) if len(lat) >= 2 else [float("nan")] * 19
    print("pitstop supervisor overhead")
    print(f"  supervisor RSS                          {usage['rss_mib']:.1f} MiB")
    print(f"  supervisor peak RSS (VmHWM), training   {usage['peak_rss_mib']:.1f} MiB")
    print(f"  CPU per scheduled run                   {usage['cpu_s_per_run'] * 1000:.2f} ms")
    print(
        f"  CPU per hour, default intervals         {usage['cpu_s_per_hour_default']:.1f} s  "
        f"(poll {d('poll_interval_s')} s, spot {d('spot_poll_interval_s')} s, "
        f"heartbeat {d('heartbeat_interval_s')} s)"
    )
    print(f"  CPU per hour, 0.5 s intervals (measured) {usage['cpu_s_per_hour_compressed']:.1f} s")
    print(f"  S3 requests per tick, 10 checkpoints    {small[0]:.2f}")
    print(f"  S3 requests per tick, 5,000 checkpoints {large[0]:.2f}")
    print(
        f"  S3 requests per poll incl. heartbeat    {small[1]:.2f} / {large[1]:.2f}  (10 / 5,000)"
    )
    print(
        f"  idle tick, 10 / 2,000 ended jobs        {idle_small[0]:.2f} / {idle_large[0]:.2f} requests"
        f"  (full scan every lease TTL: {idle_small[1]} / {idle_large[1]})"
    )
    print(f"  preempted job taken by an idle instance {pickup:.0f} poll(s) after the preemption")
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
            {
                "usage": usage,
                "requests_per_poll": {"10": small, "5000": large},
                "idle": {"10": idle_small, "2000": idle_large},
                "pickup_polls": pickup,
                "latencies": lat,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
