"""Tables fit the terminal (cut with an ellipsis), colour only on a terminal and never with
NO_COLOR, plain and stable when piped."""

from __future__ import annotations

import io

import pytest

from pitstop.cli.output import Table, format_table, print_table, short_time, show, state_style

HEADERS = ["JOB", "STATE", "REASON"]
ROWS = [["a-job", "failed", "restart budget of 10 spent; last failure: trainer exited " * 2]]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_table_is_cut_to_the_width_with_an_ellipsis() -> None:
    text = format_table(HEADERS, ROWS, width=60)
    lines = text.splitlines()
    assert all(len(line) <= 60 for line in lines), lines
    assert lines[1].endswith("…") and lines[1].startswith("a-job  failed")


def test_without_a_width_nothing_is_cut() -> None:
    assert ROWS[0][2].strip() in format_table(HEADERS, ROWS)


def test_piped_output_is_plain_and_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "40")
    pipe = io.StringIO()
    print_table(HEADERS, ROWS, styles={1: state_style}, stream=pipe)
    assert "\033[" not in pipe.getvalue() and ROWS[0][2].strip() in pipe.getvalue()


def test_a_terminal_gets_its_width_and_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "50")
    tty = Tty()
    print_table(HEADERS, ROWS, styles={1: state_style}, stream=tty)
    text = tty.getvalue()
    assert "\033[31mfailed\033[0m" in text  # failed in red
    visible = text.replace("\033[31m", "").replace("\033[1m", "").replace("\033[0m", "")
    assert all(len(line) <= 50 for line in visible.splitlines())


def test_no_color_turns_colour_off_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    tty = Tty()
    print_table(HEADERS, ROWS, styles={1: state_style}, stream=tty)
    assert "\033[" not in tty.getvalue()


def test_show_prints_the_document_with_json_else_each_part(
    capsys: pytest.CaptureFixture[str],
) -> None:
    show(True, [{"id": "a"}], "never", Table(HEADERS, [], "no jobs"))
    assert capsys.readouterr().out == '[\n  {\n    "id": "a"\n  }\n]\n'
    show(False, [], "2 lines", None, Table(HEADERS, [], "no jobs"), lambda: print("done"))
    assert capsys.readouterr().out == "2 lines\nno jobs\ndone\n"


def test_short_time() -> None:
    assert short_time("2026-11-22T04:31:59.008Z") == "2026-11-22 04:31:59"
    assert short_time(None) is None
