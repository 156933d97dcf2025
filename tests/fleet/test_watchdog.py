"""The watchdog's pure decisions: one test per case, no AWS."""

from __future__ import annotations

from pitstop.deadlines import Choice
from pitstop.fleet.watchdog import (
    DeadlineView,
    GroupView,
    InstanceView,
    JobView,
    LaunchOnDemand,
    OnDemandView,
    Reboot,
    ReleaseOnDemand,
    SetDesired,
    Terminate,
    Thresholds,
    Verdict,
    decide,
    instance_verdict,
    on_demand_actions,
)
from pitstop.store.states import JobState

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
def _dl(job_id: str = "j1", choice: str = "on-demand", held: bool = False) -> DeadlineView:
    return DeadlineView(job_id, Choice(choice), held, "slack 0.10 h <= one restart")


def test_deadline_job_on_demand_and_unheld_gets_an_on_demand_instance() -> None:
    assert on_demand_actions([_dl()], []) == [LaunchOnDemand("j1", "slack 0.10 h <= one restart")]


def test_deadline_job_held_or_on_spot_or_already_launched_gets_none() -> None:
    assert on_demand_actions([_dl(held=True)], []) == []
    assert on_demand_actions([_dl(choice="spot")], []) == []
    assert on_demand_actions([_dl()], [OnDemandView("i-od", "j1", "pending")]) == []
    # one launched before and since terminated does not count: a new one is launched
    assert on_demand_actions([_dl()], [OnDemandView("i-od", "j1", "terminated")]) == [
        LaunchOnDemand("j1", "slack 0.10 h <= one restart")
    ]


def test_on_demand_instance_is_released_once_its_job_ended() -> None:
    od = [OnDemandView("i-od", "j1", "running"), OnDemandView("i-od2", "j2", "running")]
    assert on_demand_actions([_dl("j2", "spot", held=True)], od) == [
        ReleaseOnDemand("i-od", "j1", "its job has ended")
    ]


def test_a_job_getting_an_on_demand_instance_does_not_also_raise_spot_capacity() -> None:
    orphan = JobView("j1", JobState.PENDING, None, True)
    actions = decide([], [orphan], GroupView(0, 4), NOW, T, [_dl()], [])
    assert actions == [LaunchOnDemand("j1", "slack 0.10 h <= one restart")]
    # without a deadline the same job asks the group for capacity
    assert isinstance(decide([], [orphan], GroupView(0, 4), NOW, T)[0], SetDesired)
