"""``pitstop evaluate | results | tune | models | leaderboard | export``: after training."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from pitstop.cli.common import add_settings_flags, job_store, settings_from
from pitstop.cli.output import add_json_flag, print_json, progress, table_or_json
from pitstop.errors import InvalidInput

MODEL_HELP = "a training job id, or the model's S3 prefix (s3://BUCKET/PREFIX, this bucket)"
CHECKPOINT_HELP = "best, last (default) or a checkpoint name such as 12_Step-12000.ckpt"


def _evaluation_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--world", required=True, help="the simulator world (pitstop worlds)")
    p.add_argument("--checkpoint", default="last", help=CHECKPOINT_HELP)
    p.add_argument("--laps", type=int, default=3, help="laps (trials) per evaluation (default 3)")
    p.add_argument(
        "--continuous", action="store_true", help="continuous laps (DR_EVAL_IS_CONTINUOUS)"
    )
    p.add_argument("--max-resets", type=int, default=100, help="resets allowed (default 100)")
    p.add_argument(
        "--off-track-penalty", type=float, default=5.0, metavar="S", help="seconds (default 5)"
    )
    p.add_argument("--reverse", action="store_true", help="drive the track the other way")
    p.add_argument(
        "--simulation",
        metavar="JSON",
        help='the simulated trainer\'s pace, e.g. {"checkpoint_interval_s": 0.2} (tests, demo)',
    )


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "evaluate",
        help="queue an evaluation of a trained model (lap times, off-tracks)",
        description=(
            "Queue evaluation jobs: the fleet runs them like training jobs (leases, spot "
            "notices, recovery); an interrupted evaluation runs again from the start. The "
            "chosen checkpoint is copied into the job's own prefix, so the model itself is "
            "only read. Each run gives different lap times: --repeat N queues N."
        ),
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    _evaluation_flags(p)
    p.add_argument("--speed-scale", type=float, default=1.0, help="every speed times this")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="queue N evaluations")
    p.add_argument("--name", help="job name (default: eval-MODEL-WORLD-TIME)")
    add_settings_flags(p)
    add_json_flag(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser(
        "results",
        help="an evaluation's laps and summary",
        description="Per lap: trial, time, status, resets, off-tracks; then best, mean and "
        "median complete lap and the completion rate (from jobs/ID/results.json).",
    )
    p.add_argument("job_id", metavar="JOB_ID")
    add_settings_flags(p)
    add_json_flag(p)
    p.set_defaults(func=_results)

    p = sub.add_parser(
        "tune",
        help="raise every action's speed until laps stop improving (no retraining)",
        description=(
            "Evaluate the model at growing speed scales (--evaluations jobs each, run in "
            "parallel by the fleet), keep the best complete lap of each, stop when laps stop "
            "improving or off-tracks pass --max-off-track-rate, refine once, and report the "
            "winner. Writes each candidate's model_metadata.json and results, tune.json and "
            "tune.png into --out."
        ),
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    _evaluation_flags(p)
    p.add_argument("--evaluations", type=int, default=3, metavar="N", help="per candidate")
    p.add_argument("--start", type=float, default=1.0, help="first speed scale (default 1.0)")
    p.add_argument("--growth", type=float, default=0.15, help="scale step, x(1+G) (default 0.15)")
    p.add_argument("--max-scale", type=float, default=3.0, help="highest scale (default 3.0)")
    p.add_argument(
        "--max-off-track-rate", type=float, default=0.5, help="off-tracks per lap (default 0.5)"
    )
    p.add_argument("--out", default="tune-results", metavar="DIR")
    p.add_argument("--poll", type=float, default=10.0, metavar="S", help="seconds between polls")
    add_settings_flags(p)
    add_json_flag(p)
    p.set_defaults(func=_tune)

    p = sub.add_parser(
        "models",
        help="trained models: checkpoints and best lap per world",
        description="Every training job that left a model, its best and last checkpoints, "
        "and its best complete lap on each world it was evaluated on.",
    )
    add_settings_flags(p)
    add_json_flag(p)
    p.set_defaults(func=_models)

    p = sub.add_parser(
        "leaderboard",
        help="models ranked by best complete lap on a world",
        description="Rank by best complete lap; ties: fewer resets, then earlier. One line "
        "per model, checkpoint and speed scale unless --all.",
    )
    p.add_argument("world", metavar="WORLD")
    p.add_argument("--top", type=int, default=20, help="lines (default 20)")
    p.add_argument("--all", action="store_true", help="every evaluation, not each model's best")
    add_settings_flags(p)
    add_json_flag(p)
    p.set_defaults(func=_leaderboard)

    p = sub.add_parser(
        "export",
        help="a model as the car's tarball, or as DeepRacer-on-AWS's import layout",
        description="--out FILE.tar.gz: model.pb, model_metadata.json and the checkpoint files "
        "a physical DeepRacer loads. --droa DIR: the layout DRfC's dr-upload-model writes for "
        "the console and DeepRacer on AWS (model/, reward_function.py, ip/hyperparameters.json).",
    )
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--checkpoint", default="best", help="best (default), last or a name")
    p.add_argument("--out", metavar="FILE.tar.gz", help="the car's tarball")
    p.add_argument("--droa", metavar="DIR", help="the import layout, into a new directory")
    add_settings_flags(p)
    add_json_flag(p)
    p.set_defaults(func=_export)


def _base(args: Any, jobs: Any) -> tuple[Any, dict[str, Any] | None]:
    from pitstop.core.records import Evaluation
    from pitstop.evaluation.jobs import check_checkpoint, resolve_model

    if args.laps < 1 or args.max_resets < 0 or args.off_track_penalty < 0:
        raise InvalidInput("--laps must be at least 1, --max-resets and --off-track-penalty >= 0")
    sim = None
    if args.simulation:
        try:
            sim = json.loads(args.simulation)
        except ValueError as e:
            raise InvalidInput(f"--simulation: not JSON ({e})") from None
    prefix, model_job = resolve_model(jobs, args.model)
    try:
        ev = Evaluation(
            model_prefix=prefix,
            model_job=model_job,
            checkpoint=args.checkpoint,
            laps=args.laps,
            continuous=args.continuous,
            max_resets=args.max_resets,
            off_track_penalty_s=args.off_track_penalty,
            reverse=args.reverse,
        )
    except ValueError as e:
        first = str(e).splitlines()
        raise InvalidInput(f"evaluation: {' '.join(first[1:3]) if len(first) > 1 else e}") from None
    check_checkpoint(jobs, ev)  # one line and exit 2 when the model has no such checkpoint
    return ev, sim


def _world(name: str) -> str:
    from pitstop.tracks.worlds import resolve_world

    return resolve_world(name, "--world")


def _evaluate(args: Any) -> int:
    from pitstop.core.times import iso, utcnow
    from pitstop.evaluation.jobs import evaluation_spec, submit_evaluation

    world = _world(args.world)
    if args.repeat < 1 or not (0 < args.speed_scale <= 3):
        raise InvalidInput("--repeat must be at least 1 and --speed-scale in (0, 3]")
    jobs = job_store(settings_from(args))
    ev, sim = _base(args, jobs)
    ev = ev.model_copy(update={"speed_scale": args.speed_scale})
    stamp = (iso(utcnow()) or "").replace(":", "").replace("-", "")[:15]
    name = args.name or f"eval-{ev.model_job or 'model'}-{world}-{stamp}"
    run = f"{stamp}-{uuid.uuid4().hex[:8]}"
    made = []
    for i in range(args.repeat):
        spec = evaluation_spec(
            name if args.repeat == 1 else f"{name}-{i + 1}",
            world,
            ev,
            simulation=sim,
            run=f"{run}-{i + 1}",  # every `pitstop evaluate` is a new run
        )
        made.append({"id": spec.id, "created": submit_evaluation(jobs, spec)})
    if args.json:
        print_json(made if args.repeat > 1 else made[0])
    else:
        for m in made:
            print(m["id"] if m["created"] else f"{m['id']} (already submitted)")
    return 0


def _ms(value: object) -> str:
    return f"{float(value) / 1000:.3f}" if isinstance(value, int | float) else "-"


def _results(args: Any) -> int:
    from pitstop.evaluation.jobs import read_results

    res = read_results(job_store(settings_from(args)), args.job_id)
    rows = [
        [r.trial, _ms(r.time_ms), r.status, r.resets, r.off_tracks, f"{r.completion:g}"]
        for r in res.laps
    ]
    table_or_json(
        args.json,
        res.model_dump(),
        ["trial", "time s", "status", "resets", "off-tracks", "completion %"],
        rows,
    )
    if not args.json:
        s = res.summary
        print(
            f"{res.world}, {res.checkpoint} of {res.model_job or res.model_prefix}"
            f" (speed x{res.speed_scale:g}): best {_ms(s.best_ms)} s, mean {_ms(s.mean_ms)} s,"
            f" median {_ms(s.median_ms)} s, {s.complete}/{s.laps} laps complete"
            f" ({100 * s.completion_rate:.0f} %), {s.off_tracks} off-track"
        )
    return 0


def _tune(args: Any) -> int:
    from pitstop.evaluation import tune as tn
    from pitstop.evaluation.runner import fleet_evaluator
    from pitstop.evaluation.staging import scaled_metadata

    world = _world(args.world)
    try:
        policy = tn.TunePolicy(
            start=args.start,
            growth=args.growth,
            evaluations=args.evaluations,
            max_off_track_rate=args.max_off_track_rate,
            max_scale=args.max_scale,
        )
    except ValueError as e:
        raise InvalidInput(f"tune: {e}") from None
    jobs = job_store(settings_from(args))
    ev, sim = _base(args, jobs)
    say = progress()
    name = f"tune-{ev.model_job or 'model'}-{world}"
    evaluate = fleet_evaluator(
        jobs, ev, world, name=name, simulation=sim, poll_s=args.poll, progress=say
    )

    def show(c: tn.Candidate) -> None:
        say(f"scale {c.scale:g}: best lap {_ms(c.best_ms)} s, {c.off_track_rate:.2f} off-track/lap")

    history, best = tn.tune(policy, evaluate, show)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for c in history:
        d = out / f"x{c.scale:g}"
        d.mkdir(exist_ok=True)
        scaled = ev.model_copy(update={"speed_scale": c.scale})
        (d / "model_metadata.json").write_bytes(scaled_metadata(jobs.store, scaled))
        (d / "results.json").write_text(json.dumps(_cand(c), indent=2))
    doc = {
        "model": args.model,
        "world": world,
        "candidates": [_cand(c) for c in history],
        "winner": _cand(best) if best else None,
        "evaluations": sum(len(c.best_laps_ms) for c in history),
    }
    (out / "tune.json").write_text(json.dumps(doc, indent=2))
    files = [out / "tune.json"]
    if _plot(history, best, out / "tune.png"):
        files.append(out / "tune.png")
    rows = [
        [f"{c.scale:g}", _ms(c.best_ms), f"{c.off_track_rate:.2f}", "*" if c is best else ""]
        for c in history
    ]
    table_or_json(args.json, doc, ["scale", "best lap s", "off-track/lap", "winner"], rows)
    if not args.json:
        if best is None:
            print("no candidate completed a lap within the off-track limit", file=sys.stderr)
        else:
            print(
                f"winner: speed scale {best.scale:g}, best lap {_ms(best.best_ms)} s "
                f"({doc['evaluations']} evaluations); its metadata: {out}/x{best.scale:g}/"
            )
        print("wrote " + ", ".join(str(f) for f in files))
    return 0 if best is not None else 1


def _cand(c: Any) -> dict[str, Any]:
    return {
        "scale": c.scale,
        "best_ms": c.best_ms,
        "best_laps_ms": c.best_laps_ms,
        "laps": c.laps,
        "off_tracks": c.off_tracks,
        "off_track_rate": round(c.off_track_rate, 4),
        "job_ids": c.job_ids,
    }


def _plot(history: list[Any], best: Any, path: Path) -> bool:
    from pitstop.errors import MissingExtra
    from pitstop.extras import require

    try:
        matplotlib = require("matplotlib", "tune's tune.png")
    except MissingExtra as e:
        print(f"no tune.png: {e}", file=sys.stderr)
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = sorted((c for c in history if c.best_ms is not None), key=lambda c: c.scale)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot([c.scale for c in done], [c.best_ms / 1000 for c in done], "o-", label="best lap")
    if best is not None and best.best_ms is not None:
        ax.plot([best.scale], [best.best_ms / 1000], "r*", markersize=14, label="winner")
    ax.set_xlabel("speed scale")
    ax.set_ylabel("best complete lap (s)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _models(args: Any) -> int:
    from dataclasses import asdict

    from pitstop.evaluation.board import models

    found = models(job_store(settings_from(args)))
    rows = [
        [
            m.job_id,
            m.state,
            m.best_checkpoint or "-",
            m.last_checkpoint or "-",
            ", ".join(f"{w} {_ms(t)} s" for w, t in sorted(m.best_laps.items())) or "-",
        ]
        for m in found
    ]
    table_or_json(
        args.json,
        [asdict(m) for m in found],
        ["model (job)", "state", "best checkpoint", "last checkpoint", "best laps"],
        rows,
        empty="no trained models yet",
    )
    return 0


def _leaderboard(args: Any) -> int:
    from dataclasses import asdict

    from pitstop.evaluation.board import leaderboard

    world = _world(args.world)
    if args.top < 1:
        raise InvalidInput("--top must be at least 1")
    board = leaderboard(job_store(settings_from(args)), world, top=args.top, per_model=not args.all)
    rows = [
        [
            e.rank,
            _ms(e.lap_ms),
            e.resets,
            e.model,
            e.checkpoint or "-",
            f"x{e.speed_scale:g}",
            e.job_id,
        ]
        for e in board
    ]
    table_or_json(
        args.json,
        [asdict(e) for e in board],
        ["rank", "lap s", "resets", "model", "checkpoint", "speed", "evaluation"],
        rows,
        empty=f"no complete lap on {world} yet",
    )
    return 0


def _export(args: Any) -> int:
    from pitstop.evaluation.export import car_tarball, droa_layout
    from pitstop.evaluation.jobs import resolve_model

    if bool(args.out) == bool(args.droa):
        raise InvalidInput("give one of --out FILE.tar.gz (the car) or --droa DIR")
    jobs = job_store(settings_from(args))
    prefix, _ = resolve_model(jobs, args.model)
    if args.out:
        name, members = car_tarball(jobs.store, prefix, args.checkpoint, Path(args.out))
        where = args.out
    else:
        name, members = droa_layout(jobs.store, prefix, args.checkpoint, Path(args.droa))
        where = args.droa
    if args.json:
        print_json({"out": where, "checkpoint": name, "model_prefix": prefix, "files": members})
    else:
        print(f"{where}: {name} of {prefix} ({len(members)} files)")
    return 0
