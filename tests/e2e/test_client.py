"""The Python client: an Executor whose futures are jobs, against the standard library's
executor semantics (order, exceptions, cancel, shutdown, wait/as_completed), with real
supervisor processes training on the simulated trainer over moto's S3."""

from __future__ import annotations

import concurrent.futures as cf
import random

import pytest

from pitstop.client import Client, Executor, JobFailed
from pitstop.errors import InvalidInput
from tests.e2e.harness import kill_trainers, start_fleet, trainer_pids

pytestmark = pytest.mark.e2e

REWARD = "def reward_function(params):\n    return float({w})  # {tag}\n"


@pytest.fixture
def client(e2e_env, bucket) -> Client:  # type: ignore[no-untyped-def]
    return Client(
        bucket=bucket,
        endpoint_url=e2e_env["PITSTOP_S3_ENDPOINT_URL"],
        poll_interval_s=0.2,
        validate=False,  # the sandboxed check has its own tests; keep these fast
    )


def spec(n: int, tag: str = "", **extra: object) -> dict[str, object]:
    return {
        "name": f"c{n}",
        "reward_function": REWARD.format(w=n, tag=tag),
        "simulation": {"checkpoint_interval_s": 0.1, "checkpoints": 2},
        **extra,
    }


def test_map_keeps_input_order_and_resolves_to_job_documents(
    client, e2e_env, supervisors, bucket
) -> None:
    start_fleet(supervisors, e2e_env, "map")
    with Executor(client) as ex:
        docs = list(ex.map(lambda n: spec(n, bucket), range(6)))
    supervisors.job_ids.extend(d["id"] for d in docs)
    assert [d["name"] for d in docs] == [f"c{n}" for n in range(6)]  # input order
    assert all(d["state"] == "succeeded" and d["attempts"] for d in docs)


def test_errors_surface_at_result_as_the_standard_executor_does(
    client, e2e_env, supervisors, bucket
) -> None:
    def boom(_: int) -> dict[str, object]:
        raise ValueError("no spec today")

    failing = spec(
        1,
        bucket,
        simulation={
            "checkpoint_interval_s": 0.1,
            "checkpoints": 3,
            "faults": [{"kind": "crash", "after_checkpoint": 1}],
        },
    )
    supervisors(e2e_env, PITSTOP_MAX_RESTARTS="1")
    with Executor(client) as ex:
        raised = ex.submit(boom, 1)
        not_a_spec = ex.submit(lambda: {"name": "x"})  # no reward_function
        failed = ex.submit(lambda: failing)
        with pytest.raises(ValueError, match="no spec today"):
            raised.result(5)
        with pytest.raises(InvalidInput, match="reward_function"):
            not_a_spec.result(5)
        with pytest.raises(JobFailed) as e:
            failed.result(60)
    supervisors.job_ids.append(e.value.doc["id"])
    assert "restart budget" in (e.value.reason or "")


def test_cancel_shutdown_and_waiting_follow_the_standard_semantics(client, bucket) -> None:
    ex = Executor(client)
    first = ex.submit(lambda: spec(1, bucket))
    second = ex.submit(lambda: spec(2, bucket))
    third = ex.submit(lambda: spec(3, bucket))
    assert first.cancel() and first.cancelled()  # queued: cancelled, and so is the job
    assert client.job(first.job_id)["state"] == "cancelled"  # type: ignore[attr-defined]
    with pytest.raises(cf.CancelledError):
        first.result(1)
    done, not_done = cf.wait([first, second], timeout=0.5)
    assert done == {first} and not_done == {second}
    ex.shutdown(wait=True, cancel_futures=True)
    assert second.cancelled() and third.cancelled()
    assert {client.job(f.job_id)["state"] for f in (second, third)} == {"cancelled"}  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        ex.submit(lambda: spec(4, bucket))
    assert list(cf.as_completed([first, second, third], timeout=1)) != []


def test_a_job_cancelled_elsewhere_cancels_its_future(client, bucket) -> None:
    with Executor(client) as ex:
        future = ex.submit(lambda: spec(7, bucket))
        client.cancel(future.job_id)  # type: ignore[attr-defined]  # as `pitstop cancel` would
        (done,) = cf.as_completed([future], timeout=10)
        assert done.cancelled()


def test_a_tiny_genetic_algorithm_maps_over_the_fleet(client, e2e_env, supervisors, bucket) -> None:
    from deap import algorithms, base, creator, tools

    start_fleet(supervisors, e2e_env, "ga")
    target = 0.7

    def make_spec(individual: list[float]) -> dict[str, object]:
        w = round(individual[0], 3)
        return {
            "name": f"ga-{w}",
            "reward_function": REWARD.format(w=w, tag=bucket),
            "simulation": {"checkpoint_interval_s": 0.1, "checkpoints": 2},
        }

    def fitness_of(doc: dict[str, object]) -> tuple[float]:
        # read back what the fleet trained: the weight is in the job's own reward file
        files = client.job_store.custom_files(str(doc["id"]))
        w = float(files["reward_function.py"].decode().split("float(")[1].split(")")[0])
        return (-abs(w - target) if doc["state"] == "succeeded" else -99.0,)

    creator.create("FitnessMax", base.Fitness, weights=(1.0,))
    creator.create("Individual", list, fitness=creator.FitnessMax)
    rng = random.Random(4)
    toolbox = base.Toolbox()
    toolbox.register("individual", lambda: creator.Individual([rng.random()]))
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("mate", tools.cxBlend, alpha=0.5)
    toolbox.register("mutate", tools.mutGaussian, mu=0, sigma=0.1, indpb=1.0)
    toolbox.register("select", tools.selTournament, tournsize=2)
    with Executor(client) as ex:
        toolbox.register(
            "evaluate",
            lambda ind: ind,  # evaluation happens in map: see below
        )
        toolbox.register("map", lambda fn, pop: [fitness_of(d) for d in ex.map(make_spec, pop)])
        population = toolbox.population(n=4)
        final, log = algorithms.eaSimple(
            population, toolbox, cxpb=0.5, mutpb=0.5, ngen=2, verbose=False
        )
    evaluated = sum(rec["nevals"] for rec in log)
    assert evaluated >= 4 and all(ind.fitness.valid for ind in final)
    best = max(final, key=lambda ind: ind.fitness.values[0])
    assert best.fitness.values[0] == pytest.approx(-abs(round(best[0], 3) - target), abs=1e-6)
    ids = [j["id"] for j in client.jobs()]
    supervisors.job_ids.extend(ids)
    assert len(ids) >= 4 and all(j["state"] == "succeeded" for j in client.jobs())
    kill_trainers(ids)
    assert not any(trainer_pids(j) for j in ids)


def test_one_bad_event_never_hangs_the_futures(client, bucket, e2e_env, s3) -> None:  # type: ignore[no-untyped-def]
    """An event that is valid JSON but not an object once killed the waiter thread: every
    future of the client hung, clean jobs too, and ``pitstop job`` printed a traceback."""
    import json
    import os
    import subprocess
    import sys

    with Executor(client) as ex:
        bad = ex.submit(lambda: spec(11, bucket))
        clean = ex.submit(lambda: spec(12, bucket))
        events = client.job_store.layout.events(bad.job_id)  # type: ignore[attr-defined]
        for name, body in (("20260101T000000000000Z-x.json", b"[]"), ("zz.json", b"{nope")):
            s3.put_object(Bucket=bucket, Key=events + name, Body=body)
        for f in (bad, clean):
            client.cancel(f.job_id)  # type: ignore[attr-defined]
        done, not_done = cf.wait([bad, clean], timeout=30)
        assert not not_done and all(f.cancelled() for f in done)
    doc = client.job(bad.job_id)  # type: ignore[attr-defined]
    unreadable = [e for e in doc["events"] if e["event"] == "event.unreadable"]
    assert len(unreadable) == 2
    (listed,) = [e for e in unreadable if "a JSON list, not an object" in e["error"]]
    assert listed["at"].startswith("2026-01-01T00:00:00")  # placed in time by its key
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "job", bad.job_id],  # type: ignore[attr-defined]
        env={**os.environ, **e2e_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "event.unreadable" in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "pitstop.cli.main", "job", bad.job_id, "--json"],  # type: ignore[attr-defined]
        env={**os.environ, **e2e_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "cancelled"


def test_a_deleted_bucket_fails_every_pending_future_in_bounded_time(e2e_env, bucket, s3) -> None:  # type: ignore[no-untyped-def]
    from pitstop.errors import BucketUnavailable

    client = Client(
        bucket=bucket,
        endpoint_url=e2e_env["PITSTOP_S3_ENDPOINT_URL"],
        poll_interval_s=0.2,
        validate=False,
        give_up_after_s=1.0,
    )
    ex = Executor(client)
    futures = [ex.submit(lambda n=n: spec(n, bucket)) for n in (21, 22)]
    # the bucket goes away (deleted by someone, or the account closed)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)
    _, not_done = cf.wait(futures, timeout=60)
    assert not not_done, "futures waited silently on a deleted bucket"
    for f in futures:
        err = f.exception()
        assert isinstance(err, BucketUnavailable) and "does not exist" in str(err), err
