"""`pitstop hyperparameters generate | check`: hyperparameters.json with DRfC's defaults,
checked against the console's ranges. A thin layer over ``pitstop.action_space``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pitstop.cli.common import read_input
from pitstop.cli.output import add_json_flag, print_json
from pitstop.errors import UsageError


def _hp_generate(args: argparse.Namespace) -> int:
    from pitstop.action_space.hyperparameter_specs import SPECS
    from pitstop.action_space.hyperparameters import (
        check_hyperparameters,
        default_hyperparameters,
    )
    from pitstop.action_space.io import write_text

    doc = default_hyperparameters()
    for spec in SPECS:
        value = getattr(args, spec.key)
        if value is not None:
            doc[spec.key] = value
    problems = check_hyperparameters(doc)
    if problems:
        raise UsageError(
            f"{problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    text = json.dumps(doc, indent=4) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    write_text(args.out, text)
    if args.json:
        print_json({"out": args.out, "hyperparameters": doc})
    else:
        print(f"wrote {args.out}")
    return 0


def _hp_check(args: argparse.Namespace) -> int:
    from pitstop.action_space.hyperparameters import check_hyperparameters, hyperparameter_warnings
    from pitstop.action_space.io import loads_json

    text, source = read_input(args.file)
    doc = loads_json(text, source)
    problems = check_hyperparameters(doc)
    warnings = hyperparameter_warnings(doc)
    if args.json:
        print_json(
            {"file": source, "valid": not problems, "problems": problems, "warnings": warnings}
        )
    else:
        for line in problems:
            print(f"{source}: {line}")
        for line in warnings:
            print(f"{source}: warning: {line}", file=sys.stderr)
        if not problems:
            print(f"{source}: valid")
    return 1 if problems else 0


def _register_hyperparameters(sub: Any) -> None:
    from pitstop.action_space.hyperparameter_specs import SPECS

    p = sub.add_parser(
        "hyperparameters",
        help="generate and check hyperparameters.json",
        description="hyperparameters.json with DRfC's defaults and the console's ranges.",
    )
    p.set_defaults(group_parser=p)
    hs = p.add_subparsers(dest="hp_command", metavar="COMMAND", parser_class=type(p))

    g = hs.add_parser(
        "generate",
        help="print (or --out) hyperparameters.json: DRfC's defaults, overridden by options",
        description="DRfC's default hyperparameters.json; each --KEY overrides one value, "
        "checked against the console's ranges.",
        epilog="example: pitstop hyperparameters generate --lr 0.0001 --batch-size 128 "
        "--out hyperparameters.json",
    )
    for spec in SPECS:
        kind: Any = spec.kind
        if spec.choices:
            allowed = "|".join(str(c) for c in spec.choices)
        elif spec.low is not None and spec.high is not None:
            allowed = f"{spec.low:g}..{spec.high:g}"
        elif spec.low is not None:
            allowed = f"{'>' if spec.above_low else '>='} {spec.low:g}"
        else:
            allowed = "any"
        g.add_argument(
            f"--{spec.key.replace('_', '-')}",
            dest=spec.key,
            type=kind,
            metavar="V",
            help=f"{spec.help} ({allowed}; default {spec.default!r})",
        )
    g.add_argument("--out", metavar="FILE", help="write here instead of printing JSON")
    add_json_flag(g)
    g.set_defaults(func=_hp_generate)

    c = hs.add_parser(
        "check",
        help="check hyperparameters.json (exit 0 valid, 1 invalid)",
        description="One line per problem, naming its key; unknown keys are warnings.",
    )
    c.add_argument("file", metavar="FILE", help="hyperparameters.json ('-' for standard input)")
    add_json_flag(c)
    c.set_defaults(func=_hp_check)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``hyperparameters`` group to the top-level parser."""
    _register_hyperparameters(sub)
