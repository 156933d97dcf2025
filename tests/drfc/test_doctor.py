"""``pitstop doctor`` on emulated instances: the same stand-ins as the DRfC harness."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from tests.drfc.sandbox import Instance
from tests.servers import FakeImds

pytestmark = pytest.mark.e2e

V6 = "v6.0.4"


def doctor(inst: Instance, env: dict[str, str], *args: str) -> tuple[int, str]:
    """``pitstop doctor`` on the instance (the host's view), as someone logged in runs it."""
    full = {
        **env,
        "PITSTOP_DRFC_HOME": str(inst.drfc_home),
        "PITSTOP_STATE_DIR": str(inst.root / "state"),
    }
    r = inst.sh(
        f"{sys.executable} -m pitstop.cli.main doctor {' '.join(args)}", timeout=300, **full
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, r.stdout


def by_name(out: str) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(out)["checks"]}


@pytest.fixture
def imds():  # type: ignore[no-untyped-def]
    server = FakeImds("i-doctor")
    yield server
    server.close()


def test_a_ready_instance_passes(instances, settings_env, imds) -> None:
    inst = instances(V6)
    env = {**settings_env, "PITSTOP_TRAINER": "drfc", "PITSTOP_IMDS_ENDPOINT": imds.endpoint}
    env["PITSTOP_INSTANCE_ID"] = ""  # (settings_env sets one)
    code, out = doctor(inst, env, "--json")
    checks = by_name(out)
    assert code == 0 and json.loads(out)["ok"] is True
    expected = [
        "settings",
        "drfc",
        "activate",
        "/tmp/sagemaker",
        "unit",
        "docker",
        "node labels",
        "network",
        "image",
        "gpu",
        "containers",
        "s3",
        "imds",
        "last_attempt",
    ]
    assert list(checks) == expected
    # (this machine has no systemd to ask about the unit: a warning, not a failure)
    assert {n: c["status"] for n, c in checks.items() if n != "unit"} == dict.fromkeys(
        set(expected) - {"unit"}, "ok"
    )
    assert "v6.0.4" in checks["drfc"]["detail"] or "DRfC 6.0" in checks["drfc"]["detail"]
    assert "1 visible to Docker (NVIDIA A10G)" in checks["gpu"]["detail"]
    assert checks["imds"]["detail"].startswith("i-doctor")


def test_no_gpu_no_bucket_no_metadata_fail_with_what_to_do(instances, settings_env) -> None:
    inst = instances(V6, gpus=0)
    env = {
        **settings_env,
        "PITSTOP_TRAINER": "drfc",
        "PITSTOP_BUCKET": "no-such-bucket-anywhere",
        "PITSTOP_IMDS_ENDPOINT": "http://127.0.0.1:9",
    }
    env["PITSTOP_INSTANCE_ID"] = ""  # (settings_env sets one)
    code, out = doctor(inst, env)
    lines = out.splitlines()
    assert code == 1
    status = {line[6:22].strip(): line[:5].strip() for line in lines}
    assert status["gpu"] == "fail" and status["s3"] == "fail" and status["imds"] == "fail"
    assert status["docker"] == "ok" and status["image"] == "ok"
    gpu = next(line for line in lines if line[6:].startswith("gpu"))
    assert "No devices were found" in gpu and "-> check the NVIDIA driver" in gpu
    assert all(line.split()[0] in ("ok", "warn", "fail") for line in lines)


def test_an_uninitialised_instance_says_to_run_init(instances, settings_env, imds) -> None:
    inst = instances(V6, init=False)
    env = {**settings_env, "PITSTOP_TRAINER": "drfc", "PITSTOP_IMDS_ENDPOINT": imds.endpoint}
    code, out = doctor(inst, env, "--json")
    checks = by_name(out)
    assert code == 1
    assert checks["drfc"]["status"] == "fail" and "bin/init.sh" in checks["drfc"]["fix"]
    assert (
        checks["docker"]["status"] == "fail" and "swarm is inactive" in checks["docker"]["detail"]
    )
    # what needs a checkout or a swarm is not checked again
    assert "activate" not in checks and "node labels" not in checks
    # but the GPU says it was not looked at (a missing line read as "no GPU problem")
    assert checks["gpu"] == {
        "name": "gpu", "status": "warn", "detail": "not checked: needs Docker", "fix": ""
    }  # fmt: skip
    assert checks["s3"]["status"] == "ok"


def test_bad_settings_are_one_failed_check_not_a_traceback(
    tmp_path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pitstop.cli.main import main

    (tmp_path / "bad.toml").write_text('bucket = "Not_A_Bucket"\n')
    monkeypatch.setenv("PITSTOP_IMDS_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("PITSTOP_CONFIG", str(tmp_path / "bad.toml"))
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fail  settings") and "not a valid S3 bucket name" in out[0]
