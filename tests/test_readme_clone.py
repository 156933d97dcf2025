"""The README's commands, run as printed from a clean clone: the repository's tracked files
copied into a folder with no ``../shared`` beside it, pitstop imported from that copy
(issue 27). Commands that need AWS, a GPU instance or files the README does not create are
left out; every block run here is read from the README itself, so an edit there is what
runs. A wheel of the clone, installed without the clone, renders the image and simulates on
its bundled trace."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent  # this venv's `pitstop`, importing the clone's code


def block(heading: str) -> list[str]:
    """The commands of the first ```bash block after ``heading``: one per line (a line
    ending in a backslash joined to the next), comments dropped."""
    start = README.index(heading)
    body = README[README.index("```bash\n", start) + len("```bash\n") :]
    body = body[: body.index("```")].replace("\\\n", " ")
    return [re.sub(r"\s{2,}#.*$", "", line).strip() for line in body.splitlines() if line.strip()]


def pick(heading: str, *starts: str) -> list[str]:
    """The lines of ``heading``'s block that begin with one of ``starts`` (in README order)."""
    lines = [line for line in block(heading) if line.startswith(starts)]
    assert len(lines) >= len(starts), (heading, starts, lines)
    return lines


# what runs without AWS: whole blocks where every line can, else the lines that can
WALKS = {
    "action spaces": block("### Action spaces"),
    "reward functions": block("### Reward functions"),
    "what spot costs": block("### What spot costs"),
    "deadlines": pick("### Deadlines", "pitstop plan", "pitstop simulate"),
    "image": pick("### The image", "pitstop image render"),
    "fleet": pick("### The fleet", "pitstop fleet iam-policy --bucket"),
}
# what each walk leaves behind (the files its commands write)
WRITES = {
    "action spaces": ["model_metadata.json", "sac.json", "actions.png", "hyperparameters.json"],
    "reward functions": ["my_reward.py", "reward.png"],
    "what spot costs": ["sim.png"],
    "image": ["build/image/cloudformation.yaml", "build/image/image-recipe.json"],
}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked files of this working tree (what a clone of it holds), nothing beside."""
    dest = tmp_path_factory.mktemp("newcomer") / "pitstop"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def clone_env(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PITSTOP_", "AWS_"))}
    return {
        **env,
        "PYTHONPATH": str(clone / "src"),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "TMPDIR": str(clone.parent),  # the demo's work folder, kept out of /tmp
        "COLUMNS": "80",
    }


def sh(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_clone_stands_alone_and_runs_its_own_code(clone: Path) -> None:
    assert not (clone.parent / "shared").exists() and not (clone / ".venv").exists()
    r = sh("python -c 'import pitstop; print(pitstop.__file__)'", clone, clone_env(clone))
    assert r.returncode == 0 and r.stdout.strip() == str(clone / "src/pitstop/__init__.py")
    # nothing the README tells a newcomer to run points outside the clone or at an index
    for line in README.splitlines():
        assert "--trace ../shared" not in line and "pip install 'pitstop[" not in line, line
    assert "pip install '.[demo]' && pitstop demo" in block("## Quick start")[0]


@pytest.mark.parametrize("walk", sorted(WALKS))
def test_readme_commands_run_from_the_clone(clone: Path, walk: str, tmp_path: Path) -> None:
    # the image render in the clone (it builds a wheel of the checkout it runs from), the
    # others in a fresh folder
    cwd = clone if walk == "image" else tmp_path
    env = clone_env(clone)
    for line in WALKS[walk]:
        r = sh(line, cwd, env)
        assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr, r.stderr
    for name in WRITES.get(walk, []):
        assert (cwd / name).is_file(), name


@pytest.mark.e2e
def test_the_quick_start_demo_runs_from_the_clone(clone: Path) -> None:
    r = subprocess.run(
        ["bash", "-c", "pitstop demo"],
        cwd=clone,
        env=clone_env(clone),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCEEDED: training finished" in r.stdout
    assert re.search(r"freeze in attempt 1: detected .* training back", r.stdout)


@pytest.fixture
def installed(clone: Path, tmp_path: Path) -> Iterator[Path]:
    """A venv holding a wheel of the clone (not the clone: no editable install), its
    dependencies read from this venv's site-packages; yields its bin folder."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(clone)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("pitstop-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "pitstop/simulate/data/aws-10-26-2022/us-west-2b_v100_1.json",
        "pitstop/simulate/data/README.md",
        "pitstop/templates/image_builder/cloudformation.yaml.j2",
        "pitstop/templates/image_builder/pitstop-supervisor.yaml.j2",
    ):
        assert shipped in names, shipped
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # this venv's packages on the path, not processed as a site dir: its editable pitstop
    # (a .pth there) stays out
    Path(site, "deps.pth").write_text(ours + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )  # fmt: skip
    yield venv / "bin"


def test_a_wheel_installed_without_the_clone_renders_the_image_and_simulates(
    installed: Path, tmp_path: Path
) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PITSTOP_", "PYTHON"))}
    env["PATH"] = f"{installed}{os.pathsep}{env.get('PATH', '')}"
    r = sh("python -c 'import pitstop; print(pitstop.__file__)'", work, env)
    assert r.stdout.strip().startswith(str(installed.parent)), r.stdout + r.stderr
    (line,) = pick("### The image", "pitstop image render")
    r = sh(line, work, env)
    assert r.returncode == 0, r.stderr
    assert (work / "build/image/cloudformation.yaml").is_file()
    (wheel,) = (work / "build/image/wheels").glob("pitstop-*.whl")  # the one it came from
    assert "before deploying" in r.stderr and wheel.name in r.stderr
    r = sh("pitstop simulate --hours 2 --checkpoint-minutes 15 --json", work, env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["trace"] == "aws-10-26-2022/us-west-2b_v100_1"
