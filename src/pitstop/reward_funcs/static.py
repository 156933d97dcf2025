"""Static checks of a reward function's source: cheap, no code of the file is run.

Rules (the first one broken becomes the report's reason):

- ``encoding``: the file is UTF-8 text.
- ``syntax``: it parses at all, then it parses as Python 3.8 (simapp up to 5.3.3 runs 3.8).
- ``python38``: names that do not exist in Python 3.8's ``math`` module (``math.cbrt``...).
- ``import``: imports only from the console's allow-list (math, random, numpy, scipy,
  shapely; ``__future__`` is accepted as it imports nothing).
- ``forbidden``: no file, network, process or dynamic-code access: ``open``, ``eval``,
  ``exec``, ``compile``, ``__import__``, ``input``, ``breakpoint``, ``globals``... and no
  dunder attributes (``__builtins__``, ``__subclasses__``...) to reach them indirectly;
  NumPy's file functions (``np.load``, ``np.save``, ``tofile``...) count as file access.
- ``signature``: a top-level ``def reward_function(params)`` taking one positional argument.

These checks are a gate, not a sandbox: the dynamic check runs the file in a child process
with resource limits (``sandbox``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

ALLOWED_MODULES = ("math", "random", "numpy", "scipy", "shapely")
FUNCTION_NAME = "reward_function"

FORBIDDEN_CALLS = {
    "open": "file access",
    "eval": "dynamic code",
    "exec": "dynamic code",
    "compile": "dynamic code",
    "__import__": "dynamic import",
    "input": "console input",
    "breakpoint": "debugger",
    "globals": "introspection",
    "locals": "introspection",
    "vars": "introspection",
    "getattr": "indirect attribute access",
    "setattr": "indirect attribute access",
    "delattr": "indirect attribute access",
    "exit": "process exit",
    "quit": "process exit",
    "help": "interactive help",
    "memoryview": "raw memory access",
}
# attribute names that read or write files (numpy, scipy.io) or reach the interpreter
FORBIDDEN_ATTRIBUTES = {
    "load": "file access",
    "loadtxt": "file access",
    "genfromtxt": "file access",
    "fromfile": "file access",
    "fromregex": "file access",
    "memmap": "file access",
    "save": "file access",
    "savez": "file access",
    "savez_compressed": "file access",
    "savetxt": "file access",
    "tofile": "file access",
    "DataSource": "file or network access",
    "ctypeslib": "raw memory access",
    "loadmat": "file access",
    "savemat": "file access",
    "system": "process access",
    "popen": "process access",
}
ALLOWED_DUNDERS = {"__name__", "__doc__", "__init__", "__class__"}

# Python 3.8's math module; anything else under ``math.`` fails on the 3.8 simulator.
MATH_38 = frozenset(
    [
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atan2",
        "atanh",
        "ceil",
        "comb",
        "copysign",
        "cos",
        "cosh",
        "degrees",
        "dist",
        "e",
        "erf",
        "erfc",
        "exp",
        "expm1",
        "fabs",
        "factorial",
        "floor",
        "fmod",
        "frexp",
        "fsum",
        "gamma",
        "gcd",
        "hypot",
        "inf",
        "isclose",
        "isfinite",
        "isinf",
        "isnan",
        "isqrt",
        "ldexp",
        "lgamma",
        "log",
        "log10",
        "log1p",
        "log2",
        "modf",
        "nan",
        "perm",
        "pi",
        "pow",
        "prod",
        "radians",
        "remainder",
        "sin",
        "sinh",
        "sqrt",
        "tan",
        "tanh",
        "tau",
        "trunc",
    ]
)
MATH_ADDED = {
    "lcm": "3.9",
    "nextafter": "3.9",
    "ulp": "3.9",
    "cbrt": "3.11",
    "exp2": "3.11",
    "sumprod": "3.12",
    "fma": "3.13",
}

_NEWER_SYNTAX = {
    "Pattern matching": "match statement",
    "Parenthesized context managers": "parenthesized context managers",
    "Exception groups": "except* (exception groups)",
}


@dataclass(frozen=True)
class StaticProblem:
    rule: str
    line: int | None
    message: str

    def describe(self, filename: str) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{filename}: {where}{self.message}"


def _module_root(name: str | None) -> str:
    return (name or "").split(".")[0]


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.problems: list[StaticProblem] = []
        self.math_aliases = {"math"}
        self.math_names: dict[str, str] = {}

    def add(self, rule: str, node: ast.AST, message: str) -> None:
        self.problems.append(StaticProblem(rule, getattr(node, "lineno", None), message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = _module_root(alias.name)
            if root not in ALLOWED_MODULES:
                self.add("import", node, _import_message(alias.name))
            elif alias.name == "math":
                self.math_aliases.add(alias.asname or "math")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        root = _module_root(node.module)
        if node.level:
            self.add("import", node, "relative imports are not allowed (the file runs alone)")
        elif root == "__future__":
            pass
        elif root not in ALLOWED_MODULES:
            self.add("import", node, _import_message(node.module or ""))
        elif node.module == "math":
            for alias in node.names:
                if alias.name != "*" and alias.name not in MATH_38:
                    self.add("python38", node, _math_message(alias.name))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            what = FORBIDDEN_CALLS[node.func.id]
            self.add("forbidden", node, f"{node.func.id}(...) is not allowed ({what})")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__") and node.id.endswith("__") and node.id not in ALLOWED_DUNDERS:
            self.add("forbidden", node, f"{node.id} is not allowed (interpreter internals)")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__") and attr not in ALLOWED_DUNDERS:
            self.add("forbidden", node, f".{attr} is not allowed (interpreter internals)")
        elif attr in FORBIDDEN_ATTRIBUTES:
            self.add(
                "forbidden", node, f".{attr}(...) is not allowed ({FORBIDDEN_ATTRIBUTES[attr]})"
            )
        elif (
            isinstance(node.value, ast.Name)
            and node.value.id in self.math_aliases
            and attr not in MATH_38
        ):
            self.add("python38", node, _math_message(attr))
        self.generic_visit(node)


def _import_message(name: str) -> str:
    allowed = ", ".join(ALLOWED_MODULES)
    return f"import of {name!r} is not allowed (the console allows: {allowed})"


def _math_message(name: str) -> str:
    if name in MATH_ADDED:
        return f"math.{name} does not exist in Python 3.8 (added in {MATH_ADDED[name]})"
    return f"math.{name} does not exist in Python 3.8"


def _newer_syntax_name(host_tree: ast.Module, message: str) -> str:
    for prefix, label in _NEWER_SYNTAX.items():
        if message.startswith(prefix):
            return label
    return message


def _match_line(host_tree: ast.Module) -> int | None:
    for node in ast.walk(host_tree):
        if type(node).__name__ == "Match":
            return getattr(node, "lineno", None)
    return None


def check_source(text: str) -> list[StaticProblem]:
    """All static problems of ``text``, in source order within each rule group."""
    try:
        host_tree = ast.parse(text)
    except SyntaxError as e:
        return [StaticProblem("syntax", e.lineno, f"syntax error: {e.msg}")]
    except ValueError as e:  # e.g. source with NUL bytes
        return [StaticProblem("syntax", None, f"cannot parse: {e}")]
    try:
        ast.parse(text, feature_version=(3, 8))
    except SyntaxError as e:
        label = _newer_syntax_name(host_tree, e.msg)
        line = e.lineno
        if label == "match statement":
            line = _match_line(host_tree) or line
        return [StaticProblem("syntax", line, f"Python 3.8 cannot parse this ({label})")]

    checker = _Checker()
    checker.visit(host_tree)
    problems = sorted(checker.problems, key=lambda p: p.line or 0)

    funcs = [
        n
        for n in host_tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == FUNCTION_NAME
    ]
    if not funcs:
        others = [
            n.name for n in host_tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        found = f" (found: {', '.join(others)})" if others else ""
        problems.append(
            StaticProblem(
                "signature", None, f"no top-level function named {FUNCTION_NAME}(params){found}"
            )
        )
    else:
        fn = funcs[-1]
        args = fn.args
        positional = len(args.posonlyargs) + len(args.args)
        required = positional - len(args.defaults)
        if isinstance(fn, ast.AsyncFunctionDef):
            problems.append(
                StaticProblem("signature", fn.lineno, f"{FUNCTION_NAME} must not be async")
            )
        elif not (required <= 1 <= positional or (required <= 1 and args.vararg)):
            problems.append(
                StaticProblem(
                    "signature",
                    fn.lineno,
                    f"{FUNCTION_NAME} must take exactly one argument (params), "
                    f"it takes {positional}",
                )
            )
    return problems
