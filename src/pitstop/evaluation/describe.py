"""Evaluations in words: the laps and summary line of ``pitstop results``, and the rows of
``pitstop models`` and ``pitstop leaderboard``. Pure: records in, text out; printing is the
CLI's, and the records themselves are the ``--json`` documents."""

from __future__ import annotations

from pitstop.evaluation.board import Entry, Model
from pitstop.evaluation.results import Results
from pitstop.tables import seconds

LAP_HEADERS = ["trial", "time s", "status", "resets", "off-tracks", "completion %"]
MODEL_HEADERS = ["model (job)", "state", "best checkpoint", "last checkpoint", "best laps"]
BOARD_HEADERS = ["rank", "lap s", "resets", "model", "checkpoint", "speed", "evaluation"]


def lap_rows(res: Results) -> list[list[object]]:
    return [
        [r.trial, seconds(r.time_ms), r.status, r.resets, r.off_tracks, f"{r.completion:g}"]
        for r in res.laps
    ]


def results_line(res: Results) -> str:
    """The model, world and speed evaluated; best, mean and median lap; laps complete."""
    s = res.summary
    return (
        f"{res.world}, {res.checkpoint} of {res.model_job or res.model_prefix}"
        f" (speed x{res.speed_scale:g}): best {seconds(s.best_ms)} s, mean {seconds(s.mean_ms)} s,"
        f" median {seconds(s.median_ms)} s, {s.complete}/{s.laps} laps complete"
        f" ({100 * s.completion_rate:.0f} %), {s.off_tracks} off-track"
    )


def model_rows(found: list[Model]) -> list[list[object]]:
    return [
        [m.job_id, m.state, m.best_checkpoint or "-", m.last_checkpoint or "-",
         ", ".join(f"{w} {seconds(t)} s" for w, t in sorted(m.best_laps.items())) or "-"]
        for m in found
    ]  # fmt: skip


def board_rows(board: list[Entry]) -> list[list[object]]:
    return [
        [e.rank, seconds(e.lap_ms), e.resets, e.model, e.checkpoint or "-", f"x{e.speed_scale:g}", e.job_id]
        for e in board
    ]  # fmt: skip
