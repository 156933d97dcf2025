"""Log and S3 event names (``noun.past_tense``): a public interface, kept as constants.

Shared below every package (the inbox, the supervisor, the CLI all record events).
"""

JOB_SUBMITTED = "job.submitted"
JOB_REJECTED = "job.rejected"
JOB_CANCEL_REQUESTED = "job.cancel_requested"
RUN_STARTED = "run.started"  # an attempt was launched (n == 1) ...
RUN_RESTARTED = "run.restarted"  # ... or relaunched from a checkpoint (n > 1)
RUN_LAUNCHED = "run.launched"  # the trainer process/stack of an attempt was started
RUN_ADOPTED = "run.adopted"  # a restarted supervisor found its trainer still running
RUN_RESUMED = "run.resumed"  # an attempt recorded under pending/preempted, taken up as starting
RUN_CHECKPOINTED = "run.checkpointed"
RUN_STALLED = "run.stalled"
RUN_CRASHED = "run.crashed"
RESULTS_RECORDED = "results.recorded"  # an evaluation's laps in jobs/ID/results.json
RESULTS_UNREADABLE = "results.unreadable"  # its metrics could not be read: no results
EVALUATION_QUEUED = "evaluation.queued"  # a training job's evaluate_on, once it succeeded
RUN_INTERRUPTED = "run.interrupted"  # the trainer vanished with the supervisor (reboot, kill)
RUN_BACKING_OFF = "run.backing_off"
RUN_PREEMPTED = "run.preempted"
RUN_SUCCEEDED = "run.succeeded"
RUN_FAILED = "run.failed"
RUN_CANCELLED = "run.cancelled"
RUN_STOP_FAILED = "run.stop_failed"
LOCK_CLEARED = "lock.cleared"
LEASE_CLAIMED = "lease.claimed"
LEASE_RELEASED = "lease.released"
LEASE_LOST = "lease.lost"
HEARTBEAT_UNKNOWN = "heartbeat.unknown"
HEARTBEAT_RESTORED = "heartbeat.restored"
SPOT_NOTICE = "spot.notice_received"
SPOT_REBALANCE = "spot.rebalance_recommended"
IMDS_ERROR = "imds.error"
INSTANCE_REBOOTING = "instance.rebooting"
INSTANCE_SHUTTING_DOWN = "instance.shutting_down"
INSTANCE_IDLE = "instance.idle"
SUPERVISOR_STARTED = "supervisor.started"
SUPERVISOR_STOPPED = "supervisor.stopped"
TICK_FAILED = "tick.failed"
ACTION_FAILED = "action.failed"  # kept queued, retried on the next tick
SUPERVISOR_GIVING_UP = "supervisor.giving_up"  # no progress for N ticks: exit, systemd restarts
JOB_QUARANTINED = "job.quarantined"  # its state/spec is unreadable: failed, the bad file kept
POWER_FAILED = "instance.power_command_failed"
INBOX_ACCEPTED = "inbox.accepted"
MARKET_RESOLVED = "market.resolved"  # spot or on-demand (deadline-critical claims first)
# a spot instance left a deadline job to on-demand (the priced rule keeps it there), and
# claimed it after all when no on-demand instance came within the grace (supervisor/reserve)
CLAIM_RESERVED_SKIPPED = "claim.reserved_skipped"
CLAIM_RESERVED_TAKEN = "claim.reserved_taken"
INSTANCE_LEFT_TO_EC2 = "instance.left_to_ec2"  # a notice in the first hour: EC2 powers it off
# fleet watch's on-demand instances (docs/security.md, "Money: on-demand cap"), each with
# job_id and reason: launched within the cap and MaxSize; refused (the policy said
# on-demand, the cap, MaxSize or the inbox rule said no); released (its job's ended state
# was read); kept (its job's state could not be read: never released on a blip)
ONDEMAND_LAUNCHED = "ondemand.launched"
ONDEMAND_REFUSED = "ondemand.refused"
ONDEMAND_RELEASED = "ondemand.released"
ONDEMAND_KEPT = "ondemand.kept"
