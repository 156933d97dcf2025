"""Key names under ``s3://BUCKET/PREFIX/`` and in a DRfC model prefix: the only place that knows them.

The layout (README "How it works", docs/architecture.md)::

    inbox/NAME.py | inbox/NAME/...     trainer drop box; processed ones move to inbox/processed/
    jobs/JOB_ID/spec.json              immutable job spec
    jobs/JOB_ID/custom_files/          reward_function.py, model_metadata.json, hyperparameters.json
    jobs/JOB_ID/state.json             current state (If-Match on its ETag)
    jobs/JOB_ID/state.json.corrupt-TIME  an unreadable state.json, set aside
    jobs/JOB_ID/lease.json             owner and renewal (If-None-Match: * to create)
    jobs/JOB_ID/events/...             one object per event
    jobs/JOB_ID/logs/...               trainer and supervisor logs
    jobs/JOB_ID/results.json           an evaluation's laps and summary, once it ended
    leaderboard/WORLD/LAP_MS-RESETS-ENDED_MS-JOB_ID   one empty object per evaluation
    instances/INSTANCE_ID.json         supervisor heartbeat
    index/claimable/RANK-CREATED-ID    claim order (a hint)
    index/terminal/JOB_ID              written once a job ends
    index/jobs/JOB_ID/REV~FIELDS...    the listing: what ``pitstop jobs`` shows (a hint)
    scripts/run.sh                     optional run-script override
    defaults/                          model_metadata.json / hyperparameters.json defaults
    doctor/NODE.probe                  written and deleted by ``pitstop doctor``
    image-builder/logs/PIPELINE/...    AWSTOE logs of image builds
    image-builder/wheels/DIGEST/NAME   the pitstop wheel an image installs

Each attempt trains into ``models/JOB_ID/attempt-N`` at the bucket root (DRfC's
``DR_LOCAL_S3_MODEL_PREFIX``); ``ModelKeys`` names what a trainer writes there
(REFERENCE.md section 1).

Every other module builds and parses keys through this one (``tests/store/test_key_formats.py``
fails on a key format written anywhere else).

Every key built for a job checks its id against the job-id grammar (``core/ids.py``), so a
bad id can never name an object; the ``parse_*`` functions take ids out of keys (raw: the
caller checks them and decides what to do with a bad one). Run scripts live under
``scripts/`` only, which whoever administers the bucket writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple
from urllib.parse import quote, unquote

from pitstop.core.ids import check_job_id

CUSTOM_FILES = ("reward_function.py", "model_metadata.json", "hyperparameters.json")
MODELS_ROOT = "models"
MODELS_DIR = MODELS_ROOT + "/"  # every model prefix starts so (an IAM resource, a listing)
_MODEL_PREFIX = re.compile(r"\Amodels/([^/]+)/attempt-([0-9]{1,9})\Z")
_LOG_NAME = re.compile(r"\Aattempt-([0-9]+)/([A-Za-z0-9._-]+)\Z")  # what a client may ask for
_LOG_FILE = re.compile(r"attempt-(\d+)(?:[.-]|$)")  # a trainer's local log file
_STAMP = "%Y%m%dT%H%M%S%fZ"  # event keys and set-aside copies: listing order is time order
_SCRIPT_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_CLAIM_NAME = re.compile(r"\A([01])-([0-9TZ]*)-(.+)\Z", re.DOTALL)
_REVISION = re.compile(r"[0-9]{1,10}")  # a listing key's revision: written as %010d


class LeaderboardKey(NamedTuple):
    """``leaderboard/WORLD/LAP_MS-RESETS-ENDED_MS-JOB_ID``, parsed (``job_id`` raw).

    Fixed-width numbers, so one listing is the ranking: best lap, then fewer resets, then
    earlier."""

    world: str
    lap_ms: int
    resets: int
    ended_ms: int
    job_id: str


_BOARD_NAME = re.compile(r"\A(\d{10})-(\d{6})-(\d{15})-(.+)\Z", re.DOTALL)
_WORLD = re.compile(r"\A[A-Za-z0-9_\-]{1,128}\Z")


MAX_KEY_BYTES = 1024  # S3's limit on a key, UTF-8 encoded
LISTING_SEP = "~"
# the fields of a listing key after the revision, in order (``ListingEntry``)
LISTING_FIELDS = (
    "state",
    "created",
    "updated",
    "attempts",
    "restarts",
    "instance_id",
    "last_checkpoint",
    "running_since",
    "ended_s",
    "cancel_requested",
    "truncated",
    "name",
    "reason",
    # added with deadlines: keys written before lack them (read as empty)
    "deadline",
    "max_hours",
    "training_s",
)
LISTING_REQUIRED = 13  # fields every listing key has, the oldest included


def encode_field(value: str | None) -> str:
    """A listing-key field: percent-encoded so it holds no ``/``, ``~``, ``.`` run or control
    character whatever the name; ``None`` (and the empty string) encode as nothing."""
    if not value:
        return ""
    return quote(value, safe="", errors="replace").replace("~", "%7E").replace(".", "%2E")


def decode_field(text: str) -> str | None:
    return unquote(text, errors="replace") if text else None


def _trim_encoded(value: str, budget: int) -> str:
    """The longest prefix of ``value`` whose encoding fits in ``budget`` bytes."""
    lo, hi = 0, len(value)
    while lo < hi:  # binary search on characters: encoding is monotonic in the prefix
        mid = (lo + hi + 1) // 2
        if len(encode_field(value[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return value[:lo]


class ListingKey(NamedTuple):
    """``index/jobs/JOB_ID/REV~FIELDS``, parsed (``job_id`` raw, fields decoded)."""

    job_id: str
    revision: int
    fields: dict[str, str | None]


class ClaimKey(NamedTuple):
    """``index/claimable/RANK-CREATED-JOB_ID``, parsed (``job_id`` raw)."""

    rank: int
    created: str
    job_id: str


@dataclass(frozen=True)
class Layout:
    prefix: str = "pitstop"

    def _k(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    @property
    def root(self) -> str:
        """``PREFIX/``: every object of pitstop's (the models aside, under ``models/``)."""
        return self.prefix + "/"

    @property
    def index(self) -> str:
        """``index/``: the claim, terminal and listing indexes (hints, rebuilt from jobs/)."""
        return self._k("index") + "/"

    # queue
    @property
    def inbox(self) -> str:
        return self._k("inbox") + "/"

    @property
    def inbox_processed(self) -> str:
        return self._k("inbox", "processed") + "/"

    def inbox_claim(self, job_id: str) -> str:
        """Short lease on turning one inbox drop into a job, so only one instance validates it."""
        return self._k("inbox", "processed", ".claims", f"{_id(job_id)}.json")

    def inbox_processed_drop(self, job_id: str) -> str:
        """Where a drop's files are kept once it became job ``job_id`` (accepted or not)."""
        return self._k("inbox", "processed", _id(job_id)) + "/"

    def terminal_marker(self, job_id: str) -> str:
        """Written once a job ends, so the claim scan never reads ended jobs again."""
        return self._k("index", "terminal", _id(job_id))

    def claim_key(self, rank: int, created: str, job_id: str) -> str:
        """The claim-index entry of a job: listing order is claim order."""
        return f"{self.claimable_index}{rank}-{created}-{_id(job_id)}"

    def parse_claim_key(self, key: str) -> ClaimKey | None:
        """A claim-index key's parts (job id unchecked); None for a key of another shape."""
        if not key.startswith(self.claimable_index):
            return None
        m = _CLAIM_NAME.match(key[len(self.claimable_index) :])
        return ClaimKey(int(m.group(1)), m.group(2), m.group(3)) if m else None

    def parse_terminal_key(self, key: str) -> str | None:
        """``index/terminal/JOB_ID`` -> the job id (unchecked); None for another shape."""
        if not key.startswith(self.terminal_index):
            return None
        name = key[len(self.terminal_index) :]
        return name if name and "/" not in name else None

    def parse_job_dir(self, key: str) -> str | None:
        """``jobs/JOB_ID/`` (a listing's common prefix) -> the job id (unchecked)."""
        if not key.startswith(self.jobs) or not key.endswith("/"):
            return None
        name = key[len(self.jobs) : -1]
        return name if name and "/" not in name else None

    @property
    def listing_index(self) -> str:
        """``index/jobs/``: one key per job whose name carries what ``pitstop jobs`` shows."""
        return self._k("index", "jobs") + "/"

    def listing_prefix(self, job_id: str) -> str:
        return f"{self.listing_index}{_id(job_id)}/"

    def listing_key(self, job_id: str, revision: int, fields: dict[str, str | None]) -> str:
        """The listing entry of one revision of a job's state (``LISTING_FIELDS``, each
        encoded by ``encode_field``). Listing order within a job is revision order. The
        name and the reason are cut (``truncated`` says which: ``n``, ``r``) so that the
        key stays within S3's 1,024 bytes."""
        head = f"{self.listing_prefix(job_id)}{int(revision):010d}"
        vals = {f: fields.get(f) for f in LISTING_FIELDS}
        flags = ""
        for cut in ("", "reason", "name"):
            if cut:
                rest = {**vals, cut: None, "truncated": flags + cut[0]}
                budget = MAX_KEY_BYTES - len(self._join(head, rest).encode())
                keep = _trim_encoded(vals[cut] or "", max(0, budget))
                if keep != (vals[cut] or ""):
                    flags += cut[0]
                vals[cut] = keep
            vals["truncated"] = flags or None
            key = self._join(head, vals)
            if len(key.encode()) <= MAX_KEY_BYTES:
                return key
        raise ValueError(f"listing key of {job_id} is over {MAX_KEY_BYTES} bytes: prefix too long")

    @staticmethod
    def _join(head: str, vals: dict[str, str | None]) -> str:
        return LISTING_SEP.join([head, *(encode_field(vals[f]) for f in LISTING_FIELDS)])

    def parse_listing_key(self, key: str) -> ListingKey | None:
        """A listing key's parts (job id unchecked); None for a key of another shape. Fields
        added by a later version (after ``reason``) are ignored."""
        if not key.startswith(self.listing_index):
            return None
        rest = key[len(self.listing_index) :]
        job_id, _, name = rest.partition("/")
        parts = name.split(LISTING_SEP)
        if not job_id or "/" in name or len(parts) < 1 + LISTING_REQUIRED:
            return None
        if not _REVISION.fullmatch(parts[0]):  # ASCII digits only: int() refuses '²'
            return None
        fields = {f: decode_field(v) for f, v in zip(LISTING_FIELDS, parts[1:], strict=False)}
        return ListingKey(job_id, int(parts[0]), fields)

    @property
    def claimable_index(self) -> str:
        """``index/claimable/RANK-CREATED-JOB_ID``: listing order is claim order."""
        return self._k("index", "claimable") + "/"

    @staticmethod
    def last_part(key: str) -> str:
        """The name after the last ``/`` (a job id in ``jobs/ID/`` or an index key)."""
        return key.rstrip("/").rsplit("/", 1)[-1]

    def inbox_drop(self, name: str) -> str:
        """``inbox/NAME/``: a folder drop (its files are ``inbox_entry``'s ``dir`` entries)."""
        if not name or "/" in name or name == "processed":
            raise ValueError(f"not an inbox drop name: {name!r}")
        return f"{self.inbox}{name}/"

    def inbox_entry(self, key: str) -> tuple[str, str, str] | None:
        """An inbox key as (``file``|``dir``, drop name, file name); None for processed
        drops and anything deeper than ``inbox/NAME/FILE``."""
        rel = key[len(self.inbox) :]
        if not rel or rel.startswith("processed/"):
            return None
        parts = rel.split("/")
        if len(parts) == 1:
            return "file", parts[0], parts[0]
        if len(parts) == 2 and parts[1]:
            return "dir", parts[0], parts[1]
        return None

    def processed(self, job_id: str, filename: str) -> str:
        """Where an inbox drop's file is kept once it became (or was rejected as) a job."""
        return f"{self.inbox_processed}{job_id}/{filename}"

    def results(self, job_id: str) -> str:
        return self._k("jobs", _id(job_id), "results.json")

    @property
    def leaderboards(self) -> str:
        return self._k("leaderboard") + "/"

    def parse_leaderboard_dir(self, key: str) -> str | None:
        """``leaderboard/WORLD/`` (a listing's common prefix) -> ``WORLD``; None otherwise."""
        if not key.startswith(self.leaderboards) or not key.endswith("/"):
            return None
        name = key[len(self.leaderboards) : -1]
        return name if name and "/" not in name else None

    def leaderboard(self, world: str) -> str:
        if not _WORLD.match(world):
            raise ValueError(f"not a world name: {world!r}")
        return self._k("leaderboard", world) + "/"

    def leaderboard_key(
        self, world: str, lap_ms: int, resets: int, ended_ms: int, job_id: str
    ) -> str:
        lap = min(max(0, int(lap_ms)), 9_999_999_999)
        r = min(max(0, int(resets)), 999_999)
        return f"{self.leaderboard(world)}{lap:010d}-{r:06d}-{int(ended_ms):015d}-{_id(job_id)}"

    def parse_leaderboard_key(self, key: str) -> LeaderboardKey | None:
        head, _, name = key.rpartition("/")
        world = head.rpartition("/")[2]
        m = _BOARD_NAME.match(name)
        if not m or not head.startswith(self._k("leaderboard")):
            return None
        lap, resets, ended, job_id = m.groups()
        return LeaderboardKey(world, int(lap), int(resets), int(ended), job_id)

    @property
    def terminal_index(self) -> str:
        return self._k("index", "terminal") + "/"

    @property
    def jobs(self) -> str:
        return self._k("jobs") + "/"

    @property
    def instances(self) -> str:
        return self._k("instances") + "/"

    def defaults(self, name: str) -> str:
        return self._k("defaults", name)

    def doctor_probe(self, node: str) -> str:
        """``doctor/NODE.probe``: what ``pitstop doctor`` writes and deletes again."""
        if "/" in node:
            raise ValueError(f"not a host name: {node!r}")
        return self._k("doctor", f"{node}.probe")

    def parse_doctor_probe(self, key: str) -> str | None:
        """``doctor/NODE.probe`` -> ``NODE``; None for any other key."""
        head = self._k("doctor") + "/"
        if not key.startswith(head) or not key.endswith(".probe"):
            return None
        node = key[len(head) : -len(".probe")]
        return node if "/" not in node else None

    def image_logs(self, pipeline: str) -> str:
        """``image-builder/logs/PIPELINE``: Image Builder's S3 log prefix for a pipeline (no
        trailing ``/``: Image Builder adds its own names under it)."""
        if not pipeline or "/" in pipeline:
            raise ValueError(f"not a pipeline name: {pipeline!r}")
        return self._k("image-builder", "logs", pipeline)

    def parse_image_logs(self, key: str) -> str | None:
        """A key in (or the prefix of) ``image-builder/logs/PIPELINE`` -> ``PIPELINE``."""
        head = self._k("image-builder", "logs") + "/"
        if not key.startswith(head):
            return None
        pipeline = key[len(head) :].partition("/")[0]
        return pipeline or None

    def wheel(self, digest: str, name: str) -> str:
        """``image-builder/wheels/DIGEST/NAME``: the content hash in the key pins the wheel."""
        if not digest or "/" in digest or not name.endswith(".whl") or "/" in name:
            raise ValueError(f"not a wheel digest and file name: {digest!r}, {name!r}")
        return self._k("image-builder", "wheels", digest, name)

    def parse_wheel(self, key: str) -> tuple[str, str] | None:
        """``image-builder/wheels/DIGEST/NAME`` -> ``(DIGEST, NAME)``; None otherwise."""
        head = self._k("image-builder", "wheels") + "/"
        if not key.startswith(head):
            return None
        parts = key[len(head) :].split("/")
        if len(parts) != 2 or not parts[0] or not parts[1].endswith(".whl"):
            return None
        return parts[0], parts[1]

    @property
    def scripts(self) -> str:
        """Run scripts: written by whoever administers the bucket, never by trainers."""
        return self._k("scripts") + "/"

    @property
    def run_script(self) -> str:
        return self.scripts + "run.sh"

    def parse_script_key(self, key: str) -> str | None:
        """``scripts/NAME`` -> ``NAME``; None for any key outside ``scripts/`` (or nested,
        or with odd characters): only those keys may name a run script."""
        if not key.startswith(self.scripts):
            return None
        name = key[len(self.scripts) :]
        return name if _SCRIPT_NAME.match(name) and name not in (".", "..") else None

    # one job
    def job(self, job_id: str) -> str:
        return self._k("jobs", _id(job_id)) + "/"

    def spec(self, job_id: str) -> str:
        return self.job(job_id) + "spec.json"

    def state(self, job_id: str) -> str:
        return self.job(job_id) + "state.json"

    def state_set_aside(self, job_id: str, at: datetime) -> str:
        """``state.json.corrupt-TIME``: where an unreadable ``state.json`` is copied before it
        is replaced (one per replacement: the time names it)."""
        return f"{self.state(job_id)}.corrupt-{at:{_STAMP}}"

    def parse_state_set_aside(self, key: str) -> tuple[str, datetime] | None:
        """``jobs/JOB_ID/state.json.corrupt-TIME`` -> ``(JOB_ID, TIME)`` (id unchecked)."""
        head, marker, stamp = key.rpartition("/state.json.corrupt-")
        job_id = self.parse_job_dir(head + "/") if marker else None
        if job_id is None:
            return None
        try:
            return job_id, datetime.strptime(stamp, _STAMP)
        except ValueError:
            return None

    def lease(self, job_id: str) -> str:
        return self.job(job_id) + "lease.json"

    def custom_files(self, job_id: str) -> str:
        return self.job(job_id) + "custom_files/"

    def custom_file(self, job_id: str, name: str) -> str:
        return custom_file_key(self.custom_files(job_id), name)

    def events(self, job_id: str) -> str:
        return self.job(job_id) + "events/"

    def event(self, job_id: str, at: datetime, token: str) -> str:
        """``events/TIME-TOKEN.json``: listing order is time order; the same token, the same key."""
        return f"{self.events(job_id)}{at:{_STAMP}}-{token}.json"

    @staticmethod
    def event_time(key: str) -> str:
        """The ISO time in an event key (``""`` when it holds none): an unreadable event is
        still placed in time."""
        name = key.rsplit("/", 1)[-1]
        try:
            at = datetime.strptime(name.split("-", 1)[0], _STAMP)
        except ValueError:
            return ""
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"

    def logs(self, job_id: str) -> str:
        return self.job(job_id) + "logs/"

    def log(self, job_id: str, name: str) -> str:
        """``logs/NAME``: one shipped log (``NAME`` as ``log_name`` makes it)."""
        if not name or name.startswith("/"):
            raise ValueError(f"not a log name: {name!r}")
        return self.logs(job_id) + name

    def parse_log(self, job_id: str, key: str) -> str | None:
        """A key under ``job_id``'s ``logs/`` -> its name there; None for any other key."""
        prefix = self.logs(job_id)
        return key[len(prefix) :] if key.startswith(prefix) and len(key) > len(prefix) else None

    @staticmethod
    def log_name(attempt: int, filename: str) -> str:
        """The name under ``logs/`` of one of attempt ``attempt``'s local log files:
        ``attempt-N/trainer.log`` for the trainer's own ``attempt-N.log``,
        ``attempt-N/containers.log`` for ``attempt-N-containers.log``, else
        ``attempt-N/FILENAME`` (the attempt is named once, by the folder)."""
        own = f"attempt-{int(attempt)}"
        if filename == f"{own}.log":
            rest = "trainer.log"
        elif filename.startswith(f"{own}-") and len(filename) > len(own) + 1:
            rest = filename[len(own) + 1 :]
        else:
            rest = filename
        return f"{own}/{rest}"

    @staticmethod
    def parse_log_name(name: str) -> tuple[int, str] | None:
        """``attempt-2/trainer.log`` (or a whole key ending so) -> ``(2, "trainer.log")``."""
        m = re.search(r"(?:^|/)attempt-(\d+)/([^/]+)$", name)
        return (int(m.group(1)), m.group(2)) if m else None

    @staticmethod
    def attempt_of_log_file(filename: str) -> int | None:
        """The attempt a trainer's local log file names (``attempt-N.log``,
        ``attempt-N-containers.log``: what ``log_name`` turns into ``attempt-N/...``); None
        for a file named for no attempt."""
        m = _LOG_FILE.match(filename)
        return int(m.group(1)) if m else None

    @staticmethod
    def parse_exact_log_name(name: str) -> tuple[int, str] | None:
        """Like ``parse_log_name`` for a name alone, with a plain file name
        (``[A-Za-z0-9._-]``): the only log names a client (``/api/jobs/ID/log``) may ask for."""
        m = _LOG_NAME.match(name)
        return (int(m.group(1)), m.group(2)) if m else None

    def instance(self, instance_id: str) -> str:
        return self._k("instances", f"{instance_id}.json")

    @staticmethod
    def job_id_of(key: str) -> str:
        """``PREFIX/jobs/JOB_ID/...`` -> ``JOB_ID`` (unchecked)."""
        parts = key.rstrip("/").split("/")
        return parts[parts.index("jobs") + 1]


def _id(job_id: str) -> str:
    return check_job_id(job_id, "job id in an S3 key")


S3_URL = "s3://"


def s3_url(bucket: str, key: str) -> str:
    """``s3://BUCKET/KEY``: how a key is shown (and given) with its bucket."""
    return f"{S3_URL}{bucket}/{key}"


def parse_s3_url(url: str) -> tuple[str, str] | None:
    """``s3://BUCKET/KEY`` -> ``(BUCKET, KEY)`` (either may be empty); None for anything
    that is not an S3 URL."""
    if not url.startswith(S3_URL):
        return None
    bucket, _, key = url[len(S3_URL) :].partition("/")
    return bucket, key


def model_prefix(job_id: str, attempt: int) -> str:
    return f"{MODELS_ROOT}/{_id(job_id)}/attempt-{int(attempt)}"


class ModelPrefix(NamedTuple):
    """``models/JOB_ID/attempt-N``, parsed (``job_id`` raw)."""

    job_id: str
    attempt: int


def parse_model_prefix(prefix: str) -> ModelPrefix | None:
    """``models/JOB_ID/attempt-N`` (``model_prefix``'s form) -> its parts; None for any other
    prefix (a pretrained model from elsewhere, a prefix given by hand)."""
    m = _MODEL_PREFIX.match(prefix)
    return ModelPrefix(m.group(1), int(m.group(2))) if m else None


def model_prefix_pattern(job_id: str) -> str:
    """``models/JOB_ID/attempt-N``, with a literal ``N``: how a listing names every attempt's
    prefix at once (shown, never written; ``job_id`` as read, not checked)."""
    return f"{MODELS_ROOT}/{job_id}/attempt-N"


def custom_file_key(custom_files_prefix: str, name: str) -> str:
    """One custom file (``reward_function.py``...) in a custom-files prefix (``Layout.custom_files``,
    as DRfC's ``DR_LOCAL_S3_CUSTOM_FILES_PREFIX`` holds it: with or without its ``/``)."""
    if not name or "/" in name:
        raise ValueError(f"not a custom file name: {name!r}")
    if custom_files_prefix and not custom_files_prefix.endswith("/"):
        custom_files_prefix += "/"
    return custom_files_prefix + name


def custom_file_name(custom_files_prefix: str, key: str) -> str | None:
    """A key directly in a custom-files prefix -> the file's name; None for any other key."""
    head = custom_files_prefix.rstrip("/") + "/" if custom_files_prefix else ""
    name = key[len(head) :] if key.startswith(head) else ""
    return name if name and "/" not in name else None


MAX_WORKERS = 10  # deepracer-utils reads a worker's folder name as one digit


@dataclass(frozen=True)
class ModelKeys:
    """Objects a DeepRacer trainer writes under one model prefix (REFERENCE.md section 1)."""

    prefix: str

    def _k(self, *parts: str) -> str:
        return "/".join((self.prefix.rstrip("/"), *parts))

    @property
    def model_dir(self) -> str:
        return self._k("model") + "/"

    def model_file(self, name: str) -> str:
        """``model/NAME``: a checkpoint file, ``model_N.pb``, a marker..."""
        if not name or "/" in name:
            raise ValueError(f"not a file name in model/: {name!r}")
        return self._k("model", name)

    def parse_model_file(self, key: str) -> str | None:
        """``PREFIX/model/NAME`` -> ``NAME``; None for any other key."""
        name = key[len(self.model_dir) :] if key.startswith(self.model_dir) else ""
        return name if name and "/" not in name else None

    def relative(self, key: str) -> str | None:
        """A key under the prefix -> its path there (``model/.coach_checkpoint``): the same
        layout as a model directory on disk (the DRoA import layout); None outside it."""
        head = self._k("")
        rel = key[len(head) :] if key.startswith(head) else ""
        return rel or None

    @property
    def markers(self) -> str:
        """Listing prefix of the dot-files (``.coach_checkpoint``, ``.finished``, ``.lock``)."""
        return self._k("model", ".")

    @property
    def coach_checkpoint(self) -> str:
        return self._k("model", ".coach_checkpoint")

    @property
    def lock(self) -> str:
        return self._k("model", ".lock")

    @property
    def ready(self) -> str:
        return self._k("model", ".ready")

    @property
    def finished(self) -> str:
        return self._k("model", ".finished")

    @property
    def checkpoints_json(self) -> str:
        return self._k("model", "deepracer_checkpoints.json")

    @property
    def metadata(self) -> str:
        return self._k("model", "model_metadata.json")

    @property
    def metrics_dir(self) -> str:
        return self._k("metrics") + "/"

    @property
    def metrics(self) -> str:
        """Worker 0's ``metrics/TrainingMetrics.json``."""
        return self.training_metrics(0)

    def training_metrics(self, worker: int) -> str:
        """``metrics/TrainingMetrics.json`` (worker 0), ``TrainingMetrics_<idx>.json`` (the
        other rollout workers, REFERENCE.md: multiple workers)."""
        w = int(worker)
        if w < 0:
            raise ValueError(f"not a worker index: {worker!r}")
        suffix = f"_{w}" if w else ""
        return f"{self.metrics_dir}TrainingMetrics{suffix}.json"

    def parse_training_metrics(self, key: str) -> int | None:
        """A training-metrics key of this prefix -> the worker index; None for other keys."""
        m = _TRAINING_METRICS.match(key[len(self.metrics_dir) :])
        return int(m.group(1) or 0) if m and key.startswith(self.metrics_dir) else None

    @property
    def reward_function(self) -> str:
        return self._k("reward_function.py")

    @property
    def training_params(self) -> str:
        return self._k("training_params.yaml")

    def ip(self, name: str) -> str:
        return self._k("ip", name)

    def simtrace(self, iteration: int) -> str:
        return self._k("training-simtrace", f"{iteration}-iteration.csv")

    def worker_simtrace(self, worker: int, iteration: int) -> str:
        """``W/training-simtrace/{iteration}-iteration.csv``: rollout worker ``W``'s simtrace
        when DRfC runs several (``DR_WORKERS`` > 1: every worker, 0 too, in its own folder;
        deepracer-utils reads workers 0-9 from one digit)."""
        w = int(worker)
        if not 0 <= w <= MAX_WORKERS - 1:
            raise ValueError(f"not a rollout worker index: {worker!r}")
        return ModelKeys(self._k(str(w))).simtrace(iteration)

    @property
    def evaluation_dir(self) -> str:
        """simapp's evaluation metrics: ``metrics/evaluation/evaluation-EPOCH.json``."""
        return self._k("metrics", "evaluation") + "/"

    def evaluation_metrics(self, epoch_ms: int) -> str:
        """``evaluation-YYYYmmddHHMMSS.json`` (14 digits, as DRfC's ``prepare-config.py``
        names it; UTC here) of an evaluation started at ``epoch_ms``."""
        return f"{self.evaluation_dir}evaluation-{evaluation_stamp(epoch_ms)}.json"

    def evaluation_simtrace(self, epoch_ms: int, iteration: int = 0) -> str:
        """``evaluation-YYYYmmddHHMMSS/evaluation-simtrace/{iteration}-iteration.csv``: the
        simtrace of the evaluation started at ``epoch_ms``, with its metrics file's stamp
        (DRfC's ``SIMTRACE_S3_PREFIX`` = the model prefix + ``/evaluation-<stamp>``)."""
        n = int(iteration)
        if n < 0:
            raise ValueError(f"not an iteration: {iteration!r}")
        stamp = evaluation_stamp(epoch_ms)
        return self._k(f"evaluation-{stamp}", "evaluation-simtrace", f"{n}-iteration.csv")

    def parse_evaluation_simtrace(self, key: str) -> tuple[str, int] | None:
        """An evaluation simtrace key of this prefix -> (its 14-digit stamp, its iteration),
        as deepracer-utils matches it; None for other keys."""
        head = self._k("")
        m = _EVALUATION_SIMTRACE.match(key[len(head) :]) if key.startswith(head) else None
        return (m.group(1), int(m.group(2))) if m else None

    def parse_evaluation_metrics(self, key: str) -> str | None:
        """A JSON file directly in ``metrics/evaluation/`` -> its name; None for other keys.
        Any ``.json`` name is taken: simapp versions (and pitstop's simulated trainer before
        it followed DRfC's 14 digits) name the file differently."""
        name = key[len(self.evaluation_dir) :] if key.startswith(self.evaluation_dir) else ""
        return name if name.endswith(".json") and "/" not in name else None

    def checkpoint_files(self, name: str) -> list[str]:
        """Every object that makes checkpoint ``name`` (e.g. ``12_Step-3400.ckpt``) complete."""
        n = checkpoint_number(name)
        return [
            self.model_file(f"{name}.index"),
            self.model_file(f"{name}.meta"),
            self.model_file(f"{name}.data-00000-of-00001"),
            self.model_file(f"model_{n}.pb"),
        ]


def evaluation_stamp(epoch_ms: int) -> str:
    """``YYYYmmddHHMMSS`` (UTC) of ``epoch_ms``: DRfC's stamp of an evaluation's files."""
    at = datetime.fromtimestamp(int(epoch_ms) / 1000, tz=timezone.utc)
    return f"{at:%Y%m%d%H%M%S}"


def checkpoint_name(number: int, step: int) -> str:
    return f"{number}_Step-{step}.ckpt"


def checkpoint_number(name: str) -> int:
    """``12_Step-3400.ckpt`` -> 12."""
    head = name.split("_", 1)[0]
    if not head.isdigit():
        raise ValueError(f"not a DeepRacer checkpoint name: {name!r}")
    return int(head)


_TRAINING_METRICS = re.compile(r"\ATrainingMetrics(?:_([0-9]{1,4}))?\.json\Z")
_EVALUATION_SIMTRACE = re.compile(
    r"\Aevaluation-([0-9]{14})/evaluation-simtrace/([0-9]{1,6})-iteration\.csv\Z"
)
_CKPT_INDEX = re.compile(r"^(\d+)_Step-(\d+)\.ckpt\.index$")


def checkpoint_of_index_file(key: str) -> str | None:
    """``.../model/12_Step-3400.ckpt.index`` -> ``12_Step-3400.ckpt``; None for other files."""
    m = _CKPT_INDEX.match(key.rsplit("/", 1)[-1])
    return checkpoint_name(int(m.group(1)), int(m.group(2))) if m else None
