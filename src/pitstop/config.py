"""The one settings model, read once from TOML and ``PITSTOP_*`` environment variables.

Sources, highest priority first: explicit overrides (CLI flags), ``PITSTOP_*`` environment
variables, the TOML file (``--config``, else ``$PITSTOP_CONFIG``, else
``/etc/pitstop/pitstop.toml`` when it exists). Bad values are rejected with a one-line
``ConfigError`` that names the file or variable; nothing is silently defaulted.

All durations are float seconds so tests can compress time.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Set
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pitstop.errors import ConfigError, validation_message

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_CONFIG_PATH = Path("/etc/pitstop/pitstop.toml")
ENV_PREFIX = "PITSTOP_"
# PITSTOP_* variables that are not settings: the settings file, what the supervisor sets for
# a trainer's attempt (a run script may call pitstop), and the test suite's own switches
OTHER_VARIABLES = frozenset(
    {
        "PITSTOP_CONFIG",
        "PITSTOP_JOB_ID",
        "PITSTOP_ATTEMPT",
        "PITSTOP_MODEL_PREFIX",
        "PITSTOP_PRETRAINED_PREFIX",
        "PITSTOP_PRETRAINED_CHECKPOINT",
        "PITSTOP_CUSTOM_FILES_PREFIX",
        "PITSTOP_WORLD",
        "PITSTOP_SIMULATION",
        "PITSTOP_SUPERVISOR_TOKEN",
        "PITSTOP_UPDATE_GOLDEN",
        "PITSTOP_REPORT_SCREENSHOT",
    }
)
DEFAULT_MAX_ON_DEMAND = 2  # on-demand instances fleet-wide, unless a person says more
MAX_ON_DEMAND_LIMIT = 100  # a larger cap is a typo, not a budget
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")

TrainerKind = Literal["drfc", "script", "simulated"]


class Settings(BaseSettings):
    """Every setting pitstop reads. TOML key = field name; env var = PITSTOP_ + upper case."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        frozen=True,
        allow_inf_nan=False,  # an "inf" timeout is never meant
    )

    bucket: str = Field(description="S3 bucket holding the queue and the models")
    prefix: str = Field("pitstop", description="key prefix of pitstop's own objects")
    region: str = Field("us-east-1", description="AWS region")
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint (MinIO, a test server)"
    )
    trainer: TrainerKind = Field("drfc", description="training backend")
    # DRfC's own install (as user ubuntu on an Ubuntu AMI); the same under systemd (root)
    # and in a shell. The AMI that `pitstop image` bakes writes its own (/opt/...).
    drfc_home: Path = Field(Path("/home/ubuntu/deepracer-for-cloud"), description="DRfC checkout")
    poll_interval_s: float = Field(30.0, ge=0.01, le=3600)
    stall_timeout_s: float = Field(1800.0, gt=0, le=7 * 86400)
    startup_grace_s: float = Field(
        2400.0,
        ge=0,
        le=7 * 86400,
        description="stall timeout until the first trained checkpoint (simapp's initial one, "
        "saved at start, does not count)",
    )
    stop_timeout_s: float = Field(60.0, gt=0, le=600, description="SIGTERM -> SIGKILL wait")
    max_restarts: int = Field(
        10, ge=0, le=1000, description="restarts after crashes and stalls of unknown cause"
    )
    max_infra_restarts: int = Field(
        20,
        ge=0,
        le=1000,
        description="restarts after infrastructure faults (GPU Xid, CUDA out of memory, driver, "
        "disk, S3): their own budget, not max_restarts",
    )
    hang_evaluation_lengths: float = Field(
        30.0,
        ge=0,
        le=10000,
        description="endless evaluation and silent rollout worker: stop after this many "
        "training-episode lengths of worker 0's episodes with no checkpoint (evaluation "
        "only, or a worker short of its share writing nothing); 0 = only the stall timeout",
    )
    backoff_base_s: float = Field(10.0, ge=0)
    backoff_max_s: float = Field(600.0, ge=0)
    reboot_after_failed_attempts: int = Field(3, ge=0, description="0 = never reboot for this")
    max_reboots: int = Field(2, ge=0, le=10, description="per job, so it can never reboot-loop")
    lease_ttl_s: float = Field(300.0, gt=0, le=86400)
    heartbeat_interval_s: float = Field(60.0, ge=0.01)
    max_failed_ticks: int = Field(
        20, ge=1, le=100000, description="ticks in a row without progress before exiting non-zero"
    )
    imds_endpoint: str = Field("http://169.254.169.254")
    spot_poll_interval_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="seconds between reads of the spot notice (2 local IMDS requests each: "
        "7,200 an hour at 1 s; free, never leaves the instance)",
    )
    rebalance_is_notice: bool = Field(False, description="act on a rebalance recommendation")
    shutdown_on_notice: bool = Field(True, description="power off after a spot notice")
    # AWS bills nothing for a spot instance EC2 interrupts in its first hour; powering it
    # off ourselves might be billed, so by default a notice then leaves it to EC2
    shutdown_on_notice_first_hour: bool = Field(
        False,
        description="also power off after a spot notice in the instance's first hour "
        "(off: EC2 takes it within two minutes, and that hour is not billed)",
    )
    state_dir: Path = Field(Path("/var/lib/pitstop"))
    instance_id: str | None = Field(None, description="read from IMDS when unset")
    inbox_settle_s: float = Field(
        10.0, ge=0, le=3600, description="an inbox drop is taken once unchanged this long"
    )
    idle_shutdown_s: float = Field(0.0, ge=0, description="0 = never")
    sns_topic_arn: str | None = None
    reboot_command: str = "systemctl reboot"
    shutdown_command: str = "systemctl poweroff"
    log_format: Literal["auto", "json", "console"] = "auto"
    # deadlines (docs/deadlines.md): what one restart costs, the checkpoint interval the
    # policy assumes, and which market this instance is on (auto: ask IMDS's
    # instance-life-cycle); an on-demand instance claims deadline-critical jobs first
    deadline_restart_overhead_s: float = Field(
        600.0, ge=0, le=86400, description="one restart: boot, supervisor and trainer start"
    )
    deadline_checkpoint_s: float = Field(
        900.0, gt=0, le=86400, description="training between checkpoints (deadline policy)"
    )
    market: Literal["auto", "spot", "on-demand"] = "auto"
    # the deadline rule's cost cap (docs/deadlines.md): with both prices set, no deadline
    # job is sent to spot when that could take it above on-demand's own cost; unset, the
    # rule is greedy (deadlines only)
    deadline_spot_price: float | None = Field(
        None,
        gt=0,
        description="USD per spot instance hour, the dearest zone's (deadline cost cap)",
    )
    deadline_on_demand_price: float | None = Field(
        None,
        gt=0,
        description="USD per on-demand instance hour (deadline cost cap)",
    )
    # money (docs/security.md, "Money: on-demand cap"): the on-demand instances `fleet watch`
    # runs at once, fleet-wide (the group's MaxSize bounds spot + on-demand as well), and
    # whether a deadline in an inbox job.json is honoured (a deadline can buy on-demand time)
    max_on_demand_instances: int = Field(
        DEFAULT_MAX_ON_DEMAND,
        description="on-demand instances fleet watch may run at once, fleet-wide (0: none)",
    )
    inbox_deadlines: bool = Field(
        False,
        description="accept deadline/deadline_hours in an inbox job.json (pitstop submit "
        "always may)",
    )

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, v: str) -> str:
        if not _BUCKET_RE.match(v):
            raise ValueError(
                "not a valid S3 bucket name (3-63 lower-case letters, digits, '.', '-')"
            )
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip("/")
        if not v or " " in v:
            raise ValueError("must be a non-empty key prefix without spaces")
        return v

    @field_validator("max_on_demand_instances", mode="before")
    @classmethod
    def _on_demand_cap_is_a_count(cls, v: Any) -> Any:
        if isinstance(v, bool):  # `true` is not a number of instances
            raise ValueError(f"must be a whole number of on-demand instances, got {v!r}")
        return v

    @field_validator("max_on_demand_instances")
    @classmethod
    def _on_demand_cap(cls, v: int) -> int:
        if not 0 <= v <= MAX_ON_DEMAND_LIMIT:
            raise ValueError(
                f"must be between 0 and {MAX_ON_DEMAND_LIMIT} on-demand instances, got {v} "
                "(0: fleet watch never launches one; each one is paid by the hour)"
            )
        return v

    @field_validator("s3_endpoint_url", "imds_endpoint")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/") if v else v

    @field_validator("reboot_command", "shutdown_command")
    @classmethod
    def _command(cls, v: str) -> str:
        try:
            parts = shlex.split(v)
        except ValueError as e:
            raise ValueError(f"cannot split as a shell command: {e}") from None
        if not parts:
            raise ValueError("must not be empty")
        return v

    @model_validator(mode="after")
    def _combinations(self) -> Settings:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError("backoff_max_s must be >= backoff_base_s")
        if self.stall_timeout_s < self.poll_interval_s:
            raise ValueError("stall_timeout_s must be >= poll_interval_s")
        if self.startup_grace_s < self.poll_interval_s:
            raise ValueError(
                "startup_grace_s must be >= poll_interval_s: the first checkpoint is looked "
                "for once a poll, so a shorter grace could never see it"
            )
        if self.heartbeat_interval_s * 2 > self.lease_ttl_s:
            raise ValueError(
                "heartbeat_interval_s must be at most half of lease_ttl_s, or one slow renewal "
                "lets the lease expire"
            )
        if self.stop_timeout_s >= self.lease_ttl_s:
            raise ValueError(
                "stop_timeout_s must be < lease_ttl_s, or the lease expires while a trainer stops"
            )
        return self

    def check_supervisor(self, environ: Mapping[str, str] | None = None) -> None:
        """What only the daemon needs (a CLI on a laptop reads the same model without it):
        the power commands exist, ``drfc_home`` is a DRfC checkout for the ``drfc`` trainer,
        and no ``PITSTOP_*`` variable is one pitstop does not know (a misspelt setting would
        silently keep its default). Raises ``ConfigError``."""
        env = os.environ if environ is None else environ
        for name in sorted(env):
            if name.startswith(ENV_PREFIX) and name not in OTHER_VARIABLES:
                key = name[len(ENV_PREFIX) :].lower()
                if key not in type(self).model_fields:
                    raise ConfigError(_unknown_variable(name))
        for which in ("reboot", "shutdown"):
            program = self.command_argv(which)[0]
            if shutil.which(program) is None:
                raise ConfigError(
                    f"{which}_command: {program!r} is not an executable on PATH; "
                    f"the supervisor could never {which} the instance"
                )
        if self.trainer == "drfc" and not (self.drfc_home / "bin" / "activate.sh").is_file():
            where = (
                "no such directory" if not self.drfc_home.is_dir() else "it has no bin/activate.sh"
            )
            raise ConfigError(
                f"drfc_home: {self.drfc_home}: {where}; the drfc trainer needs a "
                "deepracer-for-cloud checkout there (set drfc_home or PITSTOP_DRFC_HOME, or "
                "another trainer)"
            )

    def command_argv(self, which: Literal["reboot", "shutdown"]) -> list[str]:
        return shlex.split(self.reboot_command if which == "reboot" else self.shutdown_command)


def _close_setting(key: str) -> str | None:
    """The setting whose name is nearest to ``key`` (a likely typo of it), if any."""
    import difflib

    near = difflib.get_close_matches(key.lower(), list(Settings.model_fields), n=1, cutoff=0.75)
    return near[0] if near else None


def _unknown_variable(name: str) -> str:
    near = _close_setting(name[len(ENV_PREFIX) :])
    hint = (
        f"did you mean {ENV_PREFIX}{near.upper()}?"
        if near
        else "not one of pitstop's settings (see README.md, Settings); unset it"
    )
    return f"{name}: unknown setting; {hint}"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such settings file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    # allow a [pitstop] table or top-level keys
    if set(data) == {"pitstop"} and isinstance(data["pitstop"], dict):
        data = data["pitstop"]
    return data


def _describe(
    err: dict[str, Any], source: str, file_keys: set[str], flag_keys: Set[str] = frozenset()
) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ())) or "settings"
    msg = validation_message(err)
    if err.get("type") == "missing":
        return f"{source}: required setting {loc!r} is missing (set it in the file or {ENV_PREFIX}{loc.upper()})"
    if err.get("type") == "extra_forbidden":
        near = _close_setting(loc)
        return f"{source}: unknown setting {loc!r}" + (f"; did you mean {near!r}?" if near else "")
    if loc in flag_keys:
        return f"--{loc.replace('_', '-')} {err.get('input')!s}: {msg}"
    origin = (
        source
        if loc in file_keys
        else f"{ENV_PREFIX}{loc.upper()}"
        if loc != "settings"
        else source
    )
    return f"{origin}: {loc}: {msg}"


def config_path(explicit: str | Path | None) -> Path | None:
    """The settings file to read: explicit, else $PITSTOP_CONFIG, else the default if present."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("PITSTOP_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def load_settings(
    path: str | Path | None = None, *, flags: bool = False, **overrides: Any
) -> Settings:
    """Read and validate the settings; raise ``ConfigError`` with one line on any problem.
    With ``flags`` the overrides came from command-line options of the same names (``--bucket``)
    and an error in one names that option, not the file or ``PITSTOP_*`` variable."""
    file = config_path(path)
    data = _read_toml(file) if file else {}
    source = str(file) if file else "settings"
    env_keys = {k[len(ENV_PREFIX) :].lower() for k in os.environ if k.startswith(ENV_PREFIX)}
    for name in sorted(os.environ):
        # a misspelt setting in the environment would silently keep its default: refuse it
        # (any other unknown PITSTOP_* variable is refused by ``check_supervisor``)
        key = name[len(ENV_PREFIX) :].lower()
        if (
            name.startswith(ENV_PREFIX)
            and name not in OTHER_VARIABLES
            and key not in Settings.model_fields
            and _close_setting(key) is not None
        ):
            raise ConfigError(_unknown_variable(name))
    # environment variables win over the file: drop file keys that the environment sets
    init = {k: v for k, v in data.items() if k not in env_keys}
    init.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**init)
    except ValidationError as e:
        first = e.errors()[0]
        given = {k for k, v in overrides.items() if v is not None} if flags else set()
        raise ConfigError(_describe(dict(first), source, set(data), given)) from None
