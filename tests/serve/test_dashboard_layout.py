"""The dashboard's layout in a real headless Chromium at 1280x900 (issue 27): on the queue,
a running job's page, an evaluation job's page, the leaderboard and the fleet, no element
overlaps a sibling or sticks out of its box, no table is wider than the viewport, and the
page says what it has (the waiting log, the laps, a stale supervisor). The data behind the
pages: tests/serve/test_server.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from pitstop.core.records import Attempt, Evaluation, JobStatus
from pitstop.core.states import JobState
from pitstop.core.times import utcnow
from pitstop.evaluation import laps, results
from pitstop.evaluation.jobs import collect_results, evaluation_spec, record_results
from pitstop.intake import Submission, build_spec, defaults
from pitstop.serve.data import Dashboard
from pitstop.serve.server import DashboardServer, make_server
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout, ModelKeys
from pitstop.store.objects import S3Store
from tests.e2e.harness import REWARD
from tests.serve.browser import CHROMIUM, Browser

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)

# every problem the page's geometry has, as one line each: a visible element that overlaps a
# sibling, sticks out of a parent that does not scroll, or holds content wider than itself;
# a table wider than the viewport; a page that scrolls sideways (uPlot's own absolutely
# placed layers are its business)
GEOMETRY = r"""
(() => {
  const out = [], vw = document.documentElement.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") +
    (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : "");
  const shown = (e) => {
    if (e.closest(".uplot") || e.closest("[hidden]")) return false;
    const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && cs.visibility !== "hidden" && cs.position !== "absolute";
  };
  const clips = (e) => { const cs = getComputedStyle(e); return cs.overflowX !== "visible" || cs.overflowY !== "visible"; };
  for (const p of [document.body, ...document.body.querySelectorAll("*")]) {
    if (p !== document.body && !shown(p)) continue;
    const pr = p.getBoundingClientRect();
    if (!clips(p) && p.clientWidth > 0 && p.scrollWidth > p.clientWidth + 1 && !["TABLE", "TBODY", "THEAD", "TR"].includes(p.tagName))
      out.push(name(p) + " holds content wider than itself (" + p.scrollWidth + " > " + p.clientWidth + ")");
    const kids = [...p.children].filter(shown);
    for (const k of kids) {
      const r = k.getBoundingClientRect();
      if (!clips(p) && (r.right > pr.right + 1 || r.left < pr.left - 1 || r.bottom > pr.bottom + 1))
        out.push(name(k) + " sticks out of " + name(p));
    }
    for (let i = 0; i < kids.length; i++) for (let j = i + 1; j < kids.length; j++) {
      const a = kids[i].getBoundingClientRect(), b = kids[j].getBoundingClientRect();
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 1 && h > 1) out.push(name(kids[i]) + " overlaps " + name(kids[j]));
    }
  }
  for (const t of document.querySelectorAll("table")) {
    const r = t.getBoundingClientRect();
    if (shown(t) && (r.width > vw + 0.5 || r.right > vw + 0.5)) out.push(name(t) + " is " + Math.round(r.width) + " px wide, wider than the " + vw + " px viewport");
  }
  if (document.scrollingElement.scrollWidth > vw + 1) out.push("the page scrolls sideways");
  return out;
})()
"""

# the page has drawn from the API (its status line says when)
UPDATED = "document.getElementById('status').textContent.startsWith('updated')"


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def jobs(s3_endpoint: str, bucket: str, settings_env: dict[str, str]) -> JobStore:
    return JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())


def _training(jobs: JobStore, name: str, source: str = "cli") -> str:
    sub = Submission(
        name=name, files={"reward_function.py": REWARD + name.encode(), **defaults()}, source=source
    )
    spec = build_spec(sub)
    jobs.create(spec, sub.files)
    return spec.id


def running_job(jobs: JobStore, checkpoints: int = 13) -> str:
    """A job training for 20 minutes in its second attempt, with ``checkpoints`` checkpoints
    and no log uploaded yet (times from now, not from the module's import: the page counts
    the running attempt up to its own now)."""
    t0 = datetime.now(timezone.utc) - timedelta(minutes=20)
    job_id = _training(jobs, "a running job with a rather long name to wrap")

    def running(s: JobStatus) -> JobStatus:
        s.state = JobState.RUNNING
        s.instance_id = "i-0123456789abcdef0"
        s.attempts = [
            Attempt(n=1, instance_id="i-0fedcba9876543210", model_prefix=f"models/{job_id}/attempt-1",
                    started_at=iso(t0 - timedelta(minutes=30)), ended_at=iso(t0 - timedelta(minutes=1)),
                    outcome="preempted", training_s=1740.0, last_checkpoint="3_Step-300000.ckpt"),
            Attempt(n=2, instance_id="i-0123456789abcdef0", model_prefix=f"models/{job_id}/attempt-2",
                    started_at=iso(t0), outcome="running", pretrained_checkpoint="3_Step-300000.ckpt"),
        ]  # fmt: skip
        return s

    jobs.update(job_id, running)
    for i in range(checkpoints):
        jobs.event(
            job_id,
            "run.checkpointed",
            at=t0 + timedelta(seconds=60 * (i + 1)),
            attempt=2,
            checkpoint=f"{i + 4}_Step-{(i + 4) * 100000}.ckpt",  # as long as real ones get
        )
    return job_id


def evaluation_job(jobs: JobStore, name: str, times: list[int]) -> str:
    spec = evaluation_spec(name, "Oval_track", Evaluation(model_prefix=f"models/{name}/attempt-1"))
    jobs.create(spec, {})
    prefix = f"models/{spec.id}/attempt-1"
    rows = [laps.Lap(n + 1, t, laps.LAP_COMPLETE, 0, 0, 100.0) for n, t in enumerate(times)]
    rows.append(laps.Lap(len(times) + 1, 9000, "off_track", 1, 2, 41.5))
    jobs.store.put(
        ModelKeys(prefix).evaluation_metrics(1), json.dumps(results.metrics_doc(rows, 0)).encode()
    )
    done = JobStatus(
        id=spec.id,
        attempts=[Attempt(n=1, model_prefix=prefix, ended_at=iso(utcnow()))],
    )
    record_results(jobs, collect_results(jobs, spec, done, utcnow()))

    def succeeded(s: JobStatus) -> JobStatus:
        s.state = JobState.SUCCEEDED
        s.attempts = done.attempts
        return s

    jobs.update(spec.id, succeeded)
    return spec.id


@pytest.fixture
def site(jobs: JobStore) -> Iterator[tuple[DashboardServer, dict[str, str]]]:
    made = {
        "running": running_job(jobs),
        "tune": _training(jobs, "tune x2.69", source="tune"),
        "evaluation": evaluation_job(jobs, "eval-of-a-model-with-a-long-name", [19000, 25000, 21500]),
        "evaluation2": evaluation_job(jobs, "another-evaluation", [20000]),
    }  # fmt: skip
    for n in range(2):  # a supervisor silent for longer than 3 heartbeat intervals
        jobs.store.put(
            jobs.layout.instance(f"i-stale{n}"),
            json.dumps(
                {
                    "instance_id": f"i-stale{n}",
                    "state": "idle",
                    "at": iso(utcnow() - timedelta(minutes=20)),
                }
            ).encode(),
        )
    # heartbeats every 0.01 s: a heartbeat is stale after 0.03 s
    dash = Dashboard(jobs, spot_price=0.35, heartbeat_interval_s=0.01, min_refresh_s=0.0)
    srv = make_server(dash, "127.0.0.1", 0, jobs.store.bucket, token="t0ken")
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv, made
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    b = Browser(1280, 900)
    yield b
    b.close()


def _layout(browser: Browser, url: str, ready: str, what: str) -> None:
    browser.open(url)
    browser.wait_until(f"!!(({UPDATED}) && ({ready}))", 10, what)
    problems = browser.evaluate(GEOMETRY)
    assert problems == [], f"{url}:\n" + "\n".join(problems)


def test_queue_fits_1280_and_groups_jobs_by_kind(
    site: tuple[DashboardServer, dict[str, str]], browser: Browser
) -> None:
    srv, made = site
    _layout(
        browser, srv.url, "document.querySelectorAll('#jobs tr[data-job]').length === 4", "rows"
    )
    kinds = browser.evaluate(
        "[...document.querySelectorAll('#jobs section.kind:not([hidden])')].map((s) =>"
        " [s.dataset.kind, [...s.querySelectorAll('tr[data-job]')].map((r) => r.dataset.job)])"
    )
    assert [(k, set(ids)) for k, ids in kinds] == [
        ("training", {made["running"]}),
        ("tune", {made["tune"]}),
        ("evaluation", {made["evaluation"], made["evaluation2"]}),
    ]
    # cost and created are on screen, not cut
    right = browser.evaluate(
        "Math.max(...[...document.querySelectorAll('#jobs th')].map((t) => t.getBoundingClientRect().right))"
    )
    assert right <= 1280


def test_running_job_page_fits_and_its_facts_agree_with_its_checkpoints(
    site: tuple[DashboardServer, dict[str, str]], browser: Browser
) -> None:
    srv, made = site
    _layout(
        browser,
        f"{srv.url}jobs/{made['running']}",
        "document.querySelectorAll('#checkpoints li').length === 13",
        "13 checkpoints",
    )
    facts = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#facts div')].map((d) =>"
        " [d.querySelector('b').textContent, d.lastChild.textContent]))"
    )
    assert facts["last checkpoint"] == "16_Step-1600000.ckpt", facts
    # 29 minutes of attempt 1, and 20 of the running attempt 2
    assert facts["trained"] in ("49 min", "50 min"), facts
    first = browser.evaluate("document.querySelector('#checkpoints li').textContent")
    assert first.startswith("16_Step-1600000.ckpt"), first  # newest first
    log = browser.evaluate("document.getElementById('log').textContent")
    assert "waiting for the first upload" in log


def test_evaluation_job_page_shows_its_laps(
    site: tuple[DashboardServer, dict[str, str]], browser: Browser
) -> None:
    srv, made = site
    _layout(
        browser,
        f"{srv.url}jobs/{made['evaluation']}",
        "document.querySelectorAll('#laps tbody tr').length === 4",
        "four laps",
    )
    laps_shown = browser.evaluate(
        "[...document.querySelectorAll('#laps tbody tr')].map((r) => r.children[1].textContent)"
    )
    assert laps_shown == ["19.000", "25.000", "21.500", "9.000"]
    assert browser.evaluate("document.getElementById('chart-section').hidden") is True
    assert "no episodes yet" not in browser.evaluate("document.body.textContent")


def test_leaderboard_fits_with_its_evaluation_column(
    site: tuple[DashboardServer, dict[str, str]], browser: Browser
) -> None:
    srv, _made = site
    _layout(
        browser,
        f"{srv.url}leaderboard",
        "document.querySelector('table.board tbody tr')",
        "a board",
    )
    right = browser.evaluate(
        "Math.max(...[...document.querySelectorAll('table.board td:last-child a')].map((a) =>"
        " a.getBoundingClientRect().right))"
    )
    assert 0 < right <= 1280


def test_fleet_marks_stale_supervisors(
    site: tuple[DashboardServer, dict[str, str]], browser: Browser
) -> None:
    srv, _ = site
    _layout(
        browser,
        f"{srv.url}fleet",
        "document.querySelectorAll('[data-stale]').length === 2",
        "stale",
    )
    assert browser.evaluate("document.querySelector('[data-stale]').textContent") == "stale (idle)"
    assert "2 stale" in browser.evaluate("document.getElementById('summary').textContent")


def test_unknown_job_is_a_404_page_with_a_link_back(
    site: tuple[DashboardServer, dict[str, str]], browser: Browser
) -> None:
    srv, _ = site
    browser.open(f"{srv.url}jobs/nosuchjob")
    browser.wait_until("!!document.getElementById('not-found')", 10, "the 404 page")
    assert browser.evaluate("document.querySelector('main a').getAttribute('href')") == "/"
    assert browser.evaluate(GEOMETRY) == []
