"""The layout rules of docs/architecture.md, as checks over a source tree.

Each check takes the root of a tree (the repository, or a small copy a test builds) and
returns its violations as "path:line: what" strings, sorted, paths relative to the root.
They read the code with `ast`, so text in docstrings and comments never counts.

App code is every `.py` file under the root but `tests/`, `benchmarks/`, `migrations/`
folders and hidden ones (`.venv`, `.git`).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROJECT_PACKAGES = frozenset(
    ("accounts", "api", "bulk", "config", "engine", "momentum", "ops", "quotes")
)
_NOT_APP_CODE = frozenset(("tests", "benchmarks", "migrations", "__pycache__", "node_modules"))

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Long by nature: one settings file, sections with a comment each (STYLE.md, 15).
LONG_MODULES_ALLOWED = frozenset(("config/settings.py",))

# A function-level import of a project module, where one is not a dodge but the only way.
FUNCTION_IMPORTS_ALLOWED = {
    # Django's documented place to connect signal handlers: the app registry is ready.
    ("ops/apps.py", "OpsConfig.ready"),
    ("engine/apps.py", "EngineConfig.ready"),
    # ops.logging is loaded by settings.LOGGING, which Django configures before the app
    # registry is ready: a module-level model import there raises AppRegistryNotReady.
    ("ops/logging.py", "_row_of_quote"),
}


@dataclass(frozen=True)
class Import:
    line: int
    module: str
    # The qualified name of the function the import sits in, or "" at module level.
    function: str

    @property
    def package(self) -> str:
        return self.module.partition(".")[0]


# --- Reading a tree ---------------------------------------------------------------------


def app_modules(root: Path) -> Iterator[tuple[str, ast.Module]]:
    """(path relative to root, parsed module) for every app module, in path order."""
    paths = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".")
            and name not in _NOT_APP_CODE
            and not name.endswith(".egg-info")
        )
        paths += [Path(folder, name) for name in files if name.endswith(".py")]
    for path in sorted(paths):
        relative = path.relative_to(root).as_posix()
        yield relative, ast.parse(path.read_text(), filename=relative)


def module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def walk_in_functions(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """(node, qualified name of the function it sits in, or "") for every node of tree."""
    for node, scope in _walk(tree, ()):
        in_function = any(not isinstance(outer, ast.ClassDef) for outer in scope)
        yield node, ".".join(_name(outer) for outer in scope) if in_function else ""


def qualified_names(tree: ast.AST) -> Iterator[tuple[ast.FunctionDef, str]]:
    """(function, its qualified name: Class.method, outer.inner) for every def in tree."""
    for node, scope in _walk(tree, ()):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node, ".".join(_name(outer) for outer in (*scope, node))


_SCOPES = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _walk(tree: ast.AST, scope: tuple) -> Iterator[tuple[ast.AST, tuple]]:
    for child in ast.iter_child_nodes(tree):
        yield from _walk_node(child, scope)


def _walk_node(node: ast.AST, scope: tuple) -> Iterator[tuple[ast.AST, tuple]]:
    """node and every node under it, with the classes and functions each sits in. Only a
    body is inside its function or class: decorators, defaults, annotations are outside."""
    yield node, scope
    body = []
    if isinstance(node, _SCOPES):
        body = node.body if isinstance(node.body, list) else [node.body]
    for part in ast.iter_child_nodes(node):
        inside = any(part is statement for statement in body)
        yield from _walk_node(part, (*scope, node) if inside else scope)


def _name(node: ast.AST) -> str:
    return getattr(node, "name", "<lambda>")


def imports(path: str, tree: ast.Module) -> list[Import]:
    """Every import in a module: statements, and import_module/__import__ of a constant."""
    package = module_name(path).split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    found = []
    for node, function in walk_in_functions(tree):
        if isinstance(node, ast.Import):
            found += [Import(node.lineno, alias.name, function) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append(Import(node.lineno, module, function))
        elif _is_dynamic_import(node):
            found.append(Import(node.lineno, node.args[0].value, function))
    return found


def _is_dynamic_import(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and _called_name(node) in ("import_module", "__import__")
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _in_folder(path: str, folder: str) -> bool:
    return path.startswith(folder + "/")


def in_order(violations: list[str]) -> list[str]:
    """Violations by path, then line number."""

    def key(violation: str) -> tuple[str, int, str]:
        path, _, rest = violation.partition(":")
        line = rest.partition(":")[0]
        return path, int(line) if line.isdigit() else 0, violation

    return sorted(set(violations), key=key)


# --- Which way dependencies run ------------------------------------------------------------


def imports_in(app: str, names: str, root: Path = ROOT) -> list[str]:
    """Imports, in app's modules, of a package whose name matches the regex `names`."""
    pattern = re.compile(rf"({names})(\..*)?")
    return in_order(
        [
            f"{path}:{found.line}: imports {found.module}"
            for path, tree in app_modules(root)
            if _in_folder(path, app)
            for found in imports(path, tree)
            if pattern.fullmatch(found.module)
        ]
    )


# engine → bulk → quotes → momentum: no app imports one above it.
LAYERS_ABOVE = {"quotes": "bulk|engine", "momentum": "bulk|engine|quotes", "bulk": "engine"}


def upward_imports(root: Path) -> list[str]:
    """An app importing a layer above it (LAYERS_ABOVE), or anything but config importing
    ops (it sits on top) or engine (lower layers wake it through config.celery)."""
    found = []
    for app, above in LAYERS_ABOVE.items():
        found += imports_in(app, above, root)
    for path, tree in app_modules(root):
        app = path.partition("/")[0]
        found += [
            f"{path}:{each.line}: imports {each.module}"
            for each in imports(path, tree)
            if (each.package == "ops" and app not in ("ops", "config"))
            or (each.package == "engine" and app not in ("engine", "config"))
        ]
    return in_order(found)


# --- a. Writes to Quote outside quotes/ ------------------------------------------------------

# Methods that write: on a manager or queryset (update, create, ...), on a related manager
# (add, remove, set, clear), on an instance (save, delete); and their async twins.
_WRITES = {
    "update", "create", "bulk_create", "bulk_update", "get_or_create", "update_or_create",
    "delete", "save", "add", "remove", "set", "clear",
}  # fmt: skip
QUOTE_WRITES = frozenset(_WRITES | {"a" + name for name in _WRITES})
# Methods of a Quote queryset or instance whose result is no longer quotes.
_NOT_QUOTES = frozenset({
    "values", "values_list", "count", "exists", "aggregate", "in_bulk", "explain", "contains",
    "dates", "datetimes", "acount", "aexists", "aaggregate", "acontains",
})  # fmt: skip
# Relations whose far side is a Quote: BatchQuote.quote, Lead.quotes, Quote.takers and
# Quote.taken_from (quotes/models.py, bulk/models/jobs.py).
QUOTE_RELATIONS = frozenset(("quote", "quotes", "takers", "taken_from"))
_MANAGERS = frozenset(("objects", "_default_manager", "_base_manager"))
_QUOTE = "quote"  # an instance, a queryset or a manager of Quote
_QUOTES = "quotes"  # a list (tuple, set, ...) of Quote instances
_QUOTE_CLASS = "class"
_CONTAINERS = frozenset(("list", "tuple", "set", "sorted", "reversed", "frozenset"))


# quotes/ owns every write to Quote. momentum/ cannot import it (upward_imports), and its
# sandbox has a Quote of its own.
QUOTE_WRITERS = ("quotes", "momentum")


def quote_writes(root: Path) -> list[str]:
    """A write to the Quote table outside quotes/, which owns every one: bulk/ reads
    quotes, never writes them, and no other app does either.

    A write is a call of a QUOTE_WRITES method on an expression that holds quotes:
    - `Quote(...)`, `Quote.objects` (Quote as imported from quotes.models, under any
      name, or `<x>.Quote`);
    - a relation to Quote (`row.quote`, `lead.quotes`, `quote.takers`, QUOTE_RELATIONS);
    - a method call on one of those, but values(), count(), exists() and the like
      (`Quote.objects.filter(...).select_for_update().get(...)`), or an item of one;
    - a name bound to one of those in the same function or an enclosing one (`x = ...`,
      `for x in ...`, comprehensions), or a parameter annotated `Quote`, `Quote | None`
      or `QuerySet[Quote]`; an item of a list of quotes (`list[Quote]`, `[Quote(...)]`,
      `list(Quote.objects...)`), though the list itself is no queryset: its clear() and
      remove() are not writes;
    - failing all that, a name ending in "quote" and not mentioning "batch", for
      `.save()` and `.delete()` (a quote handed over by a helper's return value).
    Reads (`Quote.objects.filter(...).values_list(...)`, `.get`, `.exists`) pass.
    """
    found = []
    for path, tree in app_modules(root):
        if not any(_in_folder(path, app) for app in QUOTE_WRITERS):
            found += [f"{path}:{line}: {what}" for line, what in _QuoteWrites(tree).found]
    return in_order(found)


class _QuoteWrites(ast.NodeVisitor):
    def __init__(self, tree: ast.Module) -> None:
        # Quote as imported from quotes.models (or not imported at all, in a small tree).
        imported = {
            alias.asname or alias.name: node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if alias.name == "Quote"
        }
        from_models = {name for name, module in imported.items() if module == "quotes.models"}
        self.classes = ({"Quote"} - imported.keys()) | from_models
        # The names of quotes (name: _QUOTE or _QUOTES) in each scope, innermost last.
        self.scopes: list[dict[str, str]] = []
        self.scopes.append(self.bound_in(tree, {}))
        self.found: list[tuple[int, str]] = []
        self.visit(tree)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        arguments = (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
        names = {
            argument.arg: kind
            for argument in arguments
            if (kind := self.annotated(argument.annotation)) is not None
        }
        self.scopes.append(self.bound_in(node, names))
        self.generic_visit(node)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in QUOTE_WRITES:
            by_name = (
                func.attr in ("save", "delete", "asave", "adelete")
                and isinstance(func.value, ast.Name)
                and func.value.id.lower().endswith("quote")
                and "batch" not in func.value.id.lower()
            )
            if by_name or self.kind(func.value) == _QUOTE:
                self.found.append((node.lineno, _chain(node)))
        self.generic_visit(node)

    def bound_in(self, scope: ast.AST, names: dict[str, str]) -> dict[str, str]:
        """names, and the names scope (not its nested functions) binds to quotes."""
        self.scopes.append(names)
        try:
            while True:
                before = len(names)
                for node in _own_nodes(scope):
                    annotated = isinstance(node, ast.AnnAssign) and isinstance(
                        node.target, ast.Name
                    )
                    if annotated and (kind := self.annotated(node.annotation)):
                        names[node.target.id] = kind
                    for target, value, iterated in _bindings(node):
                        kind = self.kind(value)
                        if iterated and kind is not None:
                            kind = _QUOTE
                        if isinstance(target, ast.Name) and kind in (_QUOTE, _QUOTES):
                            names[target.id] = kind
                if len(names) == before:
                    return names
        finally:
            self.scopes.pop()

    def annotated(self, annotation: ast.AST | None) -> str | None:
        """_QUOTE for `Quote`, `Quote | None`, `QuerySet[Quote]`; _QUOTES for `list[Quote]`."""
        if annotation is None:
            return None
        if isinstance(annotation, ast.BinOp):
            kinds = {self.annotated(annotation.left), self.annotated(annotation.right)}
            return _QUOTE if _QUOTE in kinds else _QUOTES if _QUOTES in kinds else None
        if isinstance(annotation, ast.Subscript):
            if self.annotated(annotation.slice) is None:
                return None
            outer = _chain(annotation.value).rpartition(".")[2]
            return _QUOTE if outer in ("Optional", "QuerySet", "Manager") else _QUOTES
        if isinstance(annotation, ast.Tuple):
            return next(filter(None, map(self.annotated, annotation.elts)), None)
        return _QUOTE if self.kind(annotation) == _QUOTE_CLASS else None

    def kind(self, node: ast.AST) -> str | None:
        """_QUOTE, _QUOTES, _QUOTE_CLASS or None for an expression."""
        if isinstance(node, ast.Name):
            if node.id in self.classes:
                return _QUOTE_CLASS
            return next((names[node.id] for names in self.scopes if node.id in names), None)
        if isinstance(node, ast.Attribute):
            if node.attr in QUOTE_RELATIONS:
                return _QUOTE
            if node.attr == "Quote":
                return _QUOTE_CLASS
            if node.attr in _MANAGERS and self.kind(node.value) == _QUOTE_CLASS:
                return _QUOTE
            return None
        if isinstance(node, ast.Call):
            return self._called(node)
        if isinstance(node, ast.Subscript):
            return _QUOTE if self.kind(node.value) in (_QUOTE, _QUOTES) else None
        if isinstance(node, ast.Await | ast.Starred):
            return self.kind(node.value)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return _QUOTES if any(self.kind(each) == _QUOTE for each in node.elts) else None
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            return _QUOTES if self.kind(node.elt) == _QUOTE else None
        return None

    def _called(self, node: ast.Call) -> str | None:
        func = node.func
        if self.kind(func) == _QUOTE_CLASS:
            return _QUOTE
        if isinstance(func, ast.Name) and func.id in _CONTAINERS and node.args:
            return _QUOTES if self.kind(node.args[0]) in (_QUOTE, _QUOTES) else None
        if isinstance(func, ast.Attribute) and func.attr not in _NOT_QUOTES:
            return _QUOTE if self.kind(func.value) == _QUOTE else None
        return None


def _chain(node: ast.AST) -> str:
    """`Quote.objects.filter(pk=1).update(status="x")` as "Quote.objects.filter().update()"."""
    if isinstance(node, ast.Call):
        return _chain(node.func) + "()"
    if isinstance(node, ast.Attribute):
        return f"{_chain(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return _chain(node.value) + "[]"
    return ast.unparse(node)


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(scope):
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from _own_nodes(child)


def _bindings(node: ast.AST) -> list[tuple[ast.AST, ast.AST, bool]]:
    """(target, value, whether the target takes the value's items) for a binding node."""
    if isinstance(node, ast.Assign):
        return [(target, node.value, False) for target in node.targets]
    if isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
        return [(node.target, node.value, False)]
    if isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
        return [(node.target, node.iter, True)]
    return []


# --- b. Naming an engine task ------------------------------------------------------------

ENGINE_TASK_NAME = re.compile(r"engine\.tasks(\.|$)")
# The one function that wakes the engine, and the Celery settings that route its tasks.
WAKE_FUNCTION = ("config/celery.py", "wake_engine")
CELERY_SETTINGS = ("config/settings.py", ("CELERY_TASK_ROUTES", "CELERY_BEAT_SCHEDULE"))


def engine_task_names(root: Path) -> list[str]:
    """A string naming an engine task ("engine.tasks…"), or a send_task call, anywhere in
    app code but engine/, config.celery.wake_engine and the Celery routes and beat schedule
    in config/settings.py."""
    found = []
    for path, tree in app_modules(root):
        if _in_folder(path, "engine"):
            continue
        settings_lines = _celery_settings_lines(tree) if path == CELERY_SETTINGS[0] else set()
        for node, function in walk_in_functions(tree):
            if (path, function.partition(".")[0]) == WAKE_FUNCTION:
                continue
            if isinstance(node, ast.Call) and _called_name(node) == "send_task":
                found.append(f"{path}:{node.lineno}: send_task")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and ENGINE_TASK_NAME.match(node.value)
                and node.lineno not in settings_lines
            ):
                found.append(f"{path}:{node.lineno}: names {node.value!r}")
    return in_order(found)


def _celery_settings_lines(tree: ast.Module) -> set[int]:
    lines = set()
    for statement in tree.body:
        targets = getattr(statement, "targets", [getattr(statement, "target", None)])
        if any(getattr(target, "id", None) in CELERY_SETTINGS[1] for target in targets):
            lines.update(range(statement.lineno, statement.end_lineno + 1))
    return lines


# --- c. Function-level imports -----------------------------------------------------------


def function_level_imports(root: Path) -> list[str]:
    """An import of a project package inside a function: a circle dodged (or a layer
    crossed out of sight) rather than a dependency stated at the top of the module.
    Third-party and standard-library imports inside functions are fine."""
    return in_order(
        [
            f"{path}:{each.line}: {each.function} imports {each.module}"
            for path, tree in app_modules(root)
            for each in imports(path, tree)
            if each.function
            and each.package in PROJECT_PACKAGES
            and (path, each.function) not in FUNCTION_IMPORTS_ALLOWED
        ]
    )


# --- d, e. Sizes ---------------------------------------------------------------------------


def long_modules(root: Path) -> list[str]:
    """An app module over MAX_MODULE_LINES lines (config/settings.py excepted)."""
    found = []
    for path, _ in app_modules(root):
        lines = len((root / path).read_text().splitlines())
        if lines > MAX_MODULE_LINES and path not in LONG_MODULES_ALLOWED:
            found.append(f"{path}: {lines} lines")
    return found


def long_functions(root: Path) -> list[str]:
    """A function over MAX_FUNCTION_LINES lines, counted from its `def` line (decorators
    excluded) to its last line."""
    return in_order(
        [
            f"{path}:{function.lineno}: {name} is {lines} lines"
            for path, tree in app_modules(root)
            for function, name in qualified_names(tree)
            if (lines := function.end_lineno - function.lineno + 1) > MAX_FUNCTION_LINES
        ]
    )
