"""The watchdog's pure decisions: one test per case, no AWS."""

from __future__ import annotations

from pitstop.core.states import JobState
from pitstop.deadlines import Choice
from pitstop.fleet.watchdog import (
    DeadlineView,
    GroupView,
    InstanceView,
    JobRead,
    JobView,
    KeepOnDemand,
    LaunchOnDemand,
    OnDemandBudget,
    OnDemandLimits,
    OnDemandView,
    Reboot,
    RefuseOnDemand,
    ReleaseOnDemand,
    SetDesired,
    Terminate,
    Thresholds,
    Verdict,
    decide,
    instance_verdict,
    on_demand_actions,
    on_demand_budget,
)

T = Thresholds(silent_after_s=300, boot_grace_s=600, reboot_grace_s=400)
NOW = 100_000.0


def _inst(
    iid: str = "i-1",
    hb_age: float | None = 10,
    state: str = "running",
    rebooted_ago: float | None = None,
    hb_state: str = "running",
) -> InstanceView:
    return InstanceView(
        instance_id=iid,
        ec2_state=state,
        launched_at=NOW - 5000,
        heartbeat_at=None if hb_age is None else NOW - hb_age,
        heartbeat_state=hb_state,
        rebooted_at=None if rebooted_ago is None else NOW - rebooted_ago,
    )


def test_healthy_instance_is_left_alone() -> None:
    assert instance_verdict(_inst(hb_age=10), NOW, T) is Verdict.HEALTHY
    assert decide([_inst(hb_age=10)], [], GroupView(1, 4), NOW, T) == []


def test_silent_running_instance_is_rebooted() -> None:
    actions = decide([_inst(hb_age=301)], [], GroupView(1, 4), NOW, T)
    assert actions == [Reboot("i-1", "running but silent: last heartbeat 301 s ago")]


def test_new_instance_without_heartbeat_gets_a_boot_grace() -> None:
    booting = InstanceView("i-2", "running", NOW - 60, None)
    assert instance_verdict(booting, NOW, T) is Verdict.BOOTING
    assert decide([booting], [], None, NOW, T) == []
    late = InstanceView("i-2", "running", NOW - 601, None)
    assert isinstance(decide([late], [], None, NOW, T)[0], Reboot)


def test_silent_after_reboot_within_grace_waits() -> None:
    inst = _inst(hb_age=900, rebooted_ago=100)
    assert instance_verdict(inst, NOW, T) is Verdict.REBOOTING
    assert decide([inst], [], None, NOW, T) == []


def test_silent_after_reboot_past_grace_is_terminated() -> None:
    inst = _inst(hb_age=900, rebooted_ago=401)
    assert decide([inst], [], None, NOW, T) == [Terminate("i-1", "still silent 401 s after reboot")]


def test_silent_again_after_recovering_from_a_reboot_is_rebooted_not_terminated() -> None:
    # rebooted 2000 s ago, spoke 1000 s ago (after the reboot), silent since
    inst = _inst(hb_age=1000, rebooted_ago=2000)
    assert instance_verdict(inst, NOW, T) is Verdict.SILENT


def test_not_running_instance_is_left_to_the_group() -> None:
    assert decide([_inst(hb_age=None, state="stopped")], [], None, NOW, T) == []


def test_lease_expired_without_capacity_raises_desired() -> None:
    busy = _inst("i-1", hb_age=5, hb_state="running")
    jobs = [
        JobView("a", JobState.RUNNING, "i-1", lease_expired=False),  # owned by a live instance
        JobView("b", JobState.RUNNING, "i-dead", lease_expired=True),  # owner gone
    ]
    actions = decide([busy], jobs, GroupView(desired=1, max_size=4), NOW, T)
    assert len(actions) == 1 and isinstance(actions[0], SetDesired)
    assert actions[0].desired == 2


def test_lease_expired_with_an_idle_instance_does_not_scale() -> None:
    idle = _inst("i-2", hb_age=5, hb_state="idle")
    jobs = [JobView("b", JobState.PREEMPTED, None, lease_expired=True)]
    assert decide([idle], jobs, GroupView(desired=1, max_size=4), NOW, T) == []


def test_lease_expired_with_capacity_still_launching_does_not_scale() -> None:
    jobs = [JobView("b", JobState.RUNNING, "i-dead", lease_expired=True)]
    assert decide([], jobs, GroupView(desired=1, max_size=4), NOW, T) == []  # one not launched yet


def test_scaling_never_passes_the_group_maximum() -> None:
    busy = [_inst(f"i-{n}", hb_age=5) for n in range(2)]
    jobs = [JobView(f"j{n}", JobState.PENDING, None, lease_expired=True) for n in range(5)]
    (action,) = decide(busy, jobs, GroupView(desired=2, max_size=3), NOW, T)
    assert action == SetDesired(3, action.reason)
    assert decide(busy, jobs, GroupView(desired=3, max_size=3), NOW, T) == []


def test_terminal_jobs_need_no_capacity() -> None:
    jobs = [JobView("done", JobState.SUCCEEDED, None, lease_expired=True)]
    assert decide([], jobs, GroupView(desired=0, max_size=3), NOW, T) == []


# -- deadlines: an on-demand instance per job the policy puts there -----------------------
ROOMY = OnDemandBudget(cap=2, running=0, spot=0, max_size=10)
OFF = OnDemandLimits(cap=2)


def _dl(
    job_id: str = "j1",
    choice: str = "on-demand",
    held: bool = False,
    slack_s: float = 360.0,
    from_inbox: bool = False,
) -> DeadlineView:
    return DeadlineView(
        job_id, Choice(choice), held, "slack 0.10 h <= one restart", slack_s, from_inbox
    )


def _od(deadlines, on_demand=(), reads=None, budget=ROOMY, limits=OFF):  # type: ignore[no-untyped-def]
    return on_demand_actions(list(deadlines), list(on_demand), reads or {}, budget, limits)


def test_deadline_job_on_demand_and_unheld_gets_an_on_demand_instance() -> None:
    assert _od([_dl()]) == [LaunchOnDemand("j1", "slack 0.10 h <= one restart")]


def test_deadline_job_held_or_on_spot_or_already_launched_gets_none() -> None:
    running = {"j1": JobRead("j1", False, "running")}
    assert _od([_dl(held=True)]) == []
    assert _od([_dl(choice="spot")]) == []
    assert _od([_dl()], [OnDemandView("i-od", "j1", "pending")], running) == []
    # one launched before and since terminated does not count: a new one is launched
    assert _od([_dl()], [OnDemandView("i-od", "j1", "terminated")]) == [
        LaunchOnDemand("j1", "slack 0.10 h <= one restart")
    ]


def test_on_demand_instance_is_released_once_its_jobs_ended_state_is_read() -> None:
    od = [OnDemandView("i-od", "j1", "running"), OnDemandView("i-od2", "j2", "running")]
    reads = {"j1": JobRead("j1", True, "succeeded"), "j2": JobRead("j2", False, "running")}
    assert _od([_dl("j2", "spot", held=True)], od, reads) == [
        ReleaseOnDemand("i-od", "j1", "its job has ended (succeeded)")
    ]


def test_on_demand_instance_is_kept_when_its_jobs_state_could_not_be_read() -> None:
    # the blip of issue 22: the job dropped out of the round because one read failed
    od = [OnDemandView("i-od", "j1", "running")]
    reads = {"j1": JobRead("j1", None, "pitstop/jobs/j1/state.json: not JSON")}
    (kept,) = _od([], od, reads)
    assert isinstance(kept, KeepOnDemand) and kept.instance_id == "i-od"
    assert "could not be read (pitstop/jobs/j1/state.json: not JSON)" in kept.reason


def test_on_demand_instance_is_kept_when_its_job_was_not_read_at_all() -> None:
    (kept,) = _od([], [OnDemandView("i-od", "j1", "running")], {})
    assert kept == KeepOnDemand("i-od", "j1", "its job's state was not read this round")


def test_on_demand_launches_stop_at_the_cap_most_urgent_first() -> None:
    wanted = [_dl(f"j{n:02d}", slack_s=1000.0 - n) for n in range(20)]
    actions = _od(wanted, budget=OnDemandBudget(cap=2, running=0, spot=0, max_size=50))
    launched = [a.job_id for a in actions if isinstance(a, LaunchOnDemand)]
    refused = [a for a in actions if isinstance(a, RefuseOnDemand)]
    assert launched == ["j19", "j18"]  # the least slack first
    assert len(refused) == 18
    assert {a.reason for a in refused} == {
        "on-demand cap reached: 2 of max_on_demand_instances = 2 running or launched"
    }


def test_on_demand_already_running_count_against_the_cap() -> None:
    busy = OnDemandBudget(cap=2, running=2, spot=0, max_size=50)
    (refused,) = _od([_dl()], budget=busy)
    assert isinstance(refused, RefuseOnDemand) and "cap reached: 2 of" in refused.reason


def test_on_demand_cap_zero_launches_nothing() -> None:
    (refused,) = _od([_dl()], budget=OnDemandBudget(cap=0, running=0, spot=0, max_size=50))
    assert isinstance(refused, RefuseOnDemand)


def test_on_demand_launches_stop_at_the_groups_max_size_counting_spot() -> None:
    budget = OnDemandBudget(cap=5, running=1, spot=2, max_size=4)
    assert budget.allowed == 1
    actions = _od([_dl("a", slack_s=1), _dl("b", slack_s=2)], budget=budget)
    assert actions[0] == LaunchOnDemand("a", "slack 0.10 h <= one restart")
    assert actions[1] == RefuseOnDemand("b", "group MaxSize 4 reached: 2 spot + 2 on-demand")


def test_on_demand_without_a_group_launches_nothing() -> None:
    (refused,) = _od([_dl()], budget=OnDemandBudget(cap=2, running=0, spot=0, max_size=None))
    assert isinstance(refused, RefuseOnDemand) and "no Auto Scaling group" in refused.reason


def test_inbox_deadline_is_refused_unless_inbox_deadlines_is_on() -> None:
    (refused,) = _od([_dl(from_inbox=True)])
    assert refused == RefuseOnDemand(
        "j1", "its deadline came from an inbox job.json and inbox_deadlines is off"
    )
    on = OnDemandLimits(cap=2, inbox_deadlines=True)
    assert _od([_dl(from_inbox=True)], limits=on) == [
        LaunchOnDemand("j1", "slack 0.10 h <= one restart")
    ]


def test_budget_counts_spot_as_desired_or_live_the_larger() -> None:
    od = [OnDemandView("i-od", "j1", "running"), OnDemandView("i-old", "j0", "terminated")]
    instances = [_inst("i-1"), _inst("i-od"), _inst("i-2", state="stopped")]
    b = on_demand_budget(GroupView(desired=3, max_size=5), instances, od, OnDemandLimits(cap=2))
    assert (b.running, b.spot, b.total, b.allowed) == (1, 3, 4, 1)
    b = on_demand_budget(GroupView(desired=0, max_size=5), instances, od, OnDemandLimits(cap=2))
    assert (b.running, b.spot, b.allowed) == (1, 1, 1)


def test_spot_scaling_leaves_room_for_on_demand_under_max_size() -> None:
    od = [OnDemandView("i-od", "j9", "running")]
    jobs = [JobView(f"j{n}", JobState.PENDING, None, lease_expired=True) for n in range(5)]
    reads = {"j9": JobRead("j9", False, "running")}
    actions = decide([_inst("i-od")], jobs, GroupView(1, 3), NOW, T, [], od, reads)
    (scale,) = [a for a in actions if isinstance(a, SetDesired)]
    assert scale.desired == 2  # MaxSize 3 less the on-demand instance


def test_a_job_getting_an_on_demand_instance_does_not_also_raise_spot_capacity() -> None:
    orphan = JobView("j1", JobState.PENDING, None, True)
    actions = decide([], [orphan], GroupView(0, 4), NOW, T, [_dl()], [])
    assert actions == [LaunchOnDemand("j1", "slack 0.10 h <= one restart")]
    # without a deadline the same job asks the group for capacity
    assert isinstance(decide([], [orphan], GroupView(0, 4), NOW, T)[0], SetDesired)
