"""Benchmark: how long ``pip install`` of pitstop takes, and how much it puts on disk.

Builds a wheel of this checkout, fetches it and its dependencies into a local wheelhouse
(not timed: that is the network), then for each variant creates a fresh venv and times
``pip install --no-index --find-links WHEELHOUSE`` of it, and measures the venv's
site-packages with ``du`` (what pip and setuptools of a bare venv take is shown apart).

Variants: ``runtime`` (what every GPU instance installs), ``demo`` (``pitstop[demo]``, the
quick start), ``all`` (plus pictures and SSH: an engineer's machine), and ``before`` (the
runtime as it was: with matplotlib, paramiko and ``moto[server,s3]``), for comparison.

    python benchmarks/install_size.py [--variant runtime --variant demo ...] [--index]

``--index`` also times an install from the configured package index (network and pip's
cache included), as a user's first ``pip install`` sees it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name -> (extras of pitstop, other requirements)
    "runtime": ("", []),
    "demo": ("[demo]", []),
    "all": ("[all]", []),
    # the runtime before this split: matplotlib, paramiko and moto[server,s3] in it
    "before": ("", ["matplotlib>=3.7", "paramiko>=3.4", "moto[server,s3]>=5.0.20"]),
}


def pip(python: Path | str, *args: str, timeout: float = 900) -> None:
    cmd = [str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")


def build_wheel(out: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)]
    if subprocess.run(cmd, capture_output=True, timeout=300).returncode != 0:
        subprocess.run([*cmd, "--no-build-isolation"], check=True, timeout=300)
    (wheel,) = out.glob("pitstop-*.whl")
    return wheel


def du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def site_packages(venv: Path) -> Path:
    (sp,) = venv.glob("lib/python*/site-packages")
    return sp


def measure(name: str, wheel: Path, house: Path, work: Path, index: bool) -> dict[str, float | str]:
    extras, extra = VARIANTS[name]
    spec = f"pitstop{extras} @ {wheel.as_uri()}"
    venv = work / f"venv-{name}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    bare = du_mb(site_packages(venv))
    t0 = time.perf_counter()
    pip(python, "install", "--no-index", "--find-links", str(house), spec, *extra)
    seconds = time.perf_counter() - t0
    total = du_mb(site_packages(venv))
    check = [str(venv / "bin" / "pitstop"), "--version"]
    subprocess.run(check, check=True, capture_output=True, timeout=120)
    if name in ("demo", "all"):  # the quick start's embedded S3 server imports
        subprocess.run([str(python), "-c", "import moto.server"], check=True, timeout=120)
    row: dict[str, float | str] = {
        "variant": name,
        "seconds": seconds,
        "site_packages_mb": total,
        "pitstop_and_deps_mb": total - bare,
    }
    if index:
        fresh = work / f"venv-{name}-index"
        subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=300)
        t0 = time.perf_counter()
        pip(fresh / "bin" / "python", "install", spec, *extra)
        row["index_seconds"] = time.perf_counter() - t0
    shutil.rmtree(venv, ignore_errors=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    ap.add_argument("--index", action="store_true", help="also time installs from the index")
    args = ap.parse_args()
    names = args.variant or ["runtime", "demo", "all", "before"]
    with tempfile.TemporaryDirectory(prefix="pitstop-install-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "wheel")
        house = work / "wheelhouse"
        house.mkdir()
        for name in names:  # the wheelhouse: fetched, not timed
            extras, extra = VARIANTS[name]
            spec = f"pitstop{extras} @ {wheel.as_uri()}"
            pip(sys.executable, "download", "--dest", str(house), spec, *extra)
        rows = [measure(n, wheel, house, work, args.index) for n in names]
    print(f"python {sys.version.split()[0]}, pip install from a local wheelhouse, fresh venv")
    head = f"{'variant':<9} {'install s':>9} {'site-packages MB':>17} {'added MB':>9}"
    print(head + (f" {'from index s':>13}" if args.index else ""))
    for r in rows:
        line = (
            f"{r['variant']:<9} {r['seconds']:>9.1f} {r['site_packages_mb']:>17.0f} "
            f"{r['pitstop_and_deps_mb']:>9.0f}"
        )
        if args.index:
            line += f" {r['index_seconds']:>13.1f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
