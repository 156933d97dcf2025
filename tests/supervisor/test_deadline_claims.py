"""An on-demand instance claims deadline-critical jobs first (S3 on moto's server)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pitstop.store.leases import Leases
from pitstop.supervisor.claims import ClaimOrder, OnDemand, deadline_first
from tests.e2e.harness import jobs_store, submit

OVERHEAD_S = 600.0


def test_deadline_first_keeps_each_group_in_order() -> None:
    assert deadline_first(["a", "b", "c", "d"], {"d", "b"}) == ["b", "d", "a", "c"]
    assert deadline_first(["a", "b"], set()) == ["a", "b"]


def test_on_demand_instance_ranks_the_critical_job_first(settings_env: dict[str, str]) -> None:
    jobs = jobs_store(settings_env)
    relaxed = submit(settings_env, "relaxed", {"checkpoints": 2})  # no deadline, oldest
    roomy = submit(settings_env, "roomy", {"checkpoints": 2}, max_hours=1, deadline_hours=5)
    # one hour of training due in 1 h 10 min: slack is one restart, the policy says on-demand
    tight = submit(settings_env, "tight", {"checkpoints": 2}, max_hours=1, deadline_hours=7 / 6)
    leases = Leases(jobs.store, jobs.layout, "i-od", 300.0)
    spot_order = ClaimOrder(jobs, leases, "i-spot", 300.0).candidates(0.0)
    assert set(spot_order) == {relaxed, roomy, tight}
    assert spot_order[0] != tight  # the spot instance's order is the plain one (oldest first)

    def wall() -> datetime:
        return datetime.now().astimezone() + timedelta(seconds=1)

    od = ClaimOrder(jobs, leases, "i-od", 300.0, OnDemand(wall, OVERHEAD_S, 900.0))
    order = od.candidates(0.0)
    assert order[0] == tight
    assert order[1:] == [j for j in spot_order if j != tight]
