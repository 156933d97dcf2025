"""The dashboard's HTTP side in-process (fast): routes, assets, guards, bad input; and the
``pitstop jobs`` options that read the listing. The whole system: tests/e2e/test_dashboard.py.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pitstop.cli.main import main
from pitstop.intake import Submission, build_spec, defaults
from pitstop.serve.data import Dashboard
from pitstop.serve.server import DashboardServer, make_server
from pitstop.store.jobs import JobStore
from pitstop.store.layout import Layout
from pitstop.store.objects import S3Store
from tests.e2e.harness import REWARD
from tests.helpers import wait_for


@pytest.fixture
def jobs(s3_endpoint: str, bucket: str, settings_env: dict[str, str]) -> JobStore:
    return JobStore(S3Store(bucket, region="us-east-1", endpoint_url=s3_endpoint), Layout())


def _make(jobs: JobStore, name: str) -> str:
    sub = Submission(name=name, files={"reward_function.py": REWARD + name.encode(), **defaults()})
    spec = build_spec(sub)
    jobs.create(spec, sub.files)
    return spec.id


@pytest.fixture
def server(jobs: JobStore) -> Iterator[DashboardServer]:
    srv = make_server(Dashboard(jobs), "127.0.0.1", 0, jobs.store.bucket, token="t0ken")
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _get(
    srv: DashboardServer, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(srv.url.rstrip("/") + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_pages_and_local_assets(server: DashboardServer, jobs: JobStore) -> None:
    job_id = _make(jobs, "alpha")
    for path in ("/", "/fleet", f"/jobs/{job_id}"):
        status, headers, body = _get(server, path)
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b"/static/uPlot.iife.min.js" in body and b"http" not in body.split(b"<body")[0]
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = _get(server, "/static/uPlot.iife.min.js")
    assert status == 200 and body.startswith(b"/*! https://github.com/leeoniya/uPlot")
    assert "javascript" in headers["Content-Type"]
    assert _get(server, "/static/uPlot-LICENSE.txt")[0] == 200
    for bad in ("/static/../__init__.py", "/static/.hidden", "/static/nope.js", "/nope"):
        assert _get(server, bad)[0] == 404, bad


def test_api_reads_and_one_line_errors(server: DashboardServer, jobs: JobStore) -> None:
    job_id = _make(jobs, "alpha")
    status, _, body = _get(server, "/api/jobs")
    doc = json.loads(body)
    assert status == 200 and [(j["id"], j["state"], j["name"]) for j in doc["jobs"]] == [
        (job_id, "pending", "alpha")
    ]
    status, _, body = _get(server, f"/api/jobs/{job_id}")
    doc = json.loads(body)
    assert status == 200 and doc["job"]["id"] == job_id and doc["series"] == []
    cases: list[tuple[str, int]] = [
        ("/api/jobs/nosuchjob", 404),
        ("/api/jobs/Bad%20Id", 400),
        ("/api/jobs?state=nope", 400),
        (f"/api/jobs/{job_id}/log?name=../../etc/passwd", 400),
        (f"/api/jobs/{job_id}/log?name=attempt-1/trainer.log&offset=x", 400),
        (f"/api/jobs/{job_id}/cancel", 405),
    ]
    for path, code in cases:
        status, _, body = _get(server, path)
        err = json.loads(body)["error"]
        assert status == code and "\n" not in err, (path, status, err)
    status, _, body = _get(server, f"/api/jobs/{job_id}/log?name=attempt-1/trainer.log")
    assert status == 200 and json.loads(body)["missing"] is True


def test_cancel_needs_the_token_and_a_loopback_host(
    server: DashboardServer, jobs: JobStore
) -> None:
    job_id = _make(jobs, "alpha")
    path = f"/api/jobs/{job_id}/cancel"
    assert _get(server, path, "POST")[0] == 403
    assert _get(server, path, "POST", {"X-Pitstop-Token": "t0ke"})[0] == 403
    wrong_host = {"X-Pitstop-Token": "t0ken", "Host": "attacker.example"}
    assert _get(server, path, "POST", wrong_host)[0] == 403
    assert jobs.status(job_id)[0].state.value == "pending"
    status, _, body = _get(server, path, "POST", {"X-Pitstop-Token": "t0ken"})
    assert status == 200 and json.loads(body)["state"] == "cancelled"
    assert _get(server, "/api/jobs", headers={"Host": "localhost:1"})[0] == 200
    # again, on the ended job: said, not an error (as `pitstop cancel` says it)
    status, _, body = _get(server, path, "POST", {"X-Pitstop-Token": "t0ken"})
    assert status == 200
    assert json.loads(body) == {"id": job_id, "state": "cancelled", "cancel_requested": False}
    events = [e["event"] for e in jobs.events(job_id)]
    assert events.count("job.cancel_requested") == 1  # the second cancel wrote nothing


def test_pitstop_jobs_state_filter_and_reindex(
    jobs: JobStore, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _make(jobs, "alpha"), _make(jobs, "beta")
    assert main(["cancel", b]) == 0
    capsys.readouterr()
    assert main(["jobs", "--json", "--state", "cancelled"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [b]
    assert main(["jobs", "--reindex"]) == 0
    out = capsys.readouterr().out
    assert "listing index: 0 key(s) written, 0 deleted" in out and a in out
    assert main(["jobs", "--state", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'bogus': not a job state" in err


def test_serve_refuses_a_taken_port_in_one_line(
    server: DashboardServer, capsys: pytest.CaptureFixture[str]
) -> None:
    port = server.server_address[1]
    assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


def test_pages_polling_together_share_one_listing(jobs: JobStore) -> None:
    a = _make(jobs, "alpha")
    dash = Dashboard(jobs, scan_interval_s=3600, min_refresh_s=60)
    store: S3Store = jobs.store  # type: ignore[assignment]
    store.requests.clear()
    for _ in range(5):
        assert [j["id"] for j in dash.queue()["jobs"]] == [a]
    # index/jobs/ and jobs/, once; the job's spec once, for its kind (remembered)
    assert dict(store.requests) == {"list_objects_v2": 2, "get_object": 1}
    store.requests.clear()
    dash.min_refresh_s = 0.0
    dash.queue()
    assert dict(store.requests) == {"list_objects_v2": 1}  # the kind is remembered
    dash.cancel(a)  # a write shows at the next refresh
    assert [j["state"] for j in dash.queue()["jobs"]] == ["cancelled"]


def test_job_curves_sit_on_one_time_axis_with_preemptions_marked(jobs: JobStore) -> None:
    import json as _json
    from datetime import datetime, timezone

    from pitstop.core.records import Attempt, JobStatus
    from pitstop.core.states import JobState
    from pitstop.store.layout import ModelKeys

    a = _make(jobs, "alpha")
    t0 = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc).timestamp()

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")

    def two_attempts(s: JobStatus) -> JobStatus:
        s.state = JobState.SUCCEEDED
        s.attempts = [
            Attempt(n=1, model_prefix=f"models/{a}/attempt-1", started_at=iso(t0),
                    ended_at=iso(t0 + 600), outcome="preempted"),
            Attempt(n=2, model_prefix=f"models/{a}/attempt-2", started_at=iso(t0 + 700),
                    ended_at=iso(t0 + 1300), outcome="succeeded"),
        ]  # fmt: skip
        return s

    jobs.update(a, two_attempts)
    # attempt 1's metrics carry wall times (simapp: epoch ms); attempt 2's do not
    m1 = [{"metric_time": int((t0 + 100 * i) * 1000), "reward_score": i, "completion_percentage": 10 * i,
           "phase": "training"} for i in (1, 2, 3)]  # fmt: skip
    m2 = [{"reward_score": 9, "completion_percentage": 90, "phase": "training"}] * 2
    for n, m in ((1, m1), (2, m2)):
        jobs.store.put(
            ModelKeys(f"models/{a}/attempt-{n}").metrics, _json.dumps({"metrics": m}).encode()
        )
    jobs.event(a, "run.preempted", at=datetime.fromtimestamp(t0 + 600, timezone.utc), attempt=1)
    doc = Dashboard(jobs).job(a)
    s1, s2 = doc["series"]
    assert [p[0] for p in s1["points"]] == [t0 + 100, t0 + 200, t0 + 300]
    assert [p[1:] for p in s1["points"]] == [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]
    assert [p[0] for p in s2["points"]] == [t0 + 900, t0 + 1100]  # spread over the attempt
    assert [(m["kind"], m["t"]) for m in doc["markers"]] == [("preemption", t0 + 600)]
    assert doc["instance_hours"] == round(1200 / 3600, 4)


def _read_reply(c: Any) -> str:
    """One whole HTTP reply: headers and body can arrive in separate packets."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    while m and len(body) < int(m.group(1)):
        chunk = c.recv(4096)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


def test_a_malformed_request_is_one_line_and_the_server_goes_on(
    server: DashboardServer, jobs: JobStore
) -> None:
    import socket

    a = _make(jobs, "alpha")
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as c:
        c.sendall(
            f"POST /api/jobs/{a}/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "X-Pitstop-Token: t0ken\r\nContent-Length: lots\r\n\r\n".encode()
        )
        reply = _read_reply(c)
    assert reply.startswith("HTTP/1.1 400") and "Content-Length must be a number" in reply
    assert _get(server, "/api/jobs")[0] == 200
    assert jobs.status(a)[0].state.value == "pending"


def test_leaderboard_page_and_api_rank_each_worlds_evaluations(
    server: DashboardServer, jobs: JobStore, tmp_path: Path
) -> None:
    from pitstop.core.records import Attempt, Evaluation, JobStatus
    from pitstop.core.times import utcnow
    from pitstop.evaluation import laps, results
    from pitstop.evaluation.jobs import collect_results, evaluation_spec, record_results
    from pitstop.store.layout import ModelKeys

    status, _, body = _get(server, "/api/leaderboard")
    assert status == 200 and json.loads(body) == {"boards": []}
    made = []
    for i, times in enumerate([[21000, 20000], [19000, 25000]]):
        spec = evaluation_spec(
            f"board{i}", "Oval_track", Evaluation(model_prefix=f"models/m{i}/attempt-1")
        )
        jobs.create(spec, {})
        prefix = f"models/{spec.id}/attempt-1"
        rows = [laps.Lap(n + 1, t, laps.LAP_COMPLETE, 0, 0, 100.0) for n, t in enumerate(times)]
        jobs.store.put(
            ModelKeys(prefix).evaluation_metrics(1),
            json.dumps(results.metrics_doc(rows, 0)).encode(),
        )
        done = JobStatus(
            id=spec.id,
            attempts=[Attempt(n=1, model_prefix=prefix, ended_at="2026-01-01T00:00:00.000Z")],
        )
        record_results(jobs, collect_results(jobs, spec, done, utcnow()))
        made.append(spec.id)
    status, _, body = _get(server, "/api/leaderboard")
    (board,) = json.loads(body)["boards"]
    assert board["world"] == "Oval_track"
    assert [(e["rank"], e["job_id"], e["lap_ms"]) for e in board["entries"]] == [
        (1, made[1], 19000),
        (2, made[0], 20000),
    ]
    assert board["entries"][0]["laps_ms"] == [19000, 25000]
    status, _, page = _get(server, "/leaderboard")
    assert status == 200 and b'id="boards"' in page and b'href="/leaderboard"' in page
    # the page's script draws the board from the API (a real headless Chromium)
    from tests.e2e.test_dashboard import CHROMIUM, chromium

    if CHROMIUM is None:
        return
    import re

    shot = tmp_path / "leaderboard.png"
    dom = chromium(server.url.rstrip("/") + "/leaderboard", shot=shot)
    ranked = re.findall(r'<tr data-job="([^"]+)"><td>(\d)</td><td>([\d.]+)</td>', dom)
    assert ranked == [(made[1], "1", "19.000"), (made[0], "2", "20.000")], dom[-3000:]
    assert "19.000  25.000" in dom


# -- hostile data and hostile clients ----------------------------------------------------------


def _strict(body: bytes) -> Any:
    """JSON as a browser reads it: NaN and Infinity are not JSON."""

    def refuse(word: str) -> Any:
        raise AssertionError(f"{word} in a JSON answer")

    return json.loads(body, parse_constant=refuse)


def test_non_finite_numbers_from_s3_are_null_in_every_answer(
    server: DashboardServer, jobs: JobStore, tmp_path: Path
) -> None:
    from pitstop.core.records import Attempt, JobStatus
    from pitstop.store.layout import ModelKeys

    a = _make(jobs, "alpha")

    def one_attempt(s: JobStatus) -> JobStatus:
        s.attempts = [
            Attempt(n=1, model_prefix=f"models/{a}/attempt-1", started_at="2026-01-01T10:00:00Z",
                    ended_at="2026-01-01T10:10:00Z", outcome="preempted"),
        ]  # fmt: skip
        return s

    jobs.update(a, one_attempt)
    metrics = (  # as written by a trainer that printed Python's floats
        b'{"metrics": ['
        b'{"reward_score": NaN, "completion_percentage": 50, "phase": "training"},'
        b'{"reward_score": 1.5, "completion_percentage": Infinity, "phase": "training"},'
        b'{"reward_score": -Infinity, "completion_percentage": 1e999, "phase": "training",'
        b' "metric_time": Infinity}]}'
    )
    jobs.store.put(ModelKeys(f"models/{a}/attempt-1").metrics, metrics)
    jobs.store.put(
        jobs.layout.instance("i-nan"),
        b'{"instance_id": "i-nan", "job_id": null, "progress": NaN, "episodes": [Infinity, 2]}',
    )
    status, headers, body = _get(server, f"/api/jobs/{a}")
    assert status == 200 and headers["Content-Type"] == "application/json", body[:300]
    (series,) = _strict(body)["series"]
    assert [p[1:] for p in series["points"]] == [[None, 50.0], [1.5, None], [None, None]]
    status, _, body = _get(server, "/api/fleet")
    (hb,) = _strict(body)["instances"]
    assert status == 200 and hb["progress"] is None and hb["episodes"] == [None, 2]
    for path in ("/api/jobs", "/api/leaderboard"):
        status, _, body = _get(server, path)
        assert status == 200 and _strict(body), path
    # the one writer of answers: anything non-finite is null; tuples are lists
    from pitstop.serve.server import to_json

    nan, inf = float("nan"), float("inf")
    assert to_json({"a": [nan, (1.0, -inf)], "b": {"c": inf}}) == (
        b'{"a": [null, [1.0, null]], "b": {"c": null}}'
    )
    # and the job page draws its chart from it (a real headless Chromium)
    from tests.e2e.test_dashboard import CHROMIUM, chromium

    if CHROMIUM is None:
        return
    dom = chromium(server.url.rstrip("/") + f"/jobs/{a}")
    assert 'data-points="3"' in dom and "<canvas" in dom, dom[-3000:]
    assert 'class="status err"' not in dom, dom[-3000:]


def _threads_besides(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before]


def _dropped(c: Any, timeout: float) -> bool:
    """The server closed ``c`` (EOF or reset) within ``timeout``; a 503 reply may come first,
    never any other answer."""
    c.settimeout(timeout)
    data = b""
    try:
        while chunk := c.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    assert not data or data.startswith(b"HTTP/1.1 503 "), data[:200]
    return True


@pytest.mark.slow
def test_800_half_sent_requests_do_not_make_800_threads(jobs: JobStore) -> None:
    import socket

    before = set(threading.enumerate())
    srv = make_server(
        Dashboard(jobs), "127.0.0.1", 0, jobs.store.bucket, workers=4, read_timeout_s=2.0
    )
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    host, port = srv.server_address[:2]
    half = b"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n"  # no blank line
    conns = []
    try:
        for _ in range(800):
            c = socket.create_connection((str(host), int(port)), timeout=30)
            c.sendall(half)
            conns.append(c)
        # the serving thread and the 4 workers, however many connections wait
        assert len(_threads_besides(before)) <= 1 + 4, _threads_besides(before)

        # a whole request is answered while they are still open (it waits for a worker,
        # or is refused while every worker and the queue are taken: then it tries again)
        def answered() -> bool:
            try:
                return _get(srv, "/api/jobs")[0] == 200
            except OSError:
                return False

        wait_for(answered, 60, "a whole request to be answered")
        # each half-sent request is dropped: after the read timeout, or refused at once
        for c in conns:
            assert _dropped(c, 60), "a half-sent request was held past its read timeout"
        assert srv.refused > 0
        assert len(_threads_besides(before)) <= 1 + 4, _threads_besides(before)
    finally:
        for c in conns:
            c.close()
        srv.shutdown()
        srv.server_close()


def test_a_post_whose_body_never_comes_is_dropped_and_frees_its_worker(jobs: JobStore) -> None:
    import socket
    import time

    a = _make(jobs, "alpha")
    srv = make_server(
        Dashboard(jobs), "127.0.0.1", 0, jobs.store.bucket, "t0ken", workers=1, read_timeout_s=1.0
    )
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    host, port = srv.server_address[:2]
    try:
        started = time.monotonic()
        with socket.create_connection((str(host), int(port)), timeout=30) as c:
            c.sendall(
                f"POST /api/jobs/{a}/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "X-Pitstop-Token: t0ken\r\nContent-Length: 100\r\n\r\n0123456789".encode()
            )
            reply = _read_reply(c)
            assert c.recv(1) == b""  # and closed
        assert reply.startswith("HTTP/1.1 408 "), reply
        assert "did not arrive in time" in reply and time.monotonic() - started >= 1.0
        assert jobs.status(a)[0].state.value == "pending"
        # the only worker is free again
        assert _get(srv, "/api/jobs")[0] == 200
        # a request trickled in a byte at a time is cut at the deadline too (a timeout per
        # read would wait for ever: each byte comes in time)
        stop = threading.Event()
        with socket.create_connection((str(host), int(port)), timeout=30) as c:
            c.sendall(b"GET /api/jobs HTTP/1.1\r\n")

            def trickle() -> None:
                try:
                    while not stop.wait(0.05):
                        c.sendall(b"X")
                except OSError:
                    pass

            w = threading.Thread(target=trickle, daemon=True)
            w.start()
            try:
                assert _dropped(c, 30), "a trickled request was held past its read timeout"
            finally:
                stop.set()
                w.join(10)
        assert _get(srv, "/api/jobs")[0] == 200
    finally:
        srv.shutdown()
        srv.server_close()


def test_serve_options_for_the_limits_are_bounded(
    jobs: JobStore, capsys: pytest.CaptureFixture[str]
) -> None:
    from pitstop.serve.server import DashboardServer

    for args in (["--workers", "0"], ["--workers", "257"], ["--read-timeout", "nan"],
                 ["--read-timeout", "0.5"], ["--read-timeout", "inf"]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            main(["serve", *args])
        assert e.value.code == 2
        assert "must be between" in capsys.readouterr().err, args
    with pytest.raises(ValueError):
        DashboardServer(("127.0.0.1", 0), Dashboard(jobs), "t", "b", workers=0)
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--workers requests are served at once" in help_text and "503" in help_text
    assert "within --read-timeout seconds" in help_text


# -- what the pages show agrees with itself (issue 27) ---------------------------------------


def test_a_running_job_counts_its_training_and_shows_its_newest_checkpoint(
    jobs: JobStore,
) -> None:
    from pitstop.core.times import parse_iso
    from tests.serve.test_dashboard_layout import running_job

    job_id = running_job(jobs, checkpoints=13)
    doc = Dashboard(jobs).job(job_id)
    assert len(doc["checkpoints"]) == 13
    assert doc["last_checkpoint"] == "16_Step-1600000.ckpt"  # the newest, not the attempt's "-"
    started = jobs.status(job_id)[0].attempts[-1].started_at
    assert started is not None
    running_s = doc["now"] - parse_iso(started).timestamp()
    assert doc["trained_s"] == pytest.approx(1740.0 + running_s, abs=2)  # attempt 1 + now
    assert doc["kind"] == "training" and doc["laps"] is None


def test_trained_and_newest_checkpoint_rules() -> None:
    from pitstop.core.records import Attempt
    from pitstop.serve.data import newest_checkpoint, trained_s

    done = Attempt(
        n=1,
        model_prefix="m/1",
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T01:00:00Z",
        training_s=3000.0,
        last_checkpoint="a",
    )
    live = Attempt(n=2, model_prefix="m/2", started_at="2026-01-01T02:00:00Z")  # fmt: skip
    start2 = datetime(2026, 1, 1, 2, tzinfo=timezone.utc).timestamp()
    assert trained_s([done], start2) == 3000.0
    assert trained_s([done, live], start2 + 600) == 3600.0
    assert trained_s([done, live], start2 - 60) == 3000.0  # a clock behind: never negative
    assert newest_checkpoint([], [done, live]) == "a"
    events = [{"t": 2.0, "checkpoint": "new"}, {"t": 1.0, "checkpoint": "old"}]
    assert newest_checkpoint(events, [done, live]) == "new"
    assert newest_checkpoint([], []) is None


def test_an_evaluation_job_gives_its_laps_and_the_queue_its_kind(jobs: JobStore) -> None:
    from pitstop.core.records import Evaluation
    from pitstop.evaluation.jobs import evaluation_spec
    from tests.serve.test_dashboard_layout import _training, evaluation_job

    ev = evaluation_job(jobs, "lapper", [19000, 25000])
    tune = _training(jobs, "candidate", source="tune")
    spec = evaluation_spec(
        "sweep-x2.69-1", "Oval_track", Evaluation(model_prefix="m/1"), source="tune"
    )
    jobs.create(spec, {})
    train = _training(jobs, "plain")
    dash = Dashboard(jobs)
    doc = dash.job(ev)
    assert doc["kind"] == "evaluation"
    assert [(lap["time_ms"], lap["complete"]) for lap in doc["laps"]] == [
        (19000, True),
        (25000, True),
        (9000, False),
    ]
    kinds = {j["id"]: j["kind"] for j in dash.queue()["jobs"]}
    assert kinds == {ev: "evaluation", tune: "tune", spec.id: "tune", train: "training"}
    assert dash.job(spec.id)["laps"] == []  # a tune candidate is an evaluation: laps, none yet


def test_an_unknown_job_is_a_404_page_with_a_link_back(
    server: DashboardServer, jobs: JobStore
) -> None:
    status, headers, body = _get(server, "/jobs/nosuchjob")
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    assert b'<a href="/">' in body and b"no job &#39;nosuchjob&#39;" in body
    assert b"data-job" not in body  # not an empty job page
    status, headers, body = _get(server, "/nope")
    assert status == 404 and b'<a href="/">' in body
    assert _get(server, "/api/nope")[0] == 404  # the API still answers JSON
    assert json.loads(_get(server, "/api/jobs/nosuchjob")[2])["error"]
    job_id = _make(jobs, "alpha")
    assert _get(server, f"/jobs/{job_id}")[0] == 200


def test_a_silent_supervisor_is_stale_after_three_heartbeat_intervals(jobs: JobStore) -> None:
    jobs.store.put(
        jobs.layout.instance("i-1"), json.dumps({"instance_id": "i-1", "state": "idle"}).encode()
    )
    fresh = Dashboard(jobs, heartbeat_interval_s=60.0).fleet()
    assert fresh["stale_after_s"] == 180.0
    assert [i["stale"] for i in fresh["instances"]] == [False]
    assert Dashboard(jobs).stale_after_s == 3 * 60.0  # the settings' default interval
    silent = Dashboard(jobs, heartbeat_interval_s=0.01)  # stale after 0.03 s
    got = wait_for(lambda: (f := silent.fleet()) and f["instances"][0]["stale"] and f, 10, "stale")
    assert got["instances"][0]["age_s"] > 0.03
