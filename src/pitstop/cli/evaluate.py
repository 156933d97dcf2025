"""``pitstop evaluate | results | tune | models | leaderboard | export | analysis``: after
training."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pitstop.cli.common import (
    FLAG,
    Sub,
    command,
    from_args,
    jobs_from,
    opt,
    out_dir,
    out_file,
    values,
)
from pitstop.cli.output import Table, show
from pitstop.errors import InvalidInput

MODEL = opt(
    "model",
    metavar="MODEL",
    help="a training job id, or the model's S3 prefix (s3://BUCKET/PREFIX, this bucket)",
)
EVALUATION_OPTIONS = [
    opt("--world", required=True, help="the simulator world (pitstop worlds)"),
    opt("--checkpoint", default="last", help="best, last (default) or a checkpoint name such as 12_Step-12000.ckpt"),
    opt("--laps", type=int, default=3, help="laps (trials) per evaluation (default 3)"),
    opt("--continuous", **FLAG, help="continuous laps (DR_EVAL_IS_CONTINUOUS)"),
    opt("--max-resets", type=int, default=100, help="resets allowed (default 100)"),
    opt("--off-track-penalty", type=float, default=5.0, metavar="S", help="seconds (default 5)"),
    opt("--reverse", **FLAG, help="drive the track the other way"),
    opt("--simulation", metavar="JSON", help='the simulated trainer\'s pace, e.g. {"checkpoint_interval_s": 0.2} (tests, demo)'),
]  # fmt: skip
TUNE_FIELDS = ("start", "growth", "evaluations", "max_off_track_rate", "max_scale")


def register(sub: Sub) -> None:
    command(
        sub, "evaluate", _evaluate, "queue an evaluation of a trained model (lap times, off-tracks)",
        "Queue evaluation jobs: the fleet runs them like training jobs (leases, spot notices, "
        "recovery); an interrupted evaluation runs again from the start. The chosen checkpoint "
        "is copied into the job's own prefix, so the model itself is only read. Each run gives "
        "different lap times: --repeat N queues N.",
        [MODEL, *EVALUATION_OPTIONS,
         opt("--speed-scale", type=float, default=1.0, help="every speed times this"),
         opt("--repeat", type=int, default=1, metavar="N", help="queue N evaluations"),
         opt("--name", help="job name (default: eval-MODEL-WORLD-TIME)")],
    )  # fmt: skip
    command(
        sub,
        "results",
        _results,
        "an evaluation's laps and summary",
        "Per lap: trial, time, status, resets, off-tracks; then best, mean and median complete "
        "lap and the completion rate (from jobs/ID/results.json).",
        [opt("job_id", metavar="JOB_ID")],
    )
    command(
        sub, "tune", _tune, "raise every action's speed until laps stop improving (no retraining)",
        "Evaluate the model at growing speed scales (--evaluations jobs each, run in parallel by "
        "the fleet), keep the best complete lap of each, stop when laps stop improving or "
        "off-tracks pass --max-off-track-rate, refine once, and report the winner. Writes each "
        "candidate's model_metadata.json and results, tune.json and tune.png into --out.",
        [MODEL, *EVALUATION_OPTIONS,
         opt("--evaluations", type=int, default=3, metavar="N", help="per candidate"),
         opt("--start", type=float, default=1.0, help="first speed scale (default 1.0)"),
         opt("--growth", type=float, default=0.15, help="scale step, x(1+G) (default 0.15)"),
         opt("--max-scale", type=float, default=3.0, help="highest scale (default 3.0)"),
         opt("--max-off-track-rate", type=float, default=0.5, help="off-tracks per lap (default 0.5)"),
         opt("--out", default="tune-results", metavar="DIR"),
         opt("--poll", type=float, default=10.0, metavar="S", help="seconds between polls")],
    )  # fmt: skip
    command(
        sub,
        "models",
        _models,
        "trained models: checkpoints and best lap per world",
        "Every training job that left a model, its best and last checkpoints, and its best "
        "complete lap on each world it was evaluated on.",
    )
    command(
        sub, "leaderboard", _leaderboard, "models ranked by best complete lap on a world",
        "Rank by best complete lap; ties: fewer resets, then earlier. One line per model, "
        "checkpoint and speed scale unless --all.",
        [opt("world", metavar="WORLD"),
         opt("--top", type=int, default=20, help="lines (default 20)"),
         opt("--all", **FLAG, help="every evaluation, not each model's best")],
    )  # fmt: skip
    command(
        sub, "export", _export,
        "a model as the car's archive, or as a folder DeepRacer on AWS and DRfC import",
        "--out FILE.tar.gz: model.pb, model_metadata.json and the checkpoint files a physical "
        "DeepRacer loads (the car takes only .tar.gz, and shows the model under the file name "
        "up to its first dot). --droa DIR: a folder DeepRacer on AWS's import, DRfC's "
        "droa-import-model --model-dir and dr-upload-model's layout accept: root and model/ "
        "metadata, reward_function.py, ip/ and root hyperparameters.json, training_params.yaml "
        "with DRoA's track id and direction, metrics/, the checkpoint (docs/evaluate.md).",
        [MODEL,
         opt("--checkpoint", default="best", help="best (default), last or a name"),
         opt("--out", metavar="FILE.tar.gz", help="the car's archive"),
         opt("--droa", metavar="DIR", help="the import folder, into a new directory"),
         opt("--world", help="--droa: the world the model trained on (default: the job's, or "
             "its training_params.yaml's WORLD_NAME)"),
         opt("--name", help="--droa: the model name you will give DRoA's import (checked "
             "against its rule: letters, digits, hyphens, at most 64)")],
    )  # fmt: skip
    command(
        sub, "analysis", _analysis,
        "a training job's attempts as one model folder deepracer-utils opens in one call",
        "One DRfC-layout view of the whole job: every attempt's training-simtrace/ renumbered "
        "0..M (episodes numbered on), metrics/TrainingMetrics.json joined, the evaluation "
        "simtraces of the job and of its evaluation jobs, model/model_metadata.json and "
        "ip/hyperparameters.json from the newest attempt. An iteration an attempt left "
        "incomplete is left out, and said. Open it with deepracer-utils' "
        "DeepRacerLog(model_folder=DIR), or S3FileHandler on --to's prefix (docs/analysis.md).",
        [opt("job_id", metavar="JOB_ID", help="a training job"),
         opt("--out", metavar="DIR", help="write the view into this new directory"),
         opt("--to", metavar="PREFIX", help="write the view under this new prefix of the bucket "
             "(s3://BUCKET/PREFIX or PREFIX)"),
         opt("--job-only", **FLAG, help="only what is in the job's own prefixes: not the "
             "evaluation simtraces of its evaluation jobs")],
    )  # fmt: skip


def _request(args: Any) -> Any:
    from pitstop.evaluation.requests import Request

    return from_args(Request, args)


def _world(name: str, what: str = "--world") -> str:
    from pitstop.tracks.worlds import resolve_world

    return resolve_world(name, what)


def _evaluate(args: Any) -> int:
    from pitstop.evaluation.requests import check_queue_options, queue_evaluations

    world = _world(args.world)
    check_queue_options(args.repeat, args.speed_scale)
    made = queue_evaluations(
        jobs_from(args),
        _request(args),
        world,
        speed_scale=args.speed_scale,
        repeat=args.repeat,
        name=args.name,
    )
    lines = [m["id"] if m["created"] else f"{m['id']} (already submitted)" for m in made]
    show(args, made if args.repeat > 1 else made[0], *lines)
    return 0


def _results(args: Any) -> int:
    from pitstop.evaluation.describe import LAP_HEADERS, lap_rows, results_line
    from pitstop.evaluation.jobs import read_results

    res = read_results(jobs_from(args), args.job_id)
    show(args, res.model_dump(), Table(LAP_HEADERS, lap_rows(res)), results_line(res))
    return 0


def _tune(args: Any) -> int:
    from pitstop.evaluation.tune_files import HEADERS, tune_policy, tune_to_files

    world = _world(args.world)
    policy = tune_policy(**values(args, TUNE_FIELDS))
    out_dir(args.out)  # before the evaluations: they run for minutes to hours
    run = tune_to_files(
        jobs_from(args),
        _request(args),
        world,
        policy,
        Path(args.out),
        poll_s=args.poll,
        # a line per candidate queued, waited for and done: always on stderr (tune runs for
        # minutes; stdout keeps only the results)
        say=lambda m: print(m, file=sys.stderr, flush=True),
        warn=lambda m: print(m, file=sys.stderr),
    )

    def verdict() -> None:
        if run.verdict is None:
            print("no candidate completed a lap within the off-track limit", file=sys.stderr)
        else:
            print(run.verdict)

    wrote = "wrote " + ", ".join(str(f) for f in run.files)
    show(args, run.doc, Table(HEADERS, run.rows), verdict, wrote)
    return 0 if run.verdict is not None else 1


def _models(args: Any) -> int:
    from dataclasses import asdict

    from pitstop.evaluation.board import models
    from pitstop.evaluation.describe import MODEL_HEADERS, model_rows

    found = models(jobs_from(args))
    table = Table(MODEL_HEADERS, model_rows(found), "no trained models yet")
    show(args, [asdict(m) for m in found], table)
    return 0


def _leaderboard(args: Any) -> int:
    from dataclasses import asdict

    from pitstop.evaluation.board import leaderboard
    from pitstop.evaluation.describe import BOARD_HEADERS, board_rows

    world = _world(args.world, "leaderboard WORLD")
    if args.top < 1:
        raise InvalidInput("--top must be at least 1")
    board = leaderboard(jobs_from(args), world, top=args.top, per_model=not args.all)
    table = Table(BOARD_HEADERS, board_rows(board), f"no complete lap on {world} yet")
    show(args, [asdict(e) for e in board], table)
    return 0


def _export(args: Any) -> int:
    from pitstop.evaluation.export import car_tarball, droa_layout
    from pitstop.evaluation.jobs import resolve_model

    if bool(args.out) == bool(args.droa):
        raise InvalidInput("give one of --out FILE.tar.gz (the car) or --droa DIR")
    if args.out and (args.world or args.name):
        raise InvalidInput("--world and --name are for --droa; the car's archive needs neither")
    if args.out:
        out_file(args.out)
    else:
        out_dir(args.droa, "--droa", empty=True)
    jobs = jobs_from(args)
    prefix, job = resolve_model(jobs, args.model)
    if args.out:
        done = car_tarball(jobs.store, prefix, args.checkpoint, Path(args.out))
    else:
        spec = jobs.spec(job) if job else None
        done = droa_layout(
            jobs.store, prefix, args.checkpoint, Path(args.droa),
            world=_world(args.world) if args.world else (spec.world if spec else None),
            race_type=spec.race_type if spec else None,
            model_name=args.name,
        )  # fmt: skip
    head = f"{done.out}: {done.checkpoint} of {prefix} ({len(done.files)} files)"
    show(args, done.doc(), head, *done.notes)
    return 0


def _analysis(args: Any) -> int:
    from pitstop.evaluation.analysis import (
        check_folder,
        check_prefix,
        job_view,
        write_folder,
        write_prefix,
    )
    from pitstop.store.layout import parse_s3_url, s3_url

    if not (args.out or args.to):
        raise InvalidInput("give --out DIR (a folder) or --to PREFIX (the bucket), or both")
    jobs = jobs_from(args)
    to = args.to
    if to and (url := parse_s3_url(to)) is not None:
        if url[0] != jobs.store.bucket:
            raise InvalidInput(f"--to {to}: not in this bucket ({jobs.store.bucket})")
        to = url[1]
    if args.out:
        check_folder(Path(args.out))
        out_dir(args.out)
    view = job_view(jobs, args.job_id, evaluation_jobs=not args.job_only)
    if args.to:
        to = check_prefix(jobs, view, to)
    lines = [f"{args.job_id}: {view.summary()}", *view.notes]
    doc = view.doc()
    if args.out:
        doc["out"] = args.out
        doc["files"] = write_folder(view, Path(args.out))
        lines.append(f"wrote {args.out}: DeepRacerLog(model_folder={args.out!r})")
    if args.to:
        doc["to"] = s3_url(jobs.store.bucket, to)
        doc["keys"] = write_prefix(jobs, view, to)
        lines.append(
            f"wrote {doc['to']}: S3FileHandler(bucket={jobs.store.bucket!r}, prefix={to!r})"
        )
    show(args, doc, *lines)
    return 0
