"""Reading a user's file with the one-line errors every command gives (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

from pitstop.errors import InvalidInput


def read_user_file(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The file's bytes; ``InvalidInput`` naming the file when it is missing or unreadable."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{p}: no such {what}") from None
    except IsADirectoryError:
        raise InvalidInput(f"{p}: is a directory, not a {what}") from None
    except OSError as e:
        raise InvalidInput(f"{p}: cannot read ({e.strerror or e})") from None
