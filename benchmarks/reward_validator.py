"""Benchmark: validator wall time and reward calls per second on the largest bundled tracks.

Runs the full check (static rules, full sweep over every waypoint, sandboxed child) for
every library function on the track with the most waypoints (``Albert``: 344) and on the
longest one (``penbay_pro``: 299 waypoints, 89 m), and
prints, per function, the wall time of ``validate_source`` (cold: sweep built, and warm:
sweep cached as in the supervisor) and the reward calls per second inside the sandbox.

    python benchmarks/reward_validator.py [--track NAME]
"""

from __future__ import annotations

import argparse
import time

from pitstop import tracks
from pitstop.reward_funcs import catalog, validate_source
from pitstop.reward_funcs.validator import _sweep_for


def largest_tracks() -> list[str]:
    names = tracks.available()
    most = max(names, key=lambda n: len(tracks.load(n).waypoints))
    longest = max(names, key=lambda n: tracks.load(n).length)
    return [most] if most == longest else [most, longest]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--track", default=None)
    args = ap.parse_args()
    for name in [args.track] if args.track else largest_tracks():
        bench(name)
    return 0


def bench(name: str) -> None:
    track = tracks.load(name)
    t0 = time.perf_counter()
    sw = _sweep_for(track, 1)  # the cache validate_source uses
    sweep_s = time.perf_counter() - t0
    print(
        f"track {name}: {len(track.waypoints)} waypoints, {track.length:.1f} m; "
        f"sweep of {len(sw)} states built in {sweep_s:.2f} s"
    )
    print(
        f"{'function':<20} {'cold s':>7} {'warm s':>7} {'calls':>7} {'calls/s':>10} {'ms/call':>8}  ok"
    )
    total = 0.0
    for entry in catalog.entries():
        src = entry.source()
        t0 = time.perf_counter()
        # a fresh name: the sweep cache misses, as on a supervisor's first job
        cold_track = tracks.load_file(track_path(name), name=f"{name}#{entry.name}")
        validate_source(src, f"{entry.name}.py", track=cold_track)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = validate_source(src, f"{entry.name}.py", track=track)
        warm = time.perf_counter() - t0
        total += warm
        cps = r.calls_per_second or 0.0
        ms = r.mean_call_ms or 0.0
        print(
            f"{entry.name:<20} {cold:7.2f} {warm:7.2f} {r.calls:7d} {cps:10,.0f} {ms:8.4f}  {r.ok}"
        )
    print(f"total warm validator wall time for {len(catalog.entries())} functions: {total:.2f} s\n")


def track_path(name: str) -> str:
    from importlib import resources

    return str(resources.files("pitstop.tracks").joinpath("data", f"{name}.npy"))


if __name__ == "__main__":
    raise SystemExit(main())
