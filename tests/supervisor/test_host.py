"""The instance's kernel messages (``supervisor/host.py``), read through a stand-in
``journalctl`` on PATH (a real child process): what it is asked, and that no failure of it
is ever an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pitstop.core.failures import FailureKind, Leftovers, classify
from pitstop.supervisor import host

XID = "NVRM: Xid (PCI:0000:00:1e): 79, pid=2211, GPU has fallen off the bus."


def fake_journalctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "journalctl"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return tmp_path / "args"


def test_kernel_messages_since_the_attempt_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = fake_journalctl(tmp_path, monkeypatch, f'echo "$@" > {tmp_path}/args\necho "{XID}"\n')
    text = host.kernel_messages(1764892800.7)
    assert XID in text
    assert args.read_text().split() == [
        "-k", "-o", "cat", "--no-pager", "-n", "500", "--since", "@1764892800",
    ]  # fmt: skip
    # and what it said classifies the attempt
    d = classify(Leftovers(exit_code=137, host=text))
    assert d.kind is FailureKind.INFRASTRUCTURE and d.signature == "gpu_xid"


@pytest.mark.parametrize(
    "body",
    [
        "echo 'Failed to get journal access' >&2\nexit 1\n",  # no permission, no journal
        "exec sleep 30\n",  # hangs: given up after the timeout
    ],
)
def test_a_failing_or_hanging_journal_is_no_evidence(
    body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_journalctl(tmp_path, monkeypatch, body)
    monkeypatch.setattr(host, "TIMEOUT_S", 0.5)
    assert host.kernel_messages(0.0) == ""


def test_no_journalctl_is_no_evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert host.kernel_messages(0.0) == ""
