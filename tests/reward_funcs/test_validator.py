"""The validator: every known-bad file is rejected with a clear reason and the params."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitstop import tracks
from pitstop.errors import InvalidInput
from pitstop.reward_funcs import ValidationReport, sandbox, validate_file, validate_source

BAD = Path(__file__).parent / "bad"
QUICK = sandbox.Limits(call_seconds=0.3, budget_seconds=5.0)


def check(name: str, **kw: object) -> ValidationReport:
    return validate_file(BAD / name, stride=3, limits=QUICK, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "rule", "fragment"),
    [
        ("match_statement.py", "syntax", "line 3: Python 3.8 cannot parse this (match statement)"),
        ("import_os.py", "import", "line 1: import of 'os' is not allowed"),
        ("open_file.py", "forbidden", "line 2: open(...) is not allowed (file access)"),
        ("uses_eval.py", "forbidden", "line 2: eval(...) is not allowed (dynamic code)"),
        (
            "wrong_name.py",
            "signature",
            "no top-level function named reward_function(params) (found: reward_fn)",
        ),
    ],
)
def test_static_rejections(name: str, rule: str, fragment: str) -> None:
    report = check(name)
    assert not report.ok
    assert report.reason is not None and report.reason.startswith(f"{name}: ")
    assert fragment in report.reason
    assert report.problems[0].rule == rule
    assert "\n" not in report.reason
    assert not report.dynamic_checked  # a static failure never runs the file


@pytest.mark.parametrize(
    ("name", "rule", "fragment", "expect"),
    [
        ("returns_none.py", "type", "returned None, not a float", {"all_wheels_on_track": False}),
        ("returns_nan.py", "nan", "returned nan", {"is_offtrack": True}),
        ("returns_huge.py", "range", "returned 1e+09, outside [-1e5, 1e5]", {"speed": 4.0}),
        ("infinite_loop.py", "timeout", "did not return within 0.3 s", {"steering_angle": 30.0}),
    ],
)
def test_dynamic_rejections_name_the_params(
    name: str, rule: str, fragment: str, expect: dict[str, object]
) -> None:
    report = check(name)
    assert not report.ok
    assert report.reason is not None and report.reason.startswith(f"{name}: ")
    assert fragment in report.reason
    assert " for params {" in report.reason and "closest_waypoints=" in report.reason
    problem = report.problems[0]
    assert problem.rule == rule
    assert problem.params is not None
    for k, v in expect.items():
        assert problem.params[k] == v
    assert problem.params["waypoints"].startswith("<")  # summarised, not 155 pairs


def test_exception_near_one_waypoint_is_found_with_its_params() -> None:
    # stride 1: every waypoint; the bug only fires when the previous waypoint is 42
    report = validate_file(BAD / "raises_near_waypoint.py", limits=QUICK)
    assert not report.ok
    assert report.reason is not None
    assert "line 4: raised ZeroDivisionError: float division by zero" in report.reason
    assert "closest_waypoints=[42, 43]" in report.reason
    assert report.problems[0].params is not None
    assert report.problems[0].params["closest_waypoints"] == [42, 43]
    assert report.problems[0].line == 4


def test_infinite_loop_that_swallows_the_interrupt_is_killed_and_reported() -> None:
    src = (
        "def reward_function(params):\n"
        "    if params['closest_waypoints'][0] == 7:\n"
        "        while True:\n"
        "            try:\n"
        "                while True:\n"
        "                    pass\n"
        "            except BaseException:\n"
        "                pass\n"
        "    return 1.0\n"
    )
    report = validate_source(src, "stubborn.py", stride=1, limits=QUICK)
    assert not report.ok
    assert report.problems[0].rule == "timeout"
    assert "killed" in (report.reason or "")
    assert report.problems[0].params is not None
    assert report.problems[0].params["closest_waypoints"][0] == 7


def test_memory_hog_hits_the_memory_limit() -> None:
    src = "def reward_function(params):\n    x = [0] * (10 ** 9)\n    return 1.0\n"
    report = validate_source(src, "hog.py", stride=5, limits=QUICK)
    assert not report.ok
    assert report.problems[0].rule == "memory"


def test_good_file_passes_and_reports_speed() -> None:
    src = "def reward_function(params):\n    return 1.0 - params['distance_from_center'] / params['track_width']\n"
    report = validate_source(src, "good.py")
    assert report.ok, report.reason
    assert report.reason is None
    assert report.calls == report.cases_total > 1000
    assert report.calls_per_second is not None and report.calls_per_second > 1000
    assert report.track == "reInvent2019_track"  # the default
    doc = report.to_dict()
    assert doc["ok"] is True and doc["problems"] == [] and doc["file"] == "good.py"


def test_int_result_is_accepted_as_the_simulator_accepts_it() -> None:
    report = validate_source("def reward_function(params):\n    return 1\n", "int.py", stride=5)
    assert report.ok, report.reason


def test_string_result_is_rejected() -> None:
    report = validate_source("def reward_function(params):\n    return '1.0'\n", "s.py", stride=5)
    assert not report.ok
    assert "returned str, not a float" in (report.reason or "")


def test_slow_function_gets_a_warning() -> None:
    src = (
        "def reward_function(params):\n"
        "    s = 0.0\n"
        "    for i in range(100000):\n"
        "        s += i\n"
        "    return 1.0\n"
    )
    report = validate_source(src, "slow.py", stride=10, limits=sandbox.Limits(budget_seconds=0.5))
    assert report.ok, report.reason
    assert any("more than 1 ms" in w for w in report.warnings)


def test_reward_that_prints_does_not_break_the_protocol() -> None:
    src = "def reward_function(params):\n    print('{\"index\": 5}')\n    return 1.0\n"
    report = validate_source(src, "chatty.py", stride=5)
    assert report.ok, report.reason


def test_python39_math_name_and_numpy_file_access_are_rejected() -> None:
    r1 = validate_source(
        "import math\ndef reward_function(params):\n    return math.lcm(2, 3)\n", "a.py"
    )
    assert "math.lcm does not exist in Python 3.8 (added in 3.9)" in (r1.reason or "")
    r2 = validate_source(
        "import numpy as np\ndef reward_function(params):\n    return float(np.load('x.npy')[0])\n",
        "b.py",
    )
    assert "line 3: .load(...) is not allowed (file access)" in (r2.reason or "")
    r3 = validate_source(
        "def reward_function(params):\n    return ().__class__.__bases__\n", "c.py"
    )
    assert ".__bases__ is not allowed" in (r3.reason or "")


def test_exception_at_load_time_is_reported() -> None:
    report = validate_source("X = 1 / 0\ndef reward_function(params):\n    return 1.0\n", "l.py")
    assert not report.ok
    assert report.reason == "l.py: line 1: raised ZeroDivisionError: division by zero when loaded"


def test_dynamic_false_runs_static_checks_only() -> None:
    report = validate_source(
        b"def reward_function(params):\n    return None\n", "n.py", dynamic=False
    )
    assert report.ok and not report.dynamic_checked


def test_non_utf8_bytes_are_rejected() -> None:
    report = validate_source(b"\xff\xfe\x00def", "bin.py")
    assert not report.ok and "not UTF-8" in (report.reason or "")


def test_missing_file_raises_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        validate_file(BAD / "does_not_exist.py")


def test_other_track_is_used_when_given() -> None:
    report = validate_file(BAD / "raises_near_waypoint.py", track=tracks.load("Straight_track"))
    # Straight_track has 22 waypoints: waypoint 42 never comes up
    assert report.ok, report.reason
    assert report.track == "Straight_track"
