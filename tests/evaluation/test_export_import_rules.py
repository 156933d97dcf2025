"""``pitstop export`` against the rules of the tools that read its output.

Each test names the source of the rule it checks (repository and path, as read for issue 25):

- DRoA: aws-solutions/deepracer-on-aws v1.2.5 (``source/libs/lambda/src/...``, the browser's
  ``source/apps/website/src/pages/ImportModel/...``, simapp's model validator
  ``bundle/markov/validation_worker.py`` that DRoA's import workflow runs).
- DRfC: aws-deepracer-community/deepracer-for-cloud v6.0.4 ``scripts/droa/import_model.py``
  (``droa-import-model``) and ``scripts/upload/upload-model.sh`` (``dr-upload-model``).
- deepracer-utils ``deepracer/logs/metrics.py`` (``TrainingMetrics``).
- The car: aws-deepracer/aws-deepracer-webserver-pkg ``webserver_pkg/models.py`` and
  aws-deepracer/aws-deepracer-systems-pkg ``model_loader_module/model_loader_node.py``.

The model is built in moto's S3 server as a DRfC trainer leaves it; the export runs through
the CLI (``pitstop export``) and the functions.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from pitstop.errors import InvalidInput
from pitstop.evaluation.export import car_tarball, droa_layout
from pitstop.evaluation.import_rules import car_model_name, check_car_members
from pitstop.store.layout import ModelKeys
from pitstop.store.objects import S3Store
from pitstop.tracks import available, load
from pitstop.tracks.droa import droa_track_for, droa_tracks
from pitstop.tracks.worlds import known_worlds

PREFIX = "models/drfc-run"
BEST, LAST = "1_Step-1000.ckpt", "2_Step-2000.ckpt"
DISCRETE = {
    "action_space": [{"steering_angle": 0.0, "speed": 1.0, "index": 0}],
    "action_space_type": "discrete",
    "training_algorithm": "clipped_ppo",
    "sensor": ["FRONT_FACING_CAMERA"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "version": "5",
}
HYPER = {"batch_size": 64, "num_episodes_between_training": 20, "lr": 0.0003}
METRICS = {
    "metrics": [
        {
            "reward_score": 31,
            "metric_time": 31538,
            "start_time": 27746,
            "elapsed_time_in_milliseconds": 3792,
            "episode": 1,
            "trial": 1,
            "phase": "training",
            "completion_percentage": 29,
            "episode_status": "Off track",
        }
    ],
    "version": 2.0,
    "best_model_metric": "progress",
}


def drfc_params(world: str) -> str:
    """A training_params.yaml as DRfC's scripts/training/prepare-config.py writes it."""
    return (
        "---\n'AWS_REGION': 'us-east-1'\n'BODY_SHELL_TYPE': 'deepracer'\n'CAR_COLOR': 'Red'\n"
        "'JOB_TYPE': 'TRAINING'\n'METRICS_S3_BUCKET': 'bucket'\n"
        f"'METRICS_S3_OBJECT_KEY': '{PREFIX}/metrics/TrainingMetrics.json'\n"
        "'RACE_TYPE': 'TIME_TRIAL'\n"
        f"'SAGEMAKER_SHARED_S3_PREFIX': '{PREFIX}'\n'WORLD_NAME': '{world}'\n"
    )


@pytest.fixture
def store(bucket: str, s3_endpoint: str) -> S3Store:
    return S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint)


def put_model(
    store: S3Store,
    world: str = "reInvent2019_track_cw",
    metadata: dict[str, Any] | None = None,
    hyper: dict[str, Any] | None = None,
    prefix: str = PREFIX,
) -> None:
    keys = ModelKeys(prefix)
    for name in (BEST, LAST):
        for key in keys.checkpoint_files(name):
            store.put(key, f"{name}:{key}".encode())
    entry = {"name": LAST, "avg_eval_metric": 12.5, "time_stamp": 1700000000.0}
    store.put(
        keys.checkpoints_json,
        json.dumps({"best_checkpoint": {"name": BEST}, "last_checkpoint": entry}).encode(),
    )
    store.put(keys.coach_checkpoint, LAST.encode())
    store.put(keys.metadata, json.dumps(metadata or DISCRETE).encode())
    store.put(keys.reward_function, b"def reward_function(params):\n    return 1.0\n")
    store.put(keys.ip("hyperparameters.json"), json.dumps(hyper or HYPER).encode())
    store.put(keys.training_params, drfc_params(world).encode())
    store.put(keys.metrics, json.dumps(METRICS).encode())
    store.put(keys.evaluation_metrics(1_700_000_000_000), b'{"metrics": []}')
    store.put(f"{keys.metrics_dir}old-run.tar.gz", b"an archive someone left there")


def export(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from pitstop.cli.main import main

    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def folder(
    store: S3Store,
    settings_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """``pitstop export PREFIX --droa DIR`` of the last checkpoint of a reInvent2019_track_cw
    model."""
    put_model(store)
    out = tmp_path / "droa"
    code, stdout, err = export([PREFIX, "--checkpoint", "last", "--droa", str(out)], capsys)
    assert code == 0, err
    assert "WORLD_NAME reInvent2019_track" in stdout and "_cw suffix" in stdout, stdout
    return out


# -- DRoA's import lambda ----------------------------------------------------------------
def test_droa_lambda_reads_root_metadata_reward_params_and_ip_hyperparameters(folder: Path) -> None:
    """aws-solutions/deepracer-on-aws source/libs/lambda/src/import-workflow/utils/
    ImportHelper.ts: parseImportedFiles reads training_params.yaml, root model_metadata.json
    ("Model metadata not found"), root reward_function.py and ip/hyperparameters.json
    ("Hyperparameters not found")."""
    for rel in ("training_params.yaml", "model_metadata.json", "reward_function.py"):
        assert (folder / rel).is_file(), rel
    assert json.loads((folder / "ip" / "hyperparameters.json").read_text()) == HYPER
    assert json.loads((folder / "model_metadata.json").read_text()) == DISCRETE


def test_droa_track_config_is_a_track_id_and_a_boolean_direction(folder: Path) -> None:
    """aws-solutions/deepracer-on-aws source/libs/lambda/src/import-workflow/utils/
    ImportHelper.ts getTrackConfig: WORLD_NAME is a trackId and only
    TRACK_DIRECTION_CLOCKWISE === true (a YAML boolean) is clockwise; api/utils/validation.ts
    validateTrackConfig: the direction must be one the track enables."""
    params = yaml.safe_load((folder / "training_params.yaml").read_text())
    assert params["WORLD_NAME"] == "reInvent2019_track"
    assert params["WORLD_NAME"] in droa_tracks()
    assert params["TRACK_DIRECTION_CLOCKWISE"] is True
    assert "CLOCKWISE" in droa_tracks()["reInvent2019_track"].enabled_directions


def test_training_params_keep_drfcs_keys_but_not_the_training_buckets_places(folder: Path) -> None:
    """aws-deepracer-community/deepracer-for-cloud scripts/droa/import_model.py
    _build_training_params: the keys DRfC generates (RACE_TYPE, BODY_SHELL_TYPE, CAR_COLOR,
    ...) stay; its S3 places name the upload target there, so pitstop drops the training
    bucket's; aws-solutions/deepracer-on-aws ImportHelper.ts determineRaceType and
    getCarCustomization read RACE_TYPE, BODY_SHELL_TYPE and CAR_COLOR."""
    params = yaml.safe_load((folder / "training_params.yaml").read_text())
    assert params["RACE_TYPE"] == "TIME_TRIAL"
    assert (params["BODY_SHELL_TYPE"], params["CAR_COLOR"]) == ("deepracer", "Red")
    assert params["JOB_TYPE"] == "TRAINING" and params["AWS_REGION"] == "us-east-1"
    assert not {"METRICS_S3_BUCKET", "METRICS_S3_OBJECT_KEY", "SAGEMAKER_SHARED_S3_PREFIX"} & set(
        params
    )


def test_droa_training_graph_is_metrics_training_training_json(folder: Path) -> None:
    """aws-solutions/deepracer-on-aws source/libs/lambda/src/import-workflow/utils/
    ImportHelper.ts parseMetrics: the first key under metrics/training/ that contains
    'training-' and ends '.json', a TrainingMetrics v2.0 file."""
    graphs = sorted(
        p
        for p in files_in(folder)
        if p.startswith("metrics/training/") and "training-" in p and p.endswith(".json")
    )
    assert len(graphs) == 1, graphs
    assert json.loads((folder / graphs[0]).read_text()) == METRICS


def test_no_gz_or_zip_files_which_both_uploaders_skip(folder: Path) -> None:
    """aws-solutions/deepracer-on-aws source/apps/website/src/pages/ImportModel/constants.ts
    and aws-deepracer-community/deepracer-for-cloud scripts/droa/import_model.py: .gz and
    .zip files are not uploaded (the model left one in metrics/)."""
    assert not [p for p in files_in(folder) if p.endswith((".gz", ".zip"))]


# -- DRoA's model validator ---------------------------------------------------------------
def test_validator_reads_model_metadata_and_the_coach_checkpoints_files(folder: Path) -> None:
    """aws-deepracer-community/deepracer-simapp bundle/markov/validation_worker.py (run by
    aws-solutions/deepracer-on-aws infra/lib/constructs/import-workflow/importWorkflow.ts):
    model/model_metadata.json, model/.coach_checkpoint and that checkpoint's .index, .meta
    and .data-00000-of-00001; model/deepracer_checkpoints.json, when there, names last and
    best."""
    model = folder / "model"
    assert json.loads((model / "model_metadata.json").read_text()) == DISCRETE
    assert (model / ".coach_checkpoint").read_text().strip() == LAST
    for tail in (".index", ".meta", ".data-00000-of-00001"):
        assert (model / f"{LAST}{tail}").read_bytes().startswith(LAST.encode()), tail
    ckpts = json.loads((model / "deepracer_checkpoints.json").read_text())
    assert ckpts["last_checkpoint"]["name"] == ckpts["best_checkpoint"]["name"] == LAST
    assert ckpts["last_checkpoint"]["avg_eval_metric"] == 12.5  # the trainer's own entry
    assert (model / "model_2.pb").is_file()
    assert not [p for p in files_in(model) if p.startswith(BEST)]  # the chosen one only


# -- DRfC ------------------------------------------------------------------------------------
def test_drfc_model_dir_needs_four_files_at_the_root(folder: Path) -> None:
    """aws-deepracer-community/deepracer-for-cloud scripts/droa/import_model.py
    REQUIRED_FILES_DIR: --model-dir needs model_metadata.json, reward_function.py,
    training_params.yaml and hyperparameters.json at the folder's root."""
    for rel in ("model_metadata.json", "reward_function.py", "training_params.yaml"):
        assert (folder / rel).is_file(), rel
    assert (folder / "hyperparameters.json").read_bytes() == (
        folder / "ip" / "hyperparameters.json"
    ).read_bytes()


def test_dr_upload_model_finds_metadata_hyperparameters_reward_and_metrics(folder: Path) -> None:
    """aws-deepracer-community/deepracer-for-cloud scripts/upload/upload-model.sh: "Meta-data
    files are not found" unless model/model_metadata.json, ip/hyperparameters.json, a reward
    function and a file under metrics/ exist; it needs model/deepracer_checkpoints.json.
    deepracer-utils deepracer/logs/metrics.py TrainingMetrics reads
    {model}/metrics/TrainingMetrics.json."""
    have = files_in(folder)
    for rel in (
        "model/model_metadata.json",
        "ip/hyperparameters.json",
        "reward_function.py",
        "model/deepracer_checkpoints.json",
    ):
        assert rel in have, rel
    assert json.loads((folder / "metrics" / "TrainingMetrics.json").read_text()) == METRICS
    assert [p for p in have if p.startswith("metrics/evaluation/")]  # the rest of metrics/


# -- tracks ---------------------------------------------------------------------------------
SUFFIXED = [w for w in known_worlds() if re.search(r"_(cw|ccw)$", w)]


def test_the_droa_track_list_is_droas() -> None:
    """aws-solutions/deepracer-on-aws source/libs/config/src/data/tracks.json: 62 tracks,
    33 with one enabled direction."""
    tracks = droa_tracks()
    assert len(tracks) == 62
    assert sum(t.one_direction for t in tracks.values()) == 33
    assert all(t.default_direction in t.enabled_directions for t in tracks.values())


@pytest.mark.parametrize("world", SUFFIXED)
def test_every_suffixed_world_maps_to_a_droa_track_and_its_direction(world: str) -> None:
    """aws-deepracer-community/deepracer-for-cloud scripts/droa/import_model.py: WORLD_NAME
    without _cw/_ccw, TRACK_DIRECTION_CLOCKWISE from the suffix; aws-solutions/deepracer-on-aws
    api/utils/validation.ts validateTrackConfig: a direction the track enables."""
    choice = droa_track_for(world)
    assert choice.track.track_id == re.sub(r"_(cw|ccw)$", "", world)
    assert choice.clockwise is world.endswith("_cw")
    assert choice.droa_direction in choice.track.enabled_directions


def test_all_58_suffixed_worlds_are_covered() -> None:
    assert len(SUFFIXED) == 58


def test_an_unsuffixed_world_drives_the_way_its_waypoints_run() -> None:
    """The direction of an unsuffixed world is its bundled waypoints' (signed area); checked
    against DRoA's tracks.json, whose single-direction tracks name the direction they run."""
    single = [w for w in available() if w in droa_tracks() and droa_tracks()[w].one_direction]
    assert len(single) >= 10
    for w in single:
        expected = droa_tracks()[w].default_direction == "CLOCKWISE"
        assert load(w).clockwise is expected, w
    # reInvent2019_wide: DRoA's default is clockwise, the waypoints run counter-clockwise
    choice = droa_track_for("reInvent2019_wide", load("reInvent2019_wide").clockwise)
    assert choice.clockwise is False and "waypoints" in choice.how


def test_a_world_without_bundled_waypoints_takes_droas_default_and_says_so() -> None:
    choice = droa_track_for("2022_april_open")
    assert choice.clockwise is (droa_tracks()["2022_april_open"].default_direction == "CLOCKWISE")
    assert "default" in choice.how


def test_a_single_direction_track_says_droa_uses_its_own_direction(
    store: S3Store, tmp_path: Path
) -> None:
    """aws-solutions/deepracer-on-aws ImportHelper.ts getTrackConfig: a track with one
    enabled direction takes its defaultDirection, whatever TRACK_DIRECTION_CLOCKWISE says."""
    put_model(store, world="Spain_track")
    done = droa_layout(store, PREFIX, "best", tmp_path / "d")
    assert done.droa_track == "Spain_track" and done.track_direction_clockwise is True
    assert "one direction" in done.notes[0] and "waypoints" in done.notes[0], done.notes
    assert (tmp_path / "d" / "model" / ".coach_checkpoint").read_text().strip() == BEST


@pytest.mark.parametrize("world", ["Straight_track", "AWS_track", "reinvent_carpet"])
def test_a_world_droa_has_no_track_for_is_one_line_and_nothing_written(
    world: str,
    store: S3Store,
    settings_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """aws-solutions/deepracer-on-aws api/utils/validation.ts validateTrackConfig: WORLD_NAME
    must be one of its track ids ("Invalid track configuration")."""
    put_model(store)
    out = tmp_path / "droa"
    code, _, err = export([PREFIX, "--droa", str(out), "--world", world], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert world in lines[0] and "DeepRacer on AWS has no track" in lines[0], lines
    assert not out.exists() and list(tmp_path.iterdir()) == []


# -- DRoA's import checks pitstop makes offline ---------------------------------------------
@pytest.mark.parametrize(
    ("metadata", "hyper", "needle"),
    [
        (
            {**DISCRETE, "training_algorithm": "sac"},
            {**HYPER, "num_episodes_between_training": 1},
            "discrete",
        ),
        (
            {
                "action_space": {
                    "speed": {"low": 0.5, "high": 3},
                    "steering_angle": {"low": -30, "high": 30},
                },
                "action_space_type": "continuous",
                "training_algorithm": "sac",
            },
            HYPER,
            "num_episodes_between_training",
        ),
        (
            {
                "action_space": {
                    "speed": {"low": 3, "high": 3},
                    "steering_angle": {"low": -30, "high": 30},
                },
                "action_space_type": "continuous",
                "training_algorithm": "clipped_ppo",
            },
            HYPER,
            "speed",
        ),
        (
            {
                "action_space": {
                    "speed": {"low": 1, "high": 3},
                    "steering_angle": {"low": 30, "high": -30},
                },
                "action_space_type": "continuous",
            },
            HYPER,
            "steering_angle",
        ),
    ],
)
def test_what_droas_import_lambda_refuses_is_refused_here(
    metadata: dict[str, Any],
    hyper: dict[str, Any],
    needle: str,
    store: S3Store,
    tmp_path: Path,
) -> None:
    """aws-solutions/deepracer-on-aws source/libs/lambda/src/api/handlers/importModel.ts: SAC
    needs a continuous action space and num_episodes_between_training === 1;
    api/utils/validation.ts validateContinuousActionSpace: low < high."""
    put_model(store, metadata=metadata, hyper=hyper)
    with pytest.raises(InvalidInput, match=needle):
        droa_layout(store, PREFIX, "best", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_sac_continuous_with_one_episode_between_training_is_accepted(
    store: S3Store, tmp_path: Path
) -> None:
    """aws-solutions/deepracer-on-aws source/libs/lambda/src/api/handlers/importModel.ts."""
    meta = {
        "action_space": {
            "speed": {"low": 0.5, "high": 3},
            "steering_angle": {"low": -30, "high": 30},
        },
        "action_space_type": "continuous",
        "training_algorithm": "sac",
    }
    put_model(store, metadata=meta, hyper={**HYPER, "num_episodes_between_training": 1})
    assert droa_layout(store, PREFIX, "best", tmp_path / "d").checkpoint == BEST


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("my-model-2", True),
        ("my_model", False),
        ("my model", False),
        ("a" * 64, True),
        ("a" * 65, False),
    ],
)
def test_the_model_name_follows_droas_rule(
    name: str, ok: bool, store: S3Store, tmp_path: Path
) -> None:
    """aws-solutions/deepracer-on-aws source/libs/lambda/src/api/handlers/importModel.ts
    validateRequest: ^[a-zA-Z0-9-]+$, at most 64 characters."""
    put_model(store)
    if ok:
        droa_layout(store, PREFIX, "best", tmp_path / "d", model_name=name)
    else:
        with pytest.raises(InvalidInput, match="letters, digits and hyphens"):
            droa_layout(store, PREFIX, "best", tmp_path / "d", model_name=name)
        assert not (tmp_path / "d").exists()


def test_a_folder_that_is_not_empty_is_refused(store: S3Store, tmp_path: Path) -> None:
    put_model(store)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("mine")
    with pytest.raises(InvalidInput, match="not empty"):
        droa_layout(store, PREFIX, "best", tmp_path / "d")
    assert files_in(tmp_path / "d") == {"x"}


def test_the_jobs_world_and_race_type_go_into_training_params(
    store: S3Store, tmp_path: Path
) -> None:
    """A model whose trainer wrote only WORLD_NAME (pitstop's simulated trainer): the job's
    world and race type; reInvent2019_track's waypoints run counter-clockwise."""
    put_model(store)
    keys = ModelKeys(PREFIX)
    store.put(keys.training_params, b"WORLD_NAME: reInvent2019_track\nJOB_ID: j-1\n")
    done = droa_layout(store, PREFIX, "best", tmp_path / "d", race_type="OBJECT_AVOIDANCE")
    params = yaml.safe_load((tmp_path / "d" / "training_params.yaml").read_text())
    assert (
        params["TRACK_DIRECTION_CLOCKWISE"] is False and params["RACE_TYPE"] == "OBJECT_AVOIDANCE"
    )
    assert "counter-clockwise" in done.notes[0] and "waypoints" in done.notes[0]


# -- the car ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["car.tgz", "car.tar", "car.zip", "car"])
def test_the_car_takes_only_tar_gz(
    name: str,
    store: S3Store,
    settings_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aws-deepracer/aws-deepracer-webserver-pkg webserver_pkg/webserver_pkg/models.py
    model_file_upload: only file_name.endswith(".tar.gz"); aws-deepracer-systems-pkg's loader
    does not recognise .tgz."""
    put_model(store)
    monkeypatch.chdir(tmp_path)
    code, _, err = export([PREFIX, "--out", name], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "only .tar.gz" in lines[0], err
    assert list(tmp_path.iterdir()) == []


def test_the_car_archive_has_one_pb_and_says_the_name_the_car_shows(
    store: S3Store,
    settings_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """aws-deepracer/aws-deepracer-systems-pkg model_loader_module/model_loader_node.py
    transfer_models: the model name is the archive name up to its first '.', and exactly one
    .pb is required."""
    put_model(store)
    out = tmp_path / "fast-lap.v2.tar.gz"
    code, stdout, err = export([PREFIX, "--out", str(out)], capsys)
    assert code == 0, err
    assert "'fast-lap'" in stdout and "first dot" in stdout, stdout
    with tarfile.open(out) as tar:
        names = tar.getnames()
        pb = tar.extractfile("model.pb")
        assert pb is not None and pb.read().startswith(BEST.encode())
    assert [n for n in names if n.endswith(".pb")] == ["model.pb"]
    done = car_tarball(store, PREFIX, "last", tmp_path / "x.tar.gz")
    assert done.car_model_name == "x" and done.checkpoint == LAST


def test_car_rules() -> None:
    """aws-deepracer/aws-deepracer-systems-pkg model_loader_node.py: name up to the first dot;
    zero or several .pb files are refused."""
    assert car_model_name("dir/my.model.tar.gz") == "my"
    assert car_model_name("physicalmodel-fast.tar.gz") == "physicalmodel-fast"
    with pytest.raises(InvalidInput, match=r"only \.tar\.gz"):
        car_model_name("model.tgz")
    with pytest.raises(InvalidInput, match="up to its first dot"):
        car_model_name(".tar.gz")
    check_car_members(["model.pb", "model_metadata.json"])
    with pytest.raises(InvalidInput, match="found none"):
        check_car_members(["model_metadata.json"])
    with pytest.raises(InvalidInput, match=r"a\.pb, b\.pb"):
        check_car_members(["a.pb", "b.pb"])
