"""A small shape check of AWSTOE component documents (what ``awstoe validate`` would reject).

It knows the actions pitstop's components use, and a few more, with the shape of their
``inputs``; a step with an unknown action, wrong inputs, or a ``{{ Parameter }}`` that the
document does not declare is a problem. ``check_component`` returns the problems as lines
(empty when the document is fine) and leaves raising to its caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

PHASES = ("build", "validate", "test")
STEP_KEYS = {"name", "action", "inputs", "onFailure", "timeoutSeconds", "maxAttempts", "if", "loop"}
ON_FAILURE = {"Abort", "Continue", "Ignore"}
_STEP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
_PARAM_REF = re.compile(r"{{\s*([A-Za-z0-9_.]+)\s*}}")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def _execute(inputs: Any) -> list[str]:
    if not isinstance(inputs, dict) or not _strings(inputs.get("commands")):
        return ["inputs must be a mapping with 'commands': a non-empty list of strings"]
    extra = set(inputs) - {"commands", "workingDirectory"}
    return [f"unknown inputs {sorted(extra)}"] if extra else []


def _list_of(required: set[str], optional: set[str]) -> Callable[[Any], list[str]]:
    def check(inputs: Any) -> list[str]:
        if not isinstance(inputs, list) or not inputs:
            return ["inputs must be a non-empty list of mappings"]
        problems = []
        for item in inputs:
            if not isinstance(item, dict):
                problems.append("each input must be a mapping")
                continue
            missing = required - set(item)
            extra = set(item) - required - optional
            if missing:
                problems.append(f"input lacks {sorted(missing)}")
            if extra:
                problems.append(f"unknown inputs {sorted(extra)}")
        return problems

    return check


def _s3_download(inputs: Any) -> list[str]:
    problems = _list_of({"source", "destination"}, {"overwrite", "expectedBucketOwner"})(inputs)
    if not problems:
        for item in inputs:
            if not str(item["source"]).startswith("s3://"):
                problems.append(f"source {item['source']!r} is not an s3:// URL")
            if "overwrite" in item and not isinstance(item["overwrite"], bool):
                problems.append("overwrite must be true or false")
    return problems


def _mapping(optional: set[str]) -> Callable[[Any], list[str]]:
    def check(inputs: Any) -> list[str]:
        if inputs is None:
            return []
        if not isinstance(inputs, dict):
            return ["inputs must be a mapping"]
        extra = set(inputs) - optional
        return [f"unknown inputs {sorted(extra)}"] if extra else []

    return check


ACTIONS: dict[str, Callable[[Any], list[str]]] = {
    "ExecuteBash": _execute,
    "S3Download": _s3_download,
    "S3Upload": _list_of({"source", "destination"}, {"recurse", "expectedBucketOwner"}),
    "WebDownload": _list_of({"source", "destination"}, {"overwrite", "checksum", "algorithm"}),
    "CreateFile": _list_of(
        {"path"}, {"content", "encoding", "owner", "group", "permissions", "overwrite"}
    ),
    "CreateFolder": _list_of({"path"}, {"owner", "group", "permissions", "overwrite"}),
    "DeleteFile": _list_of({"path"}, set()),
    "DeleteFolder": _list_of({"path"}, {"force"}),
    "Reboot": _mapping({"delaySeconds"}),
    "UpdateOS": _mapping({"include", "exclude"}),
}


def check_component(text: str) -> list[str]:
    """Problems with one component document, one line each; ``[]`` when it is fine."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return [f"not YAML: {e}"]
    if not isinstance(doc, dict):
        return ["the document must be a mapping"]
    problems: list[str] = []
    for key in ("name", "schemaVersion", "phases"):
        if key not in doc:
            problems.append(f"missing {key!r}")
    if str(doc.get("schemaVersion")) != "1.0":
        problems.append("schemaVersion must be 1.0")
    declared: set[str] = set()
    for entry in doc.get("parameters") or []:
        if not isinstance(entry, dict) or len(entry) != 1:
            problems.append("each parameter must be a one-key mapping: NAME: {type, default}")
            continue
        ((pname, spec),) = entry.items()
        declared.add(str(pname))
        if not isinstance(spec, dict) or spec.get("type") != "string":
            problems.append(f"parameter {pname}: type must be string")
        elif "default" in spec and not isinstance(spec["default"], str):
            problems.append(f"parameter {pname}: default must be a string")
    phases = doc.get("phases")
    if not isinstance(phases, list):
        return [*problems, "phases must be a list"]
    seen_phases = set()
    for phase in phases:
        pname = phase.get("name") if isinstance(phase, dict) else None
        if pname not in PHASES:
            problems.append(f"unknown phase {pname!r}")
            continue
        if pname in seen_phases:
            problems.append(f"phase {pname} appears twice")
        seen_phases.add(pname)
        steps = phase.get("steps")
        if not isinstance(steps, list) or not steps:
            problems.append(f"phase {pname}: steps must be a non-empty list")
            continue
        names: set[str] = set()
        for step in steps:
            problems.extend(f"{pname}: {p}" for p in _check_step(step, names, declared))
    return problems


def _check_step(step: Any, names: set[str], declared: set[str]) -> list[str]:
    if not isinstance(step, dict):
        return ["a step must be a mapping"]
    name = str(step.get("name"))
    where = f"step {name}"
    problems = []
    if not _STEP_NAME.match(name):
        problems.append(f"{where}: bad step name")
    if name in names:
        problems.append(f"{where}: duplicate step name")
    names.add(name)
    extra = set(step) - STEP_KEYS
    if extra:
        problems.append(f"{where}: unknown keys {sorted(extra)}")
    action = step.get("action")
    if action not in ACTIONS:
        problems.append(f"{where}: unknown action {action!r}")
    else:
        problems.extend(f"{where}: {p}" for p in ACTIONS[action](step.get("inputs")))
    if "onFailure" in step and step["onFailure"] not in ON_FAILURE:
        problems.append(f"{where}: onFailure must be one of {sorted(ON_FAILURE)}")
    timeout = step.get("timeoutSeconds", 7200)
    if not isinstance(timeout, int) or not (timeout == -1 or 1 <= timeout <= 86400):
        problems.append(f"{where}: timeoutSeconds must be -1 or 1..86400")
    attempts = step.get("maxAttempts", 1)
    if not isinstance(attempts, int) or attempts < 1:
        problems.append(f"{where}: maxAttempts must be a positive integer")
    for ref in sorted(set(_PARAM_REF.findall(yaml.safe_dump(step.get("inputs"))))):
        if "." not in ref and ref not in declared:
            problems.append(f"{where}: {{{{ {ref} }}}} is not a declared parameter")
    return problems
