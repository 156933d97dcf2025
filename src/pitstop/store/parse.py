"""Reading what S3 holds without trusting its shape (pure; no I/O).

Everything pitstop reads back from the bucket was written by a process that may have died
half-way, by another version, or by someone hostile. These helpers are the only way a
reader turns bytes into values: any value it cannot use (not JSON, the wrong type, NaN,
infinity, a number too large to be one, missing) becomes ``CorruptObject`` naming the
object and the field, never ``OverflowError``, ``AttributeError`` or a bare ``NaN`` passed
on. Callers decide what an unusable object means (a note on the job, "no laps yet"); none
crash on it.

- ``load_json(body, key)``: strict JSON. ``NaN``/``Infinity`` literals and numbers that
  overflow a float are refused (``non_finite="null"`` reads them as ``None`` instead, for
  files whose writers print them, e.g. simapp's metrics).
- ``json_object`` / ``json_list``: the same, and the top-level shape.
- ``model(cls, body, key)``: a pydantic record (its config should refuse inf/NaN).
- ``integer`` / ``number`` / ``text``: one field, with bounds.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from pitstop.errors import CorruptObject, validation_message

MAX_INT = 2**63 - 1  # no field pitstop reads is larger (milliseconds, bytes, counts)
M = TypeVar("M", bound=BaseModel)


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(f"{text[:20]} is too large for a number")
    return value


def _null_constant(name: str) -> Any:
    return None


def _float_or_null(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def load_json(
    body: bytes | str, key: str, *, non_finite: Literal["refuse", "null"] = "refuse"
) -> Any:
    """The JSON document in ``body``; ``CorruptObject`` naming ``key`` when it is not one."""
    try:
        if non_finite == "null":
            return json.loads(body, parse_constant=_null_constant, parse_float=_float_or_null)
        return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NonFinite as e:
        raise CorruptObject(f"{key}: {e}", key=key) from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError, int digits limit
        raise CorruptObject(f"{key}: not valid JSON ({_short(e)})", key=key) from None
    except RecursionError:
        raise CorruptObject(f"{key}: nested too deeply to read", key=key) from None


def json_object(
    body: bytes | str, key: str, *, non_finite: Literal["refuse", "null"] = "refuse"
) -> dict[str, Any]:
    doc = load_json(body, key, non_finite=non_finite)
    if not isinstance(doc, dict):
        raise CorruptObject(f"{key}: a JSON {_kind(doc)}, not an object", key=key)
    return doc


def json_list(doc: dict[str, Any], field: str, key: str) -> list[Any]:
    value = doc.get(field)
    if not isinstance(value, list):
        raise CorruptObject(f"{key}: {field!r} is {_kind(value)}, not a list", key=key)
    return value


def model(cls: type[M], body: bytes | str, key: str, what: str | None = None) -> M:
    """``cls`` validated from ``body``; one line naming the first bad field otherwise."""
    doc = json_object(body, key)
    try:
        return cls.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        name = what or cls.__name__
        raise CorruptObject(
            f"{key}: unreadable {name}: {loc + ': ' if loc else ''}{validation_message(err)}",
            key=key,
        ) from None


def integer(
    row: dict[str, Any],
    field: str,
    key: str,
    *,
    default: int | None = None,
    lo: int = 0,
    hi: int = MAX_INT,
) -> int:
    """``row[field]`` as an int in [lo, hi] (an integral float such as 900.0 counts)."""
    value = row.get(field, default)
    if value is None and default is not None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CorruptObject(f"{key}: {field!r} is {_kind(value)}, not a whole number", key=key)
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise CorruptObject(f"{key}: {field!r} is {value!r}, not a whole number", key=key)
    out = int(value)
    if not lo <= out <= hi:
        raise CorruptObject(f"{key}: {field!r} is {out}, outside [{lo}, {hi}]", key=key)
    return out


def number(
    row: dict[str, Any],
    field: str,
    key: str,
    *,
    default: float | None = None,
    lo: float = -math.inf,
    hi: float = math.inf,
) -> float:
    """``row[field]`` as a finite float in [lo, hi]."""
    value = row.get(field, default)
    if value is None and default is not None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CorruptObject(f"{key}: {field!r} is {_kind(value)}, not a number", key=key)
    out = float(value)
    if not math.isfinite(out) or not lo <= out <= hi:
        raise CorruptObject(f"{key}: {field!r} is {value!r}, outside [{lo:g}, {hi:g}]", key=key)
    return out


def text(
    row: dict[str, Any], field: str, key: str, *, default: str | None = None, max_len: int = 1000
) -> str:
    value = row.get(field, default)
    if not isinstance(value, str):
        raise CorruptObject(f"{key}: {field!r} is {_kind(value)}, not text", key=key)
    if len(value) > max_len:
        raise CorruptObject(f"{key}: {field!r} is longer than {max_len} characters", key=key)
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    return {dict: "object", list: "list", str: "text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _short(e: BaseException) -> str:
    s = str(e)
    return s if len(s) <= 120 else s[:117] + "..."
