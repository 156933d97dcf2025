"""Values a shell completes (argcomplete's completers): job ids from the bucket's listing,
world names from the bundled list. A completer never fails the shell: no settings, no
bucket, no network: no candidates."""

from __future__ import annotations

from typing import Any

MAX_CANDIDATES = 500


def job_ids(prefix: str, parsed_args: Any = None, **_: Any) -> list[str]:
    """Job ids starting with ``prefix``: one listing of the job index (per 1,000 jobs)."""
    try:
        from pitstop.config import load_settings
        from pitstop.store.jobs import JobStore
        from pitstop.store.layout import Layout
        from pitstop.store.listing import read_keys
        from pitstop.store.objects import S3Store

        # the settings the command line names so far (as the command itself would read them)
        settings = load_settings(
            getattr(parsed_args, "config", None),
            flags=True,
            bucket=getattr(parsed_args, "bucket", None),
        )
        jobs = JobStore(S3Store.from_settings(settings), Layout(settings.prefix))
        ids = sorted(read_keys(jobs))
    except Exception:  # a completer that raises prints a traceback into the user's prompt
        return []
    return [j for j in ids if j.startswith(prefix)][:MAX_CANDIDATES]


def worlds(prefix: str, **_: Any) -> list[str]:
    """World names starting with ``prefix`` (``pitstop worlds``'s list)."""
    from pitstop.tracks.worlds import known_worlds

    return [w for w in known_worlds() if w.startswith(prefix)]


def attach(action: Any, flags: tuple[str, ...], kwargs: dict[str, Any]) -> None:
    """Give an argument naming a job or a world its completer."""
    metavar = kwargs.get("metavar")
    if metavar == "JOB_ID" or flags in (("job_id",), ("--job",), ("model",)):
        action.completer = job_ids
    elif metavar == "WORLD" or "--world" in flags or flags == ("world",):
        action.completer = worlds
