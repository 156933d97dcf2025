"""store/layout.py: each key format is built and parsed there, and the two agree.

Every build/parse pair: the parser gives back what was built (a round trip), and refuses a
key of another shape or another prefix (a foreign key). The model-prefix names are
DeepRacer's own (REFERENCE.md section 1 and "Evaluation and models"): pinned here.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pitstop.store.layout import (
    MODELS_DIR,
    Layout,
    ModelKeys,
    custom_file_key,
    custom_file_name,
    model_prefix,
    model_prefix_pattern,
    parse_model_prefix,
    parse_s3_url,
    s3_url,
)

LAY = Layout("team-a/pitstop")
OTHER = Layout("elsewhere")
JOB = "reward-1-0123456789"
PREFIX = model_prefix(JOB, 2)
KEYS = ModelKeys(PREFIX)
AT = datetime(2026, 11, 21, 18, 5, 7, 123456, tzinfo=timezone.utc)


def test_root_and_index_hold_the_queue() -> None:
    assert LAY.root == "team-a/pitstop/"
    assert LAY.index == "team-a/pitstop/index/"
    for key in (LAY.jobs, LAY.inbox, LAY.instances, LAY.claimable_index, LAY.terminal_index):
        assert key.startswith(LAY.root)
    for key in (LAY.claimable_index, LAY.terminal_index, LAY.listing_index):
        assert key.startswith(LAY.index)


def test_a_set_aside_state_round_trips_and_sorts_by_time() -> None:
    key = LAY.state_set_aside(JOB, AT)
    assert key == f"team-a/pitstop/jobs/{JOB}/state.json.corrupt-20261121T180507123456Z"
    assert LAY.parse_state_set_aside(key) == (JOB, AT.replace(tzinfo=None))
    later = LAY.state_set_aside(JOB, AT.replace(second=8))
    assert key < later


@pytest.mark.parametrize(
    "key",
    [
        f"team-a/pitstop/jobs/{JOB}/state.json",
        f"team-a/pitstop/jobs/{JOB}/spec.json.corrupt-20261121T180507123456Z",
        f"team-a/pitstop/jobs/{JOB}/state.json.corrupt-yesterday",
        f"elsewhere/jobs/{JOB}/state.json.corrupt-20261121T180507123456Z",
        f"team-a/pitstop/jobs/a/{JOB}/state.json.corrupt-20261121T180507123456Z",
    ],
)
def test_a_set_aside_parser_refuses_other_keys(key: str) -> None:
    assert LAY.parse_state_set_aside(key) is None


def test_a_shipped_log_round_trips() -> None:
    name = Layout.log_name(3, "attempt-3-containers.log")
    key = LAY.log(JOB, name)
    assert key == f"team-a/pitstop/jobs/{JOB}/logs/attempt-3/containers.log"
    assert LAY.parse_log(JOB, key) == name
    assert Layout.parse_exact_log_name(name) == (3, "containers.log")
    assert LAY.parse_log("other-job-1", key) is None
    assert OTHER.parse_log(JOB, key) is None
    assert LAY.parse_log(JOB, LAY.logs(JOB)) is None  # the folder itself names no log
    with pytest.raises(ValueError):
        LAY.log(JOB, "")


@pytest.mark.parametrize(
    "name",
    [
        "attempt-1",
        "attempt-x/trainer.log",
        "attempt-1/a/b.log",
        "../attempt-1/t.log",
        "attempt-1/t .log",
    ],
)
def test_a_client_may_ask_only_for_plain_log_names(name: str) -> None:
    assert Layout.parse_exact_log_name(name) is None


def test_a_local_log_file_names_its_attempt() -> None:
    for filename, n in (("attempt-4.log", 4), ("attempt-4-containers.log", 4), ("attempt-12", 12)):
        assert Layout.attempt_of_log_file(filename) == n
        assert Layout.log_name(n, filename).startswith(f"attempt-{n}/")
    for filename in ("supervisor.log", "attempt-x.log", "my-attempt-1.log", "attempt-1x.log"):
        assert Layout.attempt_of_log_file(filename) is None


def test_the_doctor_probe_round_trips() -> None:
    key = LAY.doctor_probe("ip-10-0-0-1")
    assert key == "team-a/pitstop/doctor/ip-10-0-0-1.probe"
    assert LAY.parse_doctor_probe(key) == "ip-10-0-0-1"
    assert OTHER.parse_doctor_probe(key) is None
    assert LAY.parse_doctor_probe("team-a/pitstop/doctor/a/b.probe") is None
    assert LAY.parse_doctor_probe("team-a/pitstop/doctor/host.txt") is None
    with pytest.raises(ValueError):
        LAY.doctor_probe("a/b")


def test_image_build_keys_round_trip() -> None:
    logs = LAY.image_logs("pitstop-gpu")
    assert logs == "team-a/pitstop/image-builder/logs/pitstop-gpu"
    assert LAY.parse_image_logs(logs) == "pitstop-gpu"
    assert LAY.parse_image_logs(logs + "/build-1/TOE.log") == "pitstop-gpu"
    assert OTHER.parse_image_logs(logs) is None
    wheel = LAY.wheel("0123456789abcdef", "pitstop-1.0-py3-none-any.whl")
    assert wheel == (
        "team-a/pitstop/image-builder/wheels/0123456789abcdef/pitstop-1.0-py3-none-any.whl"
    )
    assert LAY.parse_wheel(wheel) == ("0123456789abcdef", "pitstop-1.0-py3-none-any.whl")
    assert LAY.parse_wheel(logs) is None
    assert LAY.parse_wheel("team-a/pitstop/image-builder/wheels/d/a/b.whl") is None
    assert OTHER.parse_wheel(wheel) is None
    with pytest.raises(ValueError):
        LAY.wheel("d", "notes.txt")


def test_an_inbox_drop_folder_round_trips() -> None:
    folder = LAY.inbox_drop("my-reward")
    assert folder == "team-a/pitstop/inbox/my-reward/"
    assert LAY.inbox_entry(folder + "reward_function.py") == (
        "dir",
        "my-reward",
        "reward_function.py",
    )
    assert LAY.inbox_entry(LAY.inbox_processed + "my-reward/reward_function.py") is None
    assert LAY.inbox_entry(folder + "a/b.py") is None
    for bad in ("", "a/b", "processed"):
        with pytest.raises(ValueError):
            LAY.inbox_drop(bad)


def test_a_leaderboard_folder_round_trips() -> None:
    folder = LAY.leaderboard("reInvent2019_track")
    assert LAY.parse_leaderboard_dir(folder) == "reInvent2019_track"
    entry = LAY.leaderboard_key("reInvent2019_track", 1, 0, 2, JOB)
    assert LAY.parse_leaderboard_dir(entry) is None
    assert OTHER.parse_leaderboard_dir(folder) is None
    assert LAY.parse_leaderboard_dir(LAY.leaderboards) is None


def test_a_model_prefix_round_trips() -> None:
    assert model_prefix(JOB, 2) == f"models/{JOB}/attempt-2"
    assert PREFIX.startswith(MODELS_DIR)
    assert parse_model_prefix(PREFIX) == (JOB, 2)
    assert model_prefix_pattern(JOB) == f"models/{JOB}/attempt-N"
    for other in (
        f"models/{JOB}/attempt-2/",
        f"models/{JOB}/attempt-x",
        f"elsewhere/{JOB}/attempt-2",
        f"models/a/{JOB}/attempt-2",
        model_prefix_pattern(JOB),
    ):
        assert parse_model_prefix(other) is None


def test_custom_file_keys_round_trip_with_or_without_the_slash() -> None:
    folder = LAY.custom_files(JOB)
    assert folder == f"team-a/pitstop/jobs/{JOB}/custom_files/"
    key = LAY.custom_file(JOB, "reward_function.py")
    assert key == folder + "reward_function.py"
    assert custom_file_key(folder.rstrip("/"), "reward_function.py") == key
    assert custom_file_name(folder, key) == "reward_function.py"
    assert custom_file_name(folder.rstrip("/"), key) == "reward_function.py"
    assert custom_file_name(folder, folder + "a/b.py") is None
    assert custom_file_name(LAY.custom_files("other-1"), key) is None
    assert custom_file_key("", "reward_function.py") == "reward_function.py"
    with pytest.raises(ValueError):
        custom_file_key(folder, "a/b.py")


def test_model_files_round_trip_and_the_prefix_made_relative_is_the_import_layout() -> None:
    key = KEYS.model_file("12_Step-3400.ckpt.index")
    assert key == f"{PREFIX}/model/12_Step-3400.ckpt.index"
    assert KEYS.parse_model_file(key) == "12_Step-3400.ckpt.index"
    assert KEYS.parse_model_file(KEYS.metrics) is None
    assert ModelKeys("models/other/attempt-1").parse_model_file(key) is None
    assert KEYS.relative(KEYS.coach_checkpoint) == "model/.coach_checkpoint"
    assert KEYS.relative(KEYS.ip("hyperparameters.json")) == "ip/hyperparameters.json"
    assert KEYS.relative("models/other/attempt-1/model/x") is None
    with pytest.raises(ValueError):
        KEYS.model_file("a/b")


def test_training_metrics_round_trip_per_worker() -> None:
    for worker in (0, 1, 3):
        assert KEYS.parse_training_metrics(KEYS.training_metrics(worker)) == worker
    assert KEYS.metrics == KEYS.training_metrics(0)
    for other in (
        KEYS.evaluation_metrics(0),
        f"{PREFIX}/metrics/TrainingMetrics_x.json",
        f"{PREFIX}/metrics/old/TrainingMetrics.json",
        ModelKeys("models/other/attempt-1").metrics,
    ):
        assert KEYS.parse_training_metrics(other) is None


def test_evaluation_metrics_round_trip() -> None:
    key = KEYS.evaluation_metrics(int(AT.timestamp() * 1000))
    assert KEYS.parse_evaluation_metrics(key) == "evaluation-20261121180507.json"
    assert KEYS.parse_evaluation_metrics(f"{PREFIX}/metrics/evaluation/e.json") == "e.json"
    for other in (
        KEYS.metrics,
        f"{PREFIX}/metrics/evaluation/evaluation-1.csv",
        f"{PREFIX}/metrics/evaluation/old/evaluation-1.json",
        ModelKeys("models/other/attempt-1").evaluation_metrics(0),
    ):
        assert KEYS.parse_evaluation_metrics(other) is None


def test_evaluation_simtrace_round_trip_with_its_metrics_files_stamp() -> None:
    """DRfC stamps an evaluation's simtrace folder and its metrics file alike (issue 25's
    research, section 6); deepracer-utils wants exactly 14 digits (section 1)."""
    ms = int(AT.timestamp() * 1000)
    key = KEYS.evaluation_simtrace(ms)
    assert KEYS.relative(key) == "evaluation-20261121180507/evaluation-simtrace/0-iteration.csv"
    assert KEYS.parse_evaluation_simtrace(key) == ("20261121180507", 0)
    assert KEYS.parse_evaluation_simtrace(KEYS.evaluation_simtrace(ms, 3)) == ("20261121180507", 3)
    stamp, _ = KEYS.parse_evaluation_simtrace(key) or ("", 0)
    assert KEYS.parse_evaluation_metrics(KEYS.evaluation_metrics(ms)) == f"evaluation-{stamp}.json"
    for other in (
        KEYS.simtrace(0),
        KEYS.evaluation_metrics(ms),
        f"{PREFIX}/evaluation-2026112118050/evaluation-simtrace/0-iteration.csv",  # 13 digits
        f"{PREFIX}/evaluation-20261121180507/training-simtrace/0-iteration.csv",
        f"{PREFIX}/evaluation-20261121180507/evaluation-simtrace/x-iteration.csv",
        f"{PREFIX}/x/evaluation-20261121180507/evaluation-simtrace/0-iteration.csv",
        ModelKeys("models/other/attempt-1").evaluation_simtrace(ms),
    ):
        assert KEYS.parse_evaluation_simtrace(other) is None
    with pytest.raises(ValueError):
        KEYS.evaluation_simtrace(ms, -1)


def test_s3_urls_round_trip() -> None:
    url = s3_url("my-bucket", PREFIX)
    assert url == f"s3://my-bucket/{PREFIX}"
    assert parse_s3_url(url) == ("my-bucket", PREFIX)
    assert parse_s3_url("https://my-bucket/x") is None
    assert parse_s3_url(PREFIX) is None


def test_model_prefix_names_are_deepracers_own() -> None:
    """REFERENCE.md section 1 (what a DeepRacer trainer writes under a model prefix) and
    "Evaluation and models" (DRfC's evaluation metrics)."""
    rel = {
        "training_params.yaml": KEYS.training_params,
        "reward_function.py": KEYS.reward_function,
        "ip/ip.json": KEYS.ip("ip.json"),
        "ip/done": KEYS.ip("done"),
        "ip/hyperparameters.json": KEYS.ip("hyperparameters.json"),
        "model/model_metadata.json": KEYS.metadata,
        "model/.ready": KEYS.ready,
        "model/.lock": KEYS.lock,
        "model/.coach_checkpoint": KEYS.coach_checkpoint,
        "model/deepracer_checkpoints.json": KEYS.checkpoints_json,
        "metrics/TrainingMetrics.json": KEYS.metrics,
        "metrics/TrainingMetrics_2.json": KEYS.training_metrics(2),
        "model/.finished": KEYS.finished,
        "training-simtrace/4-iteration.csv": KEYS.simtrace(4),
        "evaluation-20261121180507/evaluation-simtrace/0-iteration.csv": KEYS.evaluation_simtrace(
            int(AT.timestamp() * 1000)
        ),
        # 14 digits (DRfC's scripts/evaluation/prepare-config.py)
        "metrics/evaluation/evaluation-20261121180507.json": KEYS.evaluation_metrics(
            int(AT.timestamp() * 1000)
        ),
    }
    assert {r: KEYS.relative(k) for r, k in rel.items()} == {r: r for r in rel}
    assert [KEYS.relative(k) for k in KEYS.checkpoint_files("65_Step-172301.ckpt")] == [
        "model/65_Step-172301.ckpt.index",
        "model/65_Step-172301.ckpt.meta",
        "model/65_Step-172301.ckpt.data-00000-of-00001",
        "model/model_65.pb",
    ]
