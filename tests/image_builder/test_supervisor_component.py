"""The supervisor component's build and validate phases really run, in a temporary root.

A wheel of this repository is built, put where the component's S3Download finds it, and
installed by the component's own commands into a fresh venv under the redirected install
prefix, with ``pip --no-index`` from a local wheelhouse: the wheel plus every dependency,
fetched once per session with ``pip download`` (from pip's cache after CI's own install).
The venv sees no site-packages but its own, so the test passes only if the wheel really
installs a working pitstop with its declared dependencies, whatever this machine's base
interpreter holds. ``systemctl`` is a recorder on PATH; ``systemd-analyze verify`` is the
real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pitstop.config import load_settings
from pitstop.image_builder.options import ImageOptions, PitstopSource
from pitstop.image_builder.render import (
    SUPERVISOR_DOC,
    UNIT_NAME,
    component_parameters,
    find_unit,
    render_components,
)
from tests.helpers import scaled
from tests.image_builder.toe import run_phase

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="needs systemd-analyze"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)]
    # with the installed build backend first (the dev extra has it): no download to wait on
    proc = subprocess.run(
        [*cmd, "--no-build-isolation"], capture_output=True, text=True, timeout=scaled(120)
    )
    if proc.returncode != 0:  # an older setuptools here: let pip fetch the one it needs
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=scaled(240))
    assert proc.returncode == 0, proc.stderr
    (built,) = out.glob("pitstop-*.whl")
    return built


@pytest.fixture(scope="module")
def wheelhouse(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and all its dependencies as files, so the component's pip needs no index."""
    house = tmp_path_factory.mktemp("wheelhouse")
    shutil.copyfile(wheel, house / wheel.name)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check"]
    proc = subprocess.run(
        [*cmd, "--dest", str(house), str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"pip download of the dependencies failed:\n{proc.stderr}"
    return house


@pytest.mark.slow
def test_supervisor_component_installs_a_working_pitstop_and_a_verified_unit(
    wheel: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    fake_s3 = tmp_path / "s3"
    key = f"pitstop/image-builder/wheels/0123456789abcdef/{wheel.name}"
    (fake_s3 / "my-bucket" / key).parent.mkdir(parents=True)
    shutil.copyfile(wheel, fake_s3 / "my-bucket" / key)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "systemctl.calls"
    recorder = bin_dir / "systemctl"
    recorder.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    recorder.chmod(0o755)

    settings = load_settings(None, bucket="my-bucket", region="eu-west-1", trainer="simulated")
    options = ImageOptions(source=PitstopSource.parse(f"s3://my-bucket/{key}"))
    (component,) = [
        c for c in render_components(options, find_unit().read_text()) if c.doc == SUPERVISOR_DOC
    ]
    prefix, config_dir, unit_dir = root / "opt/pitstop", root / "etc/pitstop", root / "unit"
    parameters = {
        **component_parameters(settings, options)[SUPERVISOR_DOC],
        "InstallPrefix": str(prefix),
        "ConfigDir": str(config_dir),
        "UnitDir": str(unit_dir),
        "Python": sys.executable,
        "VenvOptions": "",
        "PipOptions": f"--no-input --no-index --find-links {wheelhouse}",
    }
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }

    build = run_phase(component.data, "build", parameters, env=env, fake_s3=fake_s3)
    assert build.ok, build.describe()
    validate = run_phase(component.data, "validate", parameters, env=env)
    assert validate.ok, validate.describe()

    # a working pitstop, from the venv under the redirected prefix (not this checkout)
    pitstop = prefix / "venv/bin/pitstop"
    version = subprocess.run([str(pitstop), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("pitstop "), version
    where = subprocess.run(
        [str(prefix / "venv/bin/python"), "-c", "import pitstop; print(pitstop.__file__)"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert where.stdout.startswith(str(prefix)), where.stdout

    # settings written from the parameters, and accepted by the settings check
    toml = (config_dir / "pitstop.toml").read_text()
    assert 'bucket = "my-bucket"' in toml and 'trainer = "simulated"' in toml
    assert 'drfc_home = "/opt/deepracer-for-cloud"' in toml

    # the unit is systemd/'s, with its paths following the redirected prefix and config dir
    unit = (unit_dir / UNIT_NAME).read_text()
    source_unit = find_unit().read_text()
    assert unit == source_unit.replace("/opt/pitstop/", f"{prefix}/").replace(
        "/etc/pitstop/", f"{config_dir}/"
    )
    assert f"ExecStart={pitstop} supervise --config {config_dir}/pitstop.toml" in unit
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit_dir / UNIT_NAME)], capture_output=True, text=True
    )
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr

    # enabled (for the next boot), never started on the build instance
    assert calls.read_text().splitlines() == ["daemon-reload", f"enable {UNIT_NAME}"]
