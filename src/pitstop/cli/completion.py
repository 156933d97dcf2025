"""``pitstop completion bash|zsh|fish``: the shell code that completes pitstop's commands
and options (argcomplete answers the shell's requests from the parser itself, so new
commands complete without editing anything)."""

from __future__ import annotations

import argparse
from typing import Any

SHELLS = ("bash", "zsh", "fish")
WHERE = {
    "bash": 'eval "$(pitstop completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(pitstop completion zsh)"    # in ~/.zshrc (after compinit)',
    "fish": "pitstop completion fish > ~/.config/fish/completions/pitstop.fish",
}


def register(sub: argparse._SubParsersAction[Any]) -> None:
    p = sub.add_parser(
        "completion",
        help="print the shell code for tab completion (bash, zsh, fish)",
        description="Print the code that makes SHELL complete pitstop's commands and "
        "options. Install it with:\n  " + "\n  ".join(WHERE.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(func=_completion)


def _completion(args: Any) -> int:
    from argcomplete.shell_integration import shellcode

    print(shellcode(["pitstop"], shell=args.shell), end="")
    return 0
