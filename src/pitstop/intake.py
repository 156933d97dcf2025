"""Turning a trainer's files into a job: validation first, then exactly-once creation.

Used by ``pitstop submit`` and by the supervisor's inbox scan. A reward file that does not
parse as Python 3.8 or lacks ``reward_function(params)``, JSON that does not validate, or a
``world`` the simulator does not know (``pitstop.tracks.worlds``) is refused with one line naming the file; nothing is written for ``submit`` and the inbox file
is kept (the job is recorded as ``rejected`` with the reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pitstop.core.ids import check_job_id
from pitstop.core.records import JobSpec
from pitstop.core.times import iso, parse_time, utcnow
from pitstop.deadlines import DEFAULT_OVERHEAD_S, latest_start
from pitstop.errors import InvalidInput
from pitstop.store.jobs import job_id_for, parse_user_fields
from pitstop.store.layout import Layout

if TYPE_CHECKING:
    from pitstop.reward_funcs.sandbox import Limits
    from pitstop.store.jobs import JobStore

MAX_FILE_BYTES = 1_000_000  # a reward function of a megabyte is a mistake, not a model


@dataclass
class Submission:
    name: str
    files: dict[str, bytes]  # reward_function.py, model_metadata.json, hyperparameters.json
    fields: dict[str, Any] = field(default_factory=dict)  # user spec fields (job.json)
    source: str = "cli"
    labels: dict[str, str] = field(default_factory=dict)  # file name -> what to call it in errors

    def source_name(self, name: str) -> str:
        return self.labels.get(name, name)


def check_reward(
    source: bytes, filename: str, *, dynamic: bool = False, sandbox: Limits | None = None
) -> None:
    """Raise ``InvalidInput`` with one line when the reward file cannot run in the simulator.

    ``sandbox``: the dynamic check's limits and confinement (e.g. which user it runs as)."""
    if len(source) > MAX_FILE_BYTES:
        raise InvalidInput(
            f"{filename}: {len(source) / 1e6:.1f} MB is too large for a reward function (limit 1 MB)"
        )
    from pitstop.reward_funcs import validate_source

    report = validate_source(source, filename, dynamic=dynamic, limits=sandbox)
    if not report.ok:
        raise InvalidInput(report.reason or f"{filename}: invalid reward function")


def _check_json(body: bytes, filename: str, kind: str) -> None:
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{filename}: not valid JSON: {e}") from None
    from pitstop import action_space

    problems = (
        action_space.check_metadata(doc)
        if kind == "metadata"
        else action_space.check_hyperparameters(doc)
    )
    if problems:
        raise InvalidInput(f"{filename}: {problems[0]}")


def defaults() -> dict[str, bytes]:
    from pitstop import action_space

    return {
        "model_metadata.json": json.dumps(action_space.default_metadata(), indent=2).encode(),
        "hyperparameters.json": json.dumps(
            action_space.default_hyperparameters(), indent=2
        ).encode(),
    }


def check_world(sub: Submission) -> None:
    """The job's ``world`` must be one the simulator knows (a typo would boot a GPU and
    crash-loop); a unique case-insensitive match is taken, spelled as the simulator does."""
    from pitstop.tracks.worlds import resolve_world

    world = sub.fields.get("world")
    if isinstance(world, str):  # else absent (the default world), or a wrong type
        sub.fields["world"] = resolve_world(world, f"{sub.source_name('job.json')}: world")
    later = sub.fields.get("evaluate_on")
    if isinstance(later, list):
        where = f"{sub.source_name('job.json')}: evaluate_on"
        sub.fields["evaluate_on"] = [
            resolve_world(w, where) if isinstance(w, str) else w for w in later
        ]


def check_deadline(
    sub: Submission, now: datetime, restart_overhead_s: float = DEFAULT_OVERHEAD_S
) -> None:
    """A deadline (``deadline`` or ``deadline_hours``) must leave the training hours
    (``max_hours``) plus one restart; one line naming the field otherwise."""
    where = sub.source_name("job.json")
    deadline, hours = sub.fields.get("deadline"), sub.fields.get("deadline_hours")
    if deadline is None and hours is None:
        return
    if deadline is not None and hours is not None:
        raise InvalidInput(f"{where}: give deadline or deadline_hours, not both")
    max_hours = sub.fields.get("max_hours")
    if isinstance(max_hours, bool) or not isinstance(max_hours, (int, float)) or max_hours <= 0:
        raise InvalidInput(
            f"{where}: a deadline needs max_hours (the training hours it must leave room for)"
        )
    if hours is not None:
        if isinstance(hours, bool) or not isinstance(hours, (int, float)):
            raise InvalidInput(f"{where}: deadline_hours must be a number of hours")
        left_s = float(hours) * 3600
        field_name = "deadline_hours"
    else:
        try:
            due = parse_time(str(deadline))
        except ValueError as e:
            raise InvalidInput(f"{where}: deadline: {e}") from None
        left_s = (due - now).total_seconds()
        field_name = "deadline"
        if left_s <= 0:
            raise InvalidInput(
                f"{where}: deadline {deadline} is in the past (now {now.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}); "
                "give a later time, or deadline_hours"
            )
    need_s = latest_start(float(max_hours) * 3600, restart_overhead_s)
    if left_s < need_s:
        raise InvalidInput(
            f"{where}: {field_name} leaves {left_s / 3600:.2f} h; {max_hours:g} h of training "
            f"plus one restart ({restart_overhead_s / 60:g} min) need {need_s / 3600:.2f} h"
        )


def validate(
    sub: Submission,
    *,
    dynamic: bool = False,
    sandbox: Limits | None = None,
    now: datetime | None = None,
    restart_overhead_s: float = DEFAULT_OVERHEAD_S,
) -> None:
    """Every check a job must pass before it may cost GPU time (cheap ones first)."""
    if "reward_function.py" not in sub.files:
        raise InvalidInput(f"{sub.source}: no reward_function.py")
    check_world(sub)
    check_reward(
        sub.files["reward_function.py"],
        sub.source_name("reward_function.py"),
        dynamic=dynamic,
        sandbox=sandbox,
    )
    if "model_metadata.json" in sub.files:
        _check_json(
            sub.files["model_metadata.json"], sub.source_name("model_metadata.json"), "metadata"
        )
    if "hyperparameters.json" in sub.files:
        _check_json(
            sub.files["hyperparameters.json"],
            sub.source_name("hyperparameters.json"),
            "hyperparameters",
        )
    if sub.fields:
        parse_user_fields(json.dumps(sub.fields), sub.source_name("job.json"))
    check_deadline(sub, now or utcnow(), restart_overhead_s)


def check_run_script(sub: Submission, layout: Layout, bucket: str) -> None:
    """A job may name a run script under ``PREFIX/scripts/`` only (written by whoever
    administers the bucket); anything a trainer can write is refused with one line."""
    key = sub.fields.get("run_script")
    if key is None:
        return
    if not isinstance(key, str) or layout.parse_script_key(key) is None:
        raise InvalidInput(
            f"{sub.source_name('job.json')}: run_script {key!r}: run scripts come only from "
            f"s3://{bucket}/{layout.scripts} (written by whoever administers the bucket), "
            "never from the inbox or a job's files"
        )


def build_spec(sub: Submission, job_id: str | None = None) -> JobSpec:
    """The spec for a submission; its id is derived from name and content unless given."""
    fields = {k: v for k, v in sub.fields.items() if k != "name"}
    derived, digest = job_id_for(sub.name, sub.files, fields)
    now = utcnow()
    if fields.get("deadline_hours") is not None and fields.get("deadline") is None:
        # hours after submission become a due time, fixed now
        fields["deadline"] = iso(now + timedelta(hours=float(fields["deadline_hours"])))
    return JobSpec(
        id=check_job_id(job_id or derived, f"{sub.source}: job id"),
        name=sub.name,
        submitted_at=iso(now) or "",
        source=sub.source,
        content_sha256=digest,
        **fields,
    )


def fill_defaults(jobs: Any, sub: Submission) -> None:
    """Missing metadata / hyperparameters: ``defaults/`` in S3, else built-in defaults."""
    from pitstop.errors import NotFound

    builtin = defaults()
    for name in ("model_metadata.json", "hyperparameters.json"):
        if name in sub.files:
            continue
        try:
            body = jobs.store.get(jobs.layout.defaults(name)).body
            kind = "metadata" if name.startswith("model") else "hyperparameters"
            _check_json(body, f"s3://{jobs.store.bucket}/{jobs.layout.defaults(name)}", kind)
            sub.files[name] = body
        except NotFound:
            sub.files[name] = builtin[name]


def check_pretrained(jobs: JobStore, sub: Submission) -> None:
    """A job that starts from a model made elsewhere: the model must hold a complete
    checkpoint and a model_metadata.json whose network the job's own metadata can load
    (``action_space.compat``), checked before a GPU is paid for. The checkpoint is pinned
    to its name (``last`` now is not ``last`` tomorrow). Call after ``fill_defaults``."""
    from pitstop.action_space.compat import load_problem
    from pitstop.action_space.io import parse_metadata
    from pitstop.core.records import Pretrained
    from pitstop.errors import CheckFailed, NotFound
    from pitstop.store.checkpoints import select_checkpoint
    from pitstop.store.layout import ModelKeys

    raw = sub.fields.get("pretrained")
    if raw is None:
        return
    where = f"{sub.source_name('job.json')}: pretrained"
    pre = Pretrained.model_validate(raw)
    try:
        name = select_checkpoint(jobs.store, pre.model_prefix, pre.checkpoint)
    except NotFound as e:
        raise InvalidInput(f"{where}: {e}") from None
    key = ModelKeys(pre.model_prefix).metadata
    url = f"s3://{jobs.store.bucket}/{key}"
    try:
        body = jobs.store.get(key).body
    except NotFound:
        raise InvalidInput(f"{where}: {url}: missing (a model carries its metadata)") from None
    try:
        theirs = parse_metadata(body.decode("utf-8", "replace"), url, strict=False)
    except CheckFailed as e:  # the model's own file is broken: the job cannot start from it
        raise InvalidInput(f"{where}: {e}") from None
    mine = sub.source_name("model_metadata.json")
    ours = parse_metadata(sub.files["model_metadata.json"].decode("utf-8", "replace"), mine)
    problem = load_problem(theirs, ours)
    if problem is not None:
        raise InvalidInput(f"{where}: {pre.model_prefix} cannot start this job: {problem}")
    sub.fields["pretrained"] = {"model_prefix": pre.model_prefix, "checkpoint": name}


def submit(
    jobs: JobStore,
    sub: Submission,
    bucket: str,
    *,
    dynamic: bool = True,
    restart_overhead_s: float = DEFAULT_OVERHEAD_S,
) -> tuple[JobSpec, bool]:
    """The one way a job is made from user files (CLI, Python client): every check, the
    bucket's defaults, then exactly-once creation. Returns the spec and whether it is new."""
    validate(sub, dynamic=dynamic, restart_overhead_s=restart_overhead_s)
    check_run_script(sub, jobs.layout, bucket)
    fill_defaults(jobs, sub)
    check_pretrained(jobs, sub)
    spec = build_spec(sub)
    return spec, jobs.create(spec, sub.files)


def submission_from_files(
    reward: str,
    *,
    name: str | None = None,
    metadata: str | None = None,
    hyperparameters: str | None = None,
    job: str | None = None,
    evaluate: str | None = None,
) -> Submission:
    """``pitstop submit``'s submission of the files a user names (``evaluate``: worlds,
    comma-separated), each labelled with its path so a problem names the user's own file;
    not yet checked (:func:`validate`)."""
    from pathlib import Path

    from pitstop.files import read_user_file

    def read(path: str, what: str) -> bytes:
        return read_user_file(path, f"{what} file")

    if not reward.endswith(".py"):
        raise InvalidInput(f"{reward}: a reward function must be a .py file")
    files = {"reward_function.py": read(reward, "reward function")}
    labels = {"reward_function.py": reward}
    for key, path, what in [
        ("model_metadata.json", metadata, "metadata"),
        ("hyperparameters.json", hyperparameters, "hyperparameters"),
    ]:
        if path:
            files[key], labels[key] = read(path, what), path
    fields: dict[str, Any] = {}
    if job:
        fields = parse_user_fields(read(job, "job"), job)
        labels["job.json"] = job
    if evaluate:
        fields["evaluate_on"] = [w.strip() for w in evaluate.split(",") if w.strip()]
        labels.setdefault("job.json", "--evaluate")
    name = name or fields.get("name") or Path(reward).stem
    return Submission(name=name, files=files, fields=fields, source="cli", labels=labels)
