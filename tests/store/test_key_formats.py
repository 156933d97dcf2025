"""Every S3 key format lives in ``store/layout.py``: no other module builds or parses a key of
the bucket's layout by hand.

The scan reads every module under ``src/pitstop`` but ``store/layout.py`` and flags:

- a string that holds one of the layout's own names (``state.json``, ``events/``,
  ``attempt-``, ``model/``...) where it can be part of a key: a literal with no whitespace
  (a key, a key's tail, a regex), or the word of an f-string that touches a placeholder
  (``f"{prefix}/state.json"``). Prose (help texts, messages, docstrings) is not flagged;
- ``split``/``rsplit``/``partition``/``rpartition`` on ``"/"`` of something named a key or
  a prefix, and ``key[len(prefix):]`` (taking a key apart).

A hit names file:line. The fix is a build/parse pair in ``store/layout.py``; ``EXCEPTIONS``
lists the few places whose text is not an S3 key, each with its reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "pitstop"
LAYOUT = SRC / "store" / "layout.py"

# names the bucket's layout (and a DRfC model prefix) is made of; each is in store/layout.py
MARKERS = (
    "state.json",
    "spec.json",
    "lease.json",
    "results.json",
    ".corrupt-",
    "custom_files/",
    "events/",
    "logs/",
    "index/",
    "claimable",
    "terminal/",
    "instances/",
    "jobs/",
    "inbox/",
    "processed/",
    "leaderboard/",
    "scripts/",
    "defaults/",
    "doctor/",
    "image-builder/",
    "models/",
    "attempt-",
    "model/",
    "metrics/",
    "TrainingMetrics",
    "evaluation-",
    ".coach_checkpoint",
    "deepracer_checkpoints",
    ".finished",
    "training-simtrace",
    "training_params",
)

# (path under src/pitstop, marker) -> why that text is not an S3 key. Keep this short.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("serve/server.py", "jobs/"): "the dashboard's URL routes (/api/jobs/ID/log), not keys",
    ("trainers/base.py", "attempt-"): "the trainer's local log file (STATE_DIR/jobs/JOB/)",
    ("trainers/processes.py", "attempt-"): "the simulated trainer's local exit-code file",
    ("trainers/drfc.py", "attempt-"): "local container-log files next to the trainer's log",
    ("fleet/logs.py", "attempt-"): "the trainer's log file on the instance, read over SSH",
    ("doctor/checks.py", "attempt-"): "the attempt's local log files, read by pitstop doctor",
    ("sweep.py", "results.json"): "a local output file of pitstop sweep",
    ("evaluation/tune_files.py", "results.json"): "a local output file of pitstop tune",
    ("supervisor/spot.py", "events/"): "an instance-metadata path (IMDS), not a key",
    ("trainers/simulated_run.py", "custom_files/"): "the reward file's path inside simapp's "
    "container, as its traceback prints it",
    ("core/records.py", "split"): "checks that a given model prefix is plain (no '..'); "
    "core imports nothing of pitstop's, so it cannot ask store/layout",
    # to switch (the supervisor's owner): Layout.attempt_of_log_file
}

_SPLITS = {"split", "rsplit", "partition", "rpartition"}
_KEYISH = re.compile(r"key|prefix", re.IGNORECASE)


def _docstrings(tree: ast.Module) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _word_at(text: str, start: int, end: int) -> tuple[int, int]:
    """The whitespace-free run of ``text`` around ``text[start:end]``."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _hits_in(text: str, placeholder_before: bool, placeholder_after: bool) -> list[str]:
    found = []
    prose = any(c.isspace() for c in text)
    for marker in MARKERS:
        for m in re.finditer(re.escape(marker), text):
            a, b = _word_at(text, m.start(), m.end())
            if (
                not prose
                or (a == 0 and placeholder_before)
                or (b == len(text) and placeholder_after)
            ):
                found.append(marker)
                break
    return found


def scan(path: Path) -> list[tuple[int, str, str]]:
    """(line, marker or 'split', text) for each key built or parsed by hand in ``path``."""
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree)
    # an f-string's text pieces -> (a placeholder right before, right after)
    sides: dict[int, tuple[bool, bool]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            vals = node.values
            for i, v in enumerate(vals):
                before = i > 0 and isinstance(vals[i - 1], ast.FormattedValue)
                after = i + 1 < len(vals) and isinstance(vals[i + 1], ast.FormattedValue)
                sides[id(v)] = (before, after)
    out: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            for marker in _hits_in(node.value, *sides.get(id(node), (False, False))):
                out.append((node.lineno, marker, node.value))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _SPLITS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "/"
            and _KEYISH.search(ast.unparse(node.func.value))
        ):
            out.append((node.lineno, "split", ast.unparse(node)))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Slice)
            and isinstance(node.slice.lower, ast.Call)
            and isinstance(node.slice.lower.func, ast.Name)
            and node.slice.lower.func.id == "len"
            and _KEYISH.search(ast.unparse(node.value))
        ):
            out.append((node.lineno, "slice", ast.unparse(node)))
    return out


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p != LAYOUT)


def test_no_module_but_layout_builds_or_parses_keys() -> None:
    leaks = []
    used: set[tuple[str, str]] = set()
    for path in _modules():
        rel = path.relative_to(SRC).as_posix()
        for line, marker, text in scan(path):
            if (rel, marker) in EXCEPTIONS:
                used.add((rel, marker))
                continue
            leaks.append(f"src/pitstop/{rel}:{line}: {marker!r} in {text!r}")
    assert leaks == [], (
        "S3 key formats outside store/layout.py (add a build/parse pair there and call it):\n"
        + "\n".join(leaks)
    )
    stale = sorted(set(EXCEPTIONS) - used)
    assert stale == [], f"exceptions that no longer match anything (remove them): {stale}"


def test_every_marker_is_a_name_of_the_layout() -> None:
    text = LAYOUT.read_text()
    assert [m for m in MARKERS if m not in text] == []


def test_the_scan_catches_the_usual_leaks(tmp_path: Path) -> None:
    sample = tmp_path / "leaky.py"
    sample.write_text(
        '"""Docstrings may say jobs/ID/state.json."""\n'
        "def f(prefix, key, job):\n"
        '    a = f"{prefix}/jobs/{job}/state.json"\n'
        '    b = prefix + "state.json"\n'
        '    c = key.rsplit("/", 1)[-1]\n'
        '    d = r"attempt-\\d+/[a-z]+"\n'
        '    e = f"{prefix}: no model/model_metadata.json"\n'
        '    g = "see jobs/ID/results.json for the laps"\n'
        "    h = key[len(prefix) :]\n"
        "    return a, b, c, d, e, g, h\n"
    )
    hits = {(line, marker) for line, marker, _ in scan(sample)}
    assert hits == {
        (3, "jobs/"),
        (3, "state.json"),
        (4, "state.json"),
        (5, "split"),
        (6, "attempt-"),
        (9, "slice"),
    }
