"""A tiny AWSTOE stand-in for tests: runs a component's phase on this machine.

ExecuteBash commands really run in bash, after ``{{ Parameter }}`` substitution as AWSTOE
does it. S3Download copies from a local folder laid out as ``BUCKET/KEY``. Exit code 194
(reboot and re-run) is reported as a failure: the supervisor component never asks for it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_REF = re.compile(r"{{\s*([A-Za-z0-9_]+)\s*}}")


@dataclass
class StepResult:
    name: str
    action: str
    returncode: int
    output: str


@dataclass
class ToeRun:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.returncode == 0 for s in self.steps)

    def describe(self) -> str:
        return "\n".join(
            f"--- {s.name} ({s.action}) rc={s.returncode}\n{s.output}" for s in self.steps
        )


def parameter_values(doc: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for entry in doc.get("parameters") or []:
        ((name, spec),) = entry.items()
        if name in given:
            values[name] = given[name]
        elif "default" in spec:
            values[name] = spec["default"]
        else:
            raise AssertionError(f"parameter {name} has no default and no value")
    return values


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """Replace ``{{ Name }}`` in every string of ``value`` (lists and mappings walked)."""
    if isinstance(value, str):
        return _REF.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    return value


def run_phase(
    text: str,
    phase: str,
    parameters: Mapping[str, str],
    *,
    env: Mapping[str, str],
    fake_s3: Path | None = None,
    timeout: float = 120,
) -> ToeRun:
    doc = yaml.safe_load(text)
    values = parameter_values(doc, parameters)
    run = ToeRun()
    (steps,) = [p["steps"] for p in doc["phases"] if p["name"] == phase]
    for step in steps:
        action = step["action"]
        inputs = substitute(step["inputs"], values)
        if action == "ExecuteBash":
            script = "\n".join(inputs["commands"])
            proc = subprocess.run(
                ["bash", "-c", script],
                env=dict(env),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            result = StepResult(step["name"], action, proc.returncode, proc.stdout + proc.stderr)
        elif action == "S3Download":
            assert fake_s3 is not None, "S3Download needs a fake S3 folder"
            for item in inputs:
                src = fake_s3 / item["source"][len("s3://") :]
                dest = Path(item["destination"])
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            result = StepResult(step["name"], action, 0, "")
        else:  # pragma: no cover - the supervisor component uses nothing else
            raise AssertionError(f"toe stand-in cannot run {action}")
        run.steps.append(result)
        if result.returncode != 0:
            break
    return run
