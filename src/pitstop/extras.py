"""Optional dependencies: which extra brings which library, and the one-line error without it.

A GPU instance installs pitstop's runtime dependencies only (what the supervisor and the
queue commands need). Pictures (matplotlib), SSH to instances (paramiko) and the demo's
embedded S3 server (moto) come with the ``plot``, ``ssh`` and ``demo`` extras; ``all``
has the three. A command that needs a missing one says exactly what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pitstop.errors import MissingExtra

# top-level module -> the extra that installs it
EXTRA_OF = {
    "matplotlib": "plot",
    "paramiko": "ssh",
    "moto": "demo",
    "flask": "demo",
    "flask_cors": "demo",
}


def install_hint(extra: str) -> str:
    # pitstop is installed from its clone (it is on no package index)
    return f"pip install '.[{extra}]' in pitstop's clone (or '.[all]')"


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` (e.g. ``"matplotlib"``, ``"moto.server"``); ``MissingExtra`` naming
    the extra and the install line when it (or one of its own imports) is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        extra = EXTRA_OF[top]
        missing = e.name or top
        raise MissingExtra(
            f"{feature} needs {missing}, which comes with pitstop's {extra!r} extra: "
            f"{install_hint(extra)}"
        ) from None
