"""What a job has paid so far, from its attempt records: the deadline rule's ``spent``.

Pure: attempts and prices in, money out (the prices' currency, per instance hour in).
Each attempt is billed by ``deadlines.attempt_cost``: by the second from its start, at
its market's price; nothing when a spot notice ended it within the first hour of its
instance (AWS bills nothing for a spot instance EC2 interrupts in its first hour). An
attempt still running is billed up to ``now``, as if its owner stopped it now (the most it
can have cost). An on-demand instance is launched for its job, so its boot before the
job's first attempt on it is the job's too. A record without a market (older states) is
billed at the on-demand price, the dearer guess; one whose times cannot be read is billed
with no refund, or skipped when it has no start at all. ``launched_at`` is the boot, a
little after AWS's launch: the refund window is counted from ``LAUNCH_MARGIN_S`` before
it, so an interruption near the end of the hour is billed, never wrongly refunded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pitstop.core.records import Attempt
from pitstop.core.states import Outcome
from pitstop.core.times import timestamp
from pitstop.deadlines import attempt_cost

# the launch precedes the boot (``launched_at``) by well under this; the supervisor keeps
# the same margin when it leaves a first-hour notice to EC2
LAUNCH_MARGIN_S = 300.0


@dataclass(frozen=True)
class Prices:
    """Per instance hour: the deadline rule's cost cap needs both (settings
    ``deadline_spot_price``, ``deadline_on_demand_price``)."""

    spot: float
    on_demand: float

    @classmethod
    def of(cls, spot: float | None, on_demand: float | None) -> Prices | None:
        """Both prices, or None (the rule is then greedy)."""
        return None if spot is None or on_demand is None else cls(spot, on_demand)


def by_ec2(a: Attempt) -> bool:
    """The attempt ended because EC2 took the instance back (a spot interruption notice),
    not by its owner's choice."""
    return a.outcome == Outcome.PREEMPTED.value and a.market == "spot" and a.ec2_notice


def spent(
    attempts: Sequence[Attempt], now: float, *, spot_price: float, on_demand_price: float
) -> float:
    """The job's bill so far (``now``: epoch seconds)."""
    total = 0.0
    first_on: set[str] = set()  # instances whose first attempt of this job was seen
    for a in attempts:
        start = timestamp(a.started_at)
        if start is None:
            continue
        ended = timestamp(a.ended_at)  # None: running, or an end that cannot be read
        end = now if ended is None else ended
        launched = timestamp(a.launched_at)
        price = spot_price if a.market == "spot" else on_demand_price
        key = a.instance_id or f"#{a.n}"
        if a.market == "on-demand" and launched is not None and key not in first_on:
            start = min(start, launched)  # its boot was for this job
        first_on.add(key)
        ec2 = ended is not None and launched is not None and by_ec2(a)
        window_from = start if launched is None else launched - LAUNCH_MARGIN_S
        total += attempt_cost(price, start, end, window_from, ec2)
    return total
