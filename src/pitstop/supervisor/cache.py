"""The supervisor's local cache: which job it holds and how to find its trainer again.

S3 is the source of truth; this file only lets a restarted supervisor find the job it held
quickly and adopt a trainer that outlived it. It is replaced atomically (write, rename).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class LocalCache:
    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, **doc: Any) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        tmp.replace(self.path)

    def read(self) -> dict[str, Any]:
        """The cached document, or {} when there is none or it is unreadable."""
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
