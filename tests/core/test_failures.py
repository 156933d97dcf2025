"""The failure classifier (``core/failures.py``) and the hang signatures (``core/hangs.py``):
what each class rests on, and what it must never be fooled by."""

from __future__ import annotations

import json

import pytest

from pitstop.core import hangs
from pitstop.core.failures import FailureKind, Leftovers, classify, simapp_exception
from pitstop.core.hangs import Container, EvaluationTail, Live, evaluation_tail

REWARD_TRACEBACK = """\
INFO:rl_coach:Episode 3 started
Traceback (most recent call last):
  File "/opt/amazon/markov/environments/deepracer_racetrack_env.py", line 541, in judge_action
    reward = float(self.reward_function(params))
  File "/opt/amazon/markov/rewards/reward_function.py", line 17, in reward_function
    distance = params['closest_objects'][0]
KeyError: 'closest_objects'
"""


def simapp_line(message: str, event: str, code: str, source: str) -> str:
    """One line as simapp's ``log_and_exit`` writes it."""
    inner = {
        "date": "2026-12-05 00:10:11.123",
        "function": "judge_action",
        "message": message,
        "exceptionType": source,
        "eventType": event,
        "errorCode": code,
    }
    return json.dumps({"simapp_exception": inner})


def test_a_reward_function_that_raises_is_a_user_error_with_its_message_and_line() -> None:
    logs = (
        REWARD_TRACEBACK
        + simapp_line(
            "Reward function exception: 'closest_objects'",
            "user_error",
            "400",
            "simulation_worker.exceptions",
        )
        + "\nERROR: FAULT_CODE: 41\n"
    )
    d = classify(Leftovers(exit_code=1, logs=logs))
    assert d.kind is FailureKind.USER_ERROR
    assert d.signature == "reward_error"
    assert d.line == 17 and d.fault_code == 41
    assert "Reward function exception: 'closest_objects'" in d.reason
    assert "reward_function.py line 17" in d.reason
    assert d.describe().startswith("user_error: ")


def test_a_reward_traceback_without_simapps_line_is_a_user_error_too() -> None:
    d = classify(Leftovers(exit_code=1, logs=REWARD_TRACEBACK))
    assert d.kind is FailureKind.USER_ERROR
    assert d.line == 17
    assert "KeyError: 'closest_objects'" in d.reason


def test_a_traceback_that_passes_through_the_reward_file_but_ends_elsewhere_is_not() -> None:
    logs = REWARD_TRACEBACK.replace(
        "KeyError: 'closest_objects'",
        '  File "/usr/lib/python3/json/decoder.py", line 3, in decode\nValueError: boom',
    )
    assert classify(Leftovers(exit_code=1, logs=logs)).kind is FailureKind.UNKNOWN


@pytest.mark.parametrize(
    ("line", "signature"),
    [
        ("[ 1234.5] NVRM: Xid (PCI:0000:00:1e): 79, pid=4242, GPU has fallen off the bus.", "gpu_xid"),
        ("tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor", "cuda_oom"),
        ("RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB", "cuda_oom"),
        ("Failed to initialize NVML: Driver/library version mismatch", "driver_mismatch"),
        ("docker: Error response from daemon: could not select device driver \"\" with capabilities: [[gpu]].", "driver_mismatch"),
        ("OSError: [Errno 28] No space left on device", "disk_full"),
        ("Get https://registry-1.docker.io/v2/: x509: certificate has expired or is not yet valid", "certificate"),
        ("Sagemaker is not running.", "sagemaker_not_running"),
        ("botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: \"https://s3\"", "s3_unreachable"),
    ],
)  # fmt: skip
def test_gpu_driver_and_host_faults_are_infrastructure(line: str, signature: str) -> None:
    d = classify(Leftovers(exit_code=1, logs=f"INFO: step 10\n{line}\nINFO: exiting\n"))
    assert d.kind is FailureKind.INFRASTRUCTURE
    assert d.signature == signature
    assert line.strip()[:40] in d.reason  # the line itself, so a human can search for it


def test_the_hosts_own_messages_count_and_so_does_docker_oom_killed() -> None:
    host = "kernel: NVRM: Xid (PCI:0000:00:1e): 48, pid=1, DBE (double bit error)"
    assert classify(Leftovers(exit_code=137, host=host)).signature == "gpu_xid"
    oom = (Container("abc-algo-1-x", "sagemaker", "exited", 137, 0, True),)
    d = classify(Leftovers(exit_code=137, containers=oom))
    assert d.kind is FailureKind.INFRASTRUCTURE and d.signature == "host_oom"


def test_simapps_user_error_outranks_an_infrastructure_pattern() -> None:
    logs = (
        "CUDA out of memory\n"
        + simapp_line("Failed to parse model_metadata file", "user_error", "400", "x")
        + "\nERROR: FAULT_CODE: 36\n"
    )
    d = classify(Leftovers(exit_code=1, logs=logs))
    assert d.kind is FailureKind.USER_ERROR
    assert d.signature == "simapp_user_error" and d.line is None


def test_a_system_error_is_unknown_unless_the_logs_show_the_machine_failed() -> None:
    sys_err = simapp_line("Unable to upload checkpoint", "system_error", "500", "s3_datastore")
    d = classify(Leftovers(exit_code=1, logs=sys_err + "\nERROR: FAULT_CODE: 5\n"))
    assert d.kind is FailureKind.UNKNOWN
    assert "Unable to upload checkpoint" in d.reason and d.fault_code == 5
    with_xid = sys_err + "\nNVRM: Xid (PCI:0000:00:1e): 79, GPU has fallen off the bus\n"
    assert classify(Leftovers(exit_code=1, logs=with_xid)).kind is FailureKind.INFRASTRUCTURE


def test_only_the_first_simapp_exception_counts_and_garbage_is_skipped() -> None:
    first = simapp_line("Reward function exception: x", "user_error", "400", "s")
    second = simapp_line("Unable to upload", "system_error", "500", "s")
    logs = '{"simapp_exception": {"message": "cut of' + "\n" + first + "\n" + second + "\n"
    found = simapp_exception(logs)
    assert found is not None and found["message"] == "Reward function exception: x"
    assert simapp_exception('{"simapp_exception": [1, 2]}\n') is None


def test_nothing_explained_is_unknown_with_the_exit_code() -> None:
    d = classify(Leftovers(exit_code=3, logs="INFO: iteration 4\n"))
    assert d.kind is FailureKind.UNKNOWN and d.signature is None
    assert "exit code 3" in d.reason
    assert classify(Leftovers()).kind is FailureKind.UNKNOWN


def test_hostile_logs_give_one_bounded_line() -> None:
    message = "x" * 5000 + "\n" + "y" * 100
    logs = simapp_line(message, "user_error", "400", "s") + "\n"
    d = classify(Leftovers(exit_code=1, logs=logs))
    assert d.kind is FailureKind.USER_ERROR
    assert "\n" not in d.reason and len(d.reason) <= 300
    binary = "\x00\xff" * 10000 + "Xid"
    assert classify(Leftovers(exit_code=1, logs=binary)).kind is FailureKind.UNKNOWN


# -- hang signatures ------------------------------------------------------------------------
SAGEMAKER_UP = Container("tmpab-algo-1-xyz12", "sagemaker", "running")
SAGEMAKER_DOWN = Container("tmpab-algo-1-xyz12", "sagemaker", "exited", 1)
ROBO = [Container(f"deepracer-0_robomaker.{i}", "robomaker", "running") for i in (1, 2)]


def detect(live: Live) -> hangs.Hang | None:
    return hangs.detect(live, evaluation_lengths=30)


def test_sagemaker_gone_while_robomaker_runs() -> None:
    hang = hangs.container_hang((SAGEMAKER_DOWN, ROBO[0]), hangs.RESTART_LIMIT)
    assert hang is not None and hang.signature == "sagemaker_exited"
    # SageMaker is the drfc trainer: its exit is the trainer's, seen and classified as such
    # (a docker ps a moment after the status read must not turn that crash into a stall)
    assert detect(Live((SAGEMAKER_DOWN, ROBO[0]))) is None
    d = classify(Leftovers(exit_code=1, containers=(SAGEMAKER_DOWN, ROBO[0])))
    assert d.signature == "sagemaker_exited" and "RoboMaker still runs" in d.reason
    assert hangs.container_hang((SAGEMAKER_UP, ROBO[0]), hangs.RESTART_LIMIT) is None
    # both gone is no hang: the attempt simply ended (the exit decides)
    down = Container(ROBO[0].name, "robomaker", "exited", 0)
    assert hangs.container_hang((SAGEMAKER_DOWN, down), hangs.RESTART_LIMIT) is None


def test_one_worker_of_several_gone() -> None:
    gone = Container(ROBO[1].name, "robomaker", "exited", 137)
    hang = detect(Live((SAGEMAKER_UP, ROBO[0], gone)))
    assert hang is not None and hang.signature == "worker_exited"
    assert "137" in hang.detail and "1 of 2" in hang.detail
    assert detect(Live((SAGEMAKER_UP, *ROBO))) is None
    # a single worker that exited is the trainer's own exit, not this signature
    assert detect(Live((SAGEMAKER_UP, gone))) is None


def test_a_container_restarting_in_a_loop() -> None:
    looping = Container(ROBO[0].name, "robomaker", "restarting", None, 1)
    hang = detect(Live((SAGEMAKER_UP, looping)))
    assert hang is not None and hang.signature == "restart_loop"
    counted = Container(ROBO[0].name, "robomaker", "running", None, 3)
    assert detect(Live((SAGEMAKER_UP, counted))) is not None
    assert (
        detect(Live((SAGEMAKER_UP, Container(ROBO[0].name, "robomaker", "running", None, 2))))
        is None
    )


def rows(pattern: str, ms: int = 12000) -> list[dict[str, object]]:
    """``t``: a training episode, ``e``: an evaluation one, each ``ms`` long."""
    phase = {"t": "training", "e": "evaluation"}
    return [{"phase": phase[c], "elapsed_time_in_milliseconds": ms} for c in pattern]


def test_endless_evaluation_is_measured_in_episode_lengths_of_simulated_time() -> None:
    tail = evaluation_tail(rows("tttt" + "e" * 29))
    assert tail == EvaluationTail(episodes=29, seconds=348.0, episode_s=12.0, trained=4)
    assert detect(Live((), tail)) is None  # 29 lengths: not yet
    tail = evaluation_tail(rows("tttt" + "e" * 30))
    hang = detect(Live((), tail))
    assert hang is not None and hang.signature == "endless_evaluation"
    # a training episode starts the count again (the checkpoint came)
    assert evaluation_tail(rows("tt" + "e" * 40 + "t")).episodes == 0


def test_the_evaluation_tail_never_guesses_from_bad_rows() -> None:
    bad: list[dict[str, object]] = [
        {"phase": "training", "elapsed_time_in_milliseconds": "12000"},
        {"phase": "evaluation", "elapsed_time_in_milliseconds": float("nan")},
        {"phase": "evaluation", "elapsed_time_in_milliseconds": True},
        {"phase": "evaluation"},
        {"phase": "training", "elapsed_time_in_milliseconds": -5},
    ]
    tail = evaluation_tail(bad)
    assert tail == EvaluationTail(0, 0.0, None)
    assert detect(Live((), tail)) is None
    # no training episode yet: no length to measure by, so no verdict
    assert detect(Live((), evaluation_tail(rows("e" * 500)))) is None
    assert (
        hangs.detect(Live((), evaluation_tail(rows("t" + "e" * 99))), evaluation_lengths=0) is None
    )


def timed(pattern: str, ms: int = 12000, start: int = 0) -> list[dict[str, object]]:
    """``rows`` with simapp's ``metric_time`` (each episode ends ``ms`` after the last)."""
    out = rows(pattern, ms)
    for i, row in enumerate(out):
        row["metric_time"] = start + (i + 1) * ms
    return out


def test_a_silent_worker_is_measured_in_worker_0s_episodes_since_it_last_wrote() -> None:
    w0 = timed("tttt")
    tail = evaluation_tail(w0)
    assert tail.newest_ms == 48000 and tail.seconds_after(24000) == 24.0 and tail.trained == 4
    # worker 1 wrote its 3rd training episode (its ETag changed) when worker 0 had 4
    marks = hangs.mark_workers((), {1: ("etag-a", 3)}, tail)
    assert marks == (hangs.WorkerMark(1, "etag-a", 3, 48000),)
    # worker 0 trains on: 29 lengths later worker 1 is not yet silent, 30 lengths it is
    later = evaluation_tail(timed("tttt" + "t" * 29))
    assert hangs.mark_workers(marks, {1: ("etag-a", 3)}, later) == marks  # unchanged: kept
    assert detect(Live((), later, marks)) is None
    latest = evaluation_tail(timed("tttt" + "t" * 30))
    hang = detect(Live((), latest, marks))
    assert hang is not None and hang.signature == "silent_worker"
    assert "worker 1" in hang.detail and "30 episode lengths" in hang.detail
    assert "(3 training episodes to worker 0's 34)" in hang.detail
    # a new episode of worker 1 (a new ETag) moves its mark: no longer silent
    moved = hangs.mark_workers(marks, {1: ("etag-b", 4)}, latest)
    assert moved[0].since_ms == latest.newest_ms and detect(Live((), latest, moved)) is None


def test_a_worker_that_finished_its_share_is_waiting_not_silent() -> None:
    # SageMaker stuck: every worker trained its share, worker 0 evaluates on. The worker that
    # finished first has been quiet longest, but it waits for the checkpoint like the rest:
    # the hang is the endless evaluation, never the worker
    tail = evaluation_tail(timed("tttt" + "e" * 40))
    done = (hangs.WorkerMark(1, "a", 4, 12000),)
    hang = detect(Live((), tail, done))
    assert hang is not None and hang.signature == "endless_evaluation"
    # the same silence with the worker one episode short: the worker is the cause
    short = (hangs.WorkerMark(1, "a", 3, 12000),)
    hang = detect(Live((), tail, short))
    assert hang is not None and hang.signature == "silent_worker"


def test_the_silent_worker_is_named_before_the_endless_evaluation_it_causes() -> None:
    # worker 2 stopped short an iteration before worker 0's last training episode; worker 1
    # finished its share; worker 0 has evaluated since: the cause (worker 2) is named
    tail = evaluation_tail(timed("tttt" + "e" * 40))
    marks = (hangs.WorkerMark(1, "a", 4, 48000), hangs.WorkerMark(2, "b", 2, 24000))
    hang = detect(Live((), tail, marks))
    assert hang is not None and hang.signature == "silent_worker" and "worker 2" in hang.detail
    # two workers behind and equally quiet: one is named (never an error comparing them)
    tied = (hangs.WorkerMark(1, "a", 2, 24000), hangs.WorkerMark(2, "b", 2, 24000))
    assert detect(Live((), tail, tied)) is not None
    # without the workers' marks the same metrics are the endless evaluation
    alone = detect(Live((), tail))
    assert alone is not None and alone.signature == "endless_evaluation"


def test_a_worker_that_never_wrote_is_silent_from_the_first_poll_that_saw_it() -> None:
    marks = hangs.mark_workers((), {1: (None, 0)}, None)  # nothing written by anyone yet
    assert marks == (hangs.WorkerMark(1, None, 0, -1),)
    tail = evaluation_tail(timed("t" * 30))
    hang = detect(Live((), tail, marks))
    assert hang is not None and "wrote no episode yet" in hang.detail
    # no training episode of worker 0 to measure by, or the check turned off: no verdict
    assert detect(Live((), evaluation_tail(rows("e" * 99)), marks)) is None
    assert hangs.detect(Live((), tail, marks), evaluation_lengths=0) is None


def test_a_worker_silent_longer_than_worker_0s_kept_episodes_is_silent() -> None:
    # the marked episode fell out of the timeline (or out of a trimmed file): all the
    # episodes kept are after it
    tail = evaluation_tail(timed("t" * 300, start=10_000_000))
    assert len(tail.timeline) == 200
    hang = detect(Live((), tail, (hangs.WorkerMark(1, "a", 2, 5_000),)))
    assert hang is not None and "200 episode lengths" in hang.detail
    # rows without a usable metric_time are left out of the timeline, not guessed
    odd = rows("tt")
    odd[0]["metric_time"] = "soon"
    odd[1]["metric_time"] = True
    assert evaluation_tail(odd).timeline == ()
