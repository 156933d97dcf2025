"""The simulated trainer's ``reward_error`` and ``gpu_error`` faults say why they stop as the
real stack does (REFERENCE.md, "How simapp says why it stopped"), and what they print is
what ``core.failures.classify`` reads.

The real trainer process runs against the moto server for a short job; its log is what the
supervisor's process trainer would hand to ``classify`` (the exit code and the log's tail).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pitstop.core.failures import FailureKind, Leftovers, classify, simapp_exception
from pitstop.core.records import Fault
from pitstop.store.layout import ModelKeys
from pitstop.trainers.base import tail
from pitstop.trainers.simulated_run import reward_error_lines, reward_line
from tests.helpers import wait_for
from tests.trainers.test_simapp_formats import CUSTOM, PER_ITERATION, Run, check_uploaded

REWARD = "import math\n\ndef reward_function(params):\n    x = params['x']\n    return 1.0\n"
PREFIX = "models/faults/attempt-1"


@pytest.fixture
def run(bucket: str, s3_endpoint: str, tmp_path: Path) -> Run:
    r = Run(bucket, s3_endpoint, tmp_path)
    r.put(f"{CUSTOM}reward_function.py", REWARD)
    r.put(f"{CUSTOM}hyperparameters.json", json.dumps({"num_episodes_between_training": 4}))
    return r


def sim(*faults: dict[str, Any]) -> dict[str, Any]:
    return {"checkpoint_interval_s": 0.05, "checkpoints": 3, "faults": list(faults)}


def leftovers(run: Run, code: int) -> Leftovers:
    log = run.tmp / "trainer-1.log"
    return Leftovers(exit_code=code, logs=tail(log))


def test_a_reward_error_prints_what_simapp_prints_and_exits_1(run: Run) -> None:
    fault = {"kind": "reward_error", "after_checkpoint": 1, "step": 200, "exit_code": 9}
    code = run.run(PREFIX, 1, sim(fault))
    assert code == 1  # simapp's os._exit(1), whatever exit_code says
    left = leftovers(run, code)
    exc = simapp_exception(left.logs)
    assert exc is not None
    assert exc["eventType"] == "user_error" and exc["errorCode"] == "400"
    assert exc["exceptionType"] == "simulation_worker.exceptions"
    assert exc["message"] == "Reward function error: Reward function exception 'closest_objects'"
    assert "ERROR: FAULT_CODE: 41" in left.logs
    assert 'customer_reward_function.py", line 5, in reward_function\n    return 1.0\n' in left.logs
    d = classify(left)
    assert d.kind is FailureKind.USER_ERROR and d.signature == "reward_error"
    assert d.line == 5 and d.fault_code == 41  # the job's own return line
    assert "closest_objects" in d.reason and "reward_function.py line 5" in d.reason
    # the iteration it raised in uploaded nothing: one trained checkpoint, one iteration's rows
    rows = check_uploaded(run, PREFIX)
    assert sum(r["phase"] == "training" for r in rows) == PER_ITERATION
    assert (run.get(ModelKeys(PREFIX).coach_checkpoint) or b"").startswith(b"1_Step-")
    assert run.get(ModelKeys(PREFIX).finished) is None


def test_a_reward_errors_message_and_line_can_be_given(run: Run) -> None:
    fault = {"kind": "reward_error", "message": "ZeroDivisionError: float division by zero", "line": 42}  # fmt: skip
    code = run.run(PREFIX, 1, sim(fault))
    d = classify(leftovers(run, code))
    assert d.kind is FailureKind.USER_ERROR and d.line == 42
    assert "float division by zero" in d.reason
    assert run.get(ModelKeys(PREFIX).coach_checkpoint) == b"0_Step-0.ckpt"  # only the initial


@pytest.mark.parametrize(
    "variant, signature", [("xid", "gpu_xid"), ("cuda_oom", "cuda_oom")], ids=["xid", "cuda_oom"]
)
def test_a_gpu_error_is_an_infrastructure_fault(run: Run, variant: str, signature: str) -> None:
    fault = {"kind": "gpu_error", "variant": variant, "after_checkpoint": 2, "exit_code": 134}
    code = run.run(PREFIX, 1, sim(fault))
    assert code == 134
    left = leftovers(run, code)
    if variant == "xid":
        assert "NVRM: Xid (PCI:0000:00:1e): 79, pid=" in left.logs
        assert "GPU has fallen off the bus." in left.logs
    else:
        assert "ResourceExhaustedError: OOM when allocating tensor" in left.logs
    d = classify(left)
    assert d.kind is FailureKind.INFRASTRUCTURE and d.signature == signature
    assert sum(r["phase"] == "training" for r in check_uploaded(run, PREFIX)) == 2 * PER_ITERATION


def test_a_gpu_error_in_an_evaluation(run: Run) -> None:
    prefix = "models/faults-eval/attempt-1"
    keys = ModelKeys(prefix)
    run.put(keys.coach_checkpoint, "3_Step-3000.ckpt")
    run.put(keys.metadata, json.dumps({"action_space": [{"steering_angle": 0.0, "speed": 1.0}]}))
    evaluation = json.dumps({"model_prefix": "models/faults/attempt-1", "laps": 3})
    fault = {"kind": "gpu_error", "after_checkpoint": 1}
    code = run.run(prefix, 1, sim(fault), PITSTOP_KIND="evaluation", PITSTOP_EVALUATION=evaluation)
    assert code == 1
    assert classify(leftovers(run, code)).signature == "gpu_xid"


def test_the_reward_line_is_the_first_return_else_line_1() -> None:
    assert reward_line(REWARD.encode()) == (5, "return 1.0")
    assert reward_line(b"def reward_function(p):\n    pass\n") == (1, "def reward_function(p):")
    assert reward_line(b"") == (1, "")


def test_a_free_text_message_is_printed_as_an_exception() -> None:
    text = reward_error_lines(Fault(kind="reward_error", message="no  such\nparam"), b"")
    assert "\nException: no such param\n" in text
    exc = simapp_exception(text)
    assert exc is not None
    assert exc["message"] == "Reward function error: Reward function exception no such param"


def test_each_rollout_worker_writes_its_own_metrics_file(run: Run) -> None:
    code = run.run(PREFIX, 1, {**sim(), "workers": 3})
    assert code == 0
    keys = ModelKeys(PREFIX)
    for k in (1, 2):
        doc = json.loads(run.get(keys.training_metrics(k)) or b"{}")
        rows = doc["metrics"]
        # its share of each of the 3 iterations, training episodes only (worker 0 evaluates)
        assert [r["phase"] for r in rows] == ["training"] * 3 * (4 // 3)
        assert all(r["metric_time"] > 0 and r["elapsed_time_in_milliseconds"] > 0 for r in rows)
    assert run.get(keys.training_metrics(3)) is None  # workers 0..2 only


def test_a_silent_worker_stops_writing_while_worker_0_evaluates_on(run: Run) -> None:
    fault = {"kind": "silent_worker", "worker": 2, "after_checkpoint": 1}
    keys = ModelKeys(PREFIX)
    proc = run.start(PREFIX, 1, {**sim(fault), "workers": 3})
    try:

        def worker_0_evaluating() -> list[dict[str, Any]] | None:
            doc = json.loads(run.get(keys.metrics) or b"{}")
            rows = doc.get("metrics", [])
            evaluating = rows[-3:] and all(r["phase"] == "evaluation" for r in rows[-3:])
            return rows if evaluating and len(rows) > 9 else None

        rows = wait_for(worker_0_evaluating, 60, "worker 0's endless evaluation", interval=0.2)
        assert proc.poll() is None  # still running: a hang, not an exit
    finally:
        proc.kill()
        proc.wait()
    count = {k: len(json.loads(run.get(keys.training_metrics(k)) or b"{}")["metrics"]) for k in (1, 2)}  # fmt: skip
    # worker 1 finished the iteration worker 2 went quiet in; worker 2 did not
    assert count == {1: 2, 2: 1}
    # every worker trains its share (4 episodes over 3 workers: 1 each), worker 0 included
    assert sum(r["phase"] == "training" for r in rows) == 2 * (PER_ITERATION // 3)
    # no checkpoint after the first: SageMaker waits for worker 2's rollouts
    assert (run.get(keys.coach_checkpoint) or b"").startswith(b"1_Step-")
    assert "rollout worker 2 silent after 1 checkpoints" in (run.tmp / "trainer-1.log").read_text()
