"""Every parser of what S3 holds survives any bytes: a typed ``CorruptObject`` naming the
object, or a value it can use, never another exception (issue 23).

Hypothesis generates JSON documents of the right shape with wrong values (NaN, infinity,
1e999, huge integers, text where a number goes, lists where an object goes) and raw bytes.
Each test runs in well under a second of CI time: examples are capped, no deadline is set
(a busy machine must not fail them).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pitstop.errors import CorruptObject
from pitstop.evaluation.results import parse_metrics
from pitstop.store import parse
from pitstop.store.layout import Layout
from pitstop.store.metrics import max_episodes
from pitstop.store.objects import Head, Object

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# numbers a writer may leave: usable ones and every kind that is not
BAD_NUMBERS = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e999, -1e999, 10**30, -1, 2**64, 0.5, True, None, "12", [], {}]
)
NUMBERS = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=True), BAD_NUMBERS)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20))
JSONISH = st.recursive(
    SCALARS,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


def dumps(doc: Any) -> bytes:
    """As a careless writer would: Python's json writes NaN/Infinity literals."""
    return json.dumps(doc, allow_nan=True, default=str).encode()


def lap_rows() -> st.SearchStrategy[dict[str, Any]]:
    fields = [
        "trial",
        "elapsed_time_in_milliseconds",
        "episode_status",
        "reset_count",
        "off_track_count",
        "completion_percentage",
    ]
    return st.dictionaries(st.sampled_from(fields), st.one_of(NUMBERS, st.text(max_size=12)))


@FUZZ
@given(st.binary(max_size=200))
def test_load_json_of_any_bytes_is_a_value_or_corrupt_object(body: bytes) -> None:
    try:
        parse.load_json(body, "k")
    except CorruptObject as e:
        assert e.key == "k" and str(e).startswith("k: ")


@FUZZ
@given(JSONISH)
def test_strict_json_never_yields_a_non_finite_number(doc: Any) -> None:
    try:
        value = parse.load_json(dumps(doc), "k")
    except CorruptObject:
        return

    def walk(v: Any) -> None:
        if isinstance(v, float):
            assert math.isfinite(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(value)


@FUZZ
@given(st.one_of(st.lists(lap_rows(), max_size=5), JSONISH))
def test_evaluation_metrics_parse_to_laps_or_a_named_corrupt_object(rows: Any) -> None:
    body = dumps({"metrics": rows}) if isinstance(rows, list) else dumps(rows)
    key = "models/m/metrics/evaluation/evaluation-1.json"
    try:
        laps = parse_metrics(body, key)
    except CorruptObject as e:
        assert e.key == key and key in str(e)
        return
    for lap in laps:
        assert 0 <= lap.time_ms <= parse.MAX_INT and lap.resets >= 0
        assert math.isfinite(lap.completion)


@FUZZ
@given(st.one_of(JSONISH, st.dictionaries(st.just("term_cond_max_episodes"), NUMBERS)))
def test_max_episodes_is_always_a_positive_int(doc: Any) -> None:
    value = max_episodes(dumps(doc))
    assert isinstance(value, int) and value >= 1


def test_one_bad_number_in_evaluation_metrics_is_a_corrupt_object_not_an_overflow() -> None:
    """``1e999`` once crash-looped the supervisor (OverflowError in ``int()``)."""
    row = {"trial": 1, "elapsed_time_in_milliseconds": 1e999, "episode_status": "Lap complete"}
    body = json.dumps({"metrics": [row]}).encode()  # Python writes Infinity
    with pytest.raises(CorruptObject, match="Infinity is not a number"):
        parse_metrics(body, "evaluation-1.json")
    raw = b'{"metrics": [{"trial": 1, "elapsed_time_in_milliseconds": 1e999}]}'
    with pytest.raises(CorruptObject, match="too large"):
        parse_metrics(raw, "evaluation-1.json")


def state_docs() -> st.SearchStrategy[dict[str, Any]]:
    attempt = st.fixed_dictionaries(
        {"n": NUMBERS, "model_prefix": st.text(max_size=10), "started_at": st.text(max_size=10)},
        optional={"training_s": NUMBERS, "outcome": st.text(max_size=10), "ended_at": SCALARS},
    )
    return st.fixed_dictionaries(
        {"id": st.just("job-1"), "state": st.sampled_from(["running", "pending", "nope", 3])},
        optional={
            "attempts": st.one_of(st.lists(attempt, max_size=3), JSONISH),
            "restarts": NUMBERS,
            "reboots": NUMBERS,
            "epoch": NUMBERS,
            "reason": SCALARS,
        },
    )


@FUZZ
@given(st.one_of(state_docs(), JSONISH))
def test_state_json_is_a_status_or_an_invalid_job(doc: Any) -> None:
    from pitstop.core.records import JobStatus
    from pitstop.errors import InvalidJob
    from pitstop.store.jobs import read_record

    key = "pitstop/jobs/job-1/state.json"
    try:
        status = read_record(JobStatus, dumps(doc), key, "state")
    except InvalidJob as e:
        assert e.key == key and str(e).startswith(key) and "\n" not in str(e)
        return
    for a in status.attempts:
        assert a.training_s is None or math.isfinite(a.training_s)


@FUZZ
@given(
    st.one_of(
        JSONISH, st.dictionaries(st.sampled_from(["id", "name", "max_hours", "world"]), NUMBERS)
    )
)
def test_spec_json_is_a_spec_or_an_invalid_job(doc: Any) -> None:
    from pitstop.core.records import JobSpec
    from pitstop.errors import InvalidJob
    from pitstop.store.jobs import read_record

    key = "pitstop/jobs/job-1/spec.json"
    try:
        spec = read_record(JobSpec, dumps(doc), key, "job spec")
    except InvalidJob as e:
        assert e.key == key and "\n" not in str(e)
        return
    assert spec.max_hours is None or math.isfinite(spec.max_hours)


@FUZZ
@given(st.one_of(JSONISH, st.dictionaries(st.sampled_from(["owner", "epoch", "job_id"]), NUMBERS)))
def test_a_lease_of_any_shape_is_read_as_held_or_free(doc: Any) -> None:
    from pitstop.store.leases import Leases

    class One:  # the one object the read needs: Leases.info's only request
        def get(self, key: str) -> Any:
            now = datetime.now(timezone.utc)
            return Object(Head(key, '"e"', now, 1, now), dumps(doc))

    info = Leases(One(), Layout(), "i-1", 30.0).info("job-1")  # type: ignore[arg-type]
    assert info is not None and isinstance(info.epoch, int) and info.epoch >= 0


KEY_CHARS = st.text(alphabet=st.sampled_from([*"abz019-_./~²%: TZ", "\u00e9", "\x00"]), max_size=60)


@FUZZ
@given(st.one_of(KEY_CHARS, st.builds(lambda a, b: a + "/" + b, KEY_CHARS, KEY_CHARS)))
def test_index_keys_of_any_text_parse_to_a_key_or_none(tail: str) -> None:
    """Listing, claim, terminal and leaderboard keys come from a listing anyone who may write
    ``index/`` can fill: each parser returns a value it can use, or None."""
    lay = Layout()
    for base, parser in (
        (lay.listing_index, lay.parse_listing_key),
        (lay.claimable_index, lay.parse_claim_key),
        (lay.terminal_index, lay.parse_terminal_key),
        (lay.leaderboards, lay.parse_leaderboard_key),
        (lay.jobs, lay.parse_job_dir),
    ):
        parsed = parser(base + tail)  # type: ignore[operator]
        if parsed is not None and hasattr(parsed, "revision"):
            assert isinstance(parsed.revision, int) and parsed.revision >= 0
