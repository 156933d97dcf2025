"""The budget rule's two promises on traces made up to break them: every deadline met and,
with AWS's billing, no run above on-demand (docs/deadlines.md has the proofs); with every
second billed, no run above on-demand plus one attempt's risk."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pitstop.simulate.deadline import DeadlineSetup, Zone, simulate_deadline
from pitstop.simulate.engine import TrainingJob
from pitstop.simulate.traces import Trace

FUZZ = settings(
    max_examples=300,
    deadline=None,  # a slow CPU must not fail a run (the machine may be busy)
    derandomize=True,  # the same examples every run
    suppress_health_check=[HealthCheck.too_slow],
)

traces = st.lists(st.booleans(), min_size=40, max_size=400).map(
    lambda bits: Trace("fuzz", 600.0, tuple(bits))
)


@FUZZ
@given(
    zones=st.lists(
        st.tuples(traces, st.floats(0.05, 2.9)), min_size=1, max_size=3
    ),  # spot below on-demand's 3.06
    hours=st.floats(0.25, 6.0),
    factor=st.floats(1.0, 3.0),
    ckpt=st.sampled_from([5.0, 15.0, 40.0]),
    boot=st.sampled_from([0.0, 5.0, 20.0]),
    refunds=st.booleans(),
)
def test_budget_meets_every_deadline_and_stays_under_its_cap(
    zones: list[tuple[Trace, float]],
    hours: float,
    factor: float,
    ckpt: float,
    boot: float,
    refunds: bool,
) -> None:
    job = TrainingJob(hours, ckpt, boot)
    need = hours + boot / 60
    shortest = min(t.duration_s for t, _ in zones) / 3600
    deadline = min(need * factor + 1e-6, shortest)
    if deadline < need:
        return  # the trace is shorter than the job
    s = DeadlineSetup(job, deadline, refunds=refunds)
    fleet = [Zone(t, p) for t, p in zones]
    od = simulate_deadline("on-demand", None, s).cost
    r = simulate_deadline("pitstop-deadline", fleet, s)
    assert r.met, r
    dearest = max(p for _, p in zones)
    allowance = 0.0 if refunds else dearest * (boot / 60 + min(ckpt / 60, hours))
    assert r.cost <= od + allowance + 1e-9, (r.cost / od, r)
