"""Fixtures for the image builder tests: fixed settings and options, a golden-file check."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pitstop.config import Settings, load_settings
from pitstop.image_builder.options import ImageOptions, PitstopSource

GOLDEN = Path(__file__).parent / "golden"
WHEEL_URI = (
    "s3://my-deepracer-bucket/pitstop/image-builder/wheels/0123456789abcdef/"
    "pitstop-0.1.0-py3-none-any.whl"
)


@pytest.fixture
def settings() -> Settings:
    return load_settings(None, bucket="my-deepracer-bucket", region="eu-west-1")


@pytest.fixture
def options() -> ImageOptions:
    return ImageOptions(source=PitstopSource.parse(WHEEL_URI))


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare ``text`` with golden/NAME; PITSTOP_UPDATE_GOLDEN=1 rewrites it on purpose."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("PITSTOP_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.is_file(), f"no golden file {path}; run with PITSTOP_UPDATE_GOLDEN=1"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, (
            f"{name} differs from its golden file; if the change is intended, "
            "rerun with PITSTOP_UPDATE_GOLDEN=1 and review the diff"
        )

    return check
