"""Jinja2 templates shipped with pitstop, and one environment to render them."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pitstop", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=jinja2.select_autoescape(["html", "xml"]),
    )


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
