"""Read plan YAML strictly, keeping where every value came from.

Plans are edited by many people, so the loader refuses what PyYAML would silently
"fix": duplicate keys (PyYAML keeps the last), YAML 1.1 implicit types (`no` -> False,
`0123` -> 83, `10:30` -> 630, `2024-01-05` -> date). Only `true`/`false`, `null`/`~`,
decimal integers without a leading zero and plain decimal floats are typed; every other
plain scalar stays the string that was written. A value of the wrong type is then
reported by the schema check, at its line, with a hint.

We compose the node tree ourselves and construct plain Python values from it, so that
(1) alias expansion can be bounded (an "alias bomb" is refused, not expanded), and
(2) any value can be traced back to its line and column through `Document.where`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from crmspec.core.diagnostics import Diagnostic, PlanError

MAX_NODES = 200_000  # values repeated by aliases per file; real plans repeat a few dozen
MAX_DEPTH = 100  # nesting of mappings/lists; real plans need about ten levels

_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|(0|[1-9][0-9]*)(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}


class _BoundedComposer(yaml.composer.Composer):
    """PyYAML's composer with the nesting bounded before Python's stack is."""

    # Own copy, so that resolvers of other SafeLoader users are untouched. With no
    # implicit resolvers every plain scalar composes as a str-tagged node; `_scalar`
    # then applies crmspec's small, YAML-1.2-like typing.
    yaml_implicit_resolvers: dict = {}
    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"values are nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Loader(_BoundedComposer, yaml.SafeLoader):
    """SafeLoader that composes nodes only: typing is done by `_construct`. Pure Python:
    the reference, whose messages the diagnostics quote."""


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastLoader(_BoundedComposer, CParser, yaml.resolver.BaseResolver):
        """The same node tree from libyaml's parser (ten times faster: most of
        `crmspec validate` was PyYAML's pure-Python scanner), composed by the bounded
        composer above (libyaml's own composer recurses in C without a bound). Used for
        files that parse; a file that does not is parsed again by `_Loader`, so that its
        diagnostic is the same whichever parser is installed."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.resolver.BaseResolver.__init__(self)

        def compose_scalar_node(self, anchor):
            node = super().compose_scalar_node(anchor)
            if node.style == "":  # libyaml's plain style; PyYAML's is None
                node.style = None
            return node

else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = None


def _with_source(node: Node, text: str, seen: set[int] | None = None) -> Node:
    """Give libyaml's marks the source text and position PyYAML's carry (`buffer`,
    `pointer`): locating a spot inside a scalar (an `sql:` filter's error) reads them.
    libyaml counts `index` in characters, as PyYAML counts `pointer` in a str."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return node
    seen.add(id(node))
    for attr in ("start_mark", "end_mark"):
        m = getattr(node, attr)
        setattr(node, attr, yaml.Mark(m.name, m.index, m.line, m.column, text, m.index))
    if isinstance(node, SequenceNode):
        for child in node.value:
            _with_source(child, text, seen)
    elif isinstance(node, MappingNode):
        for k, v in node.value:
            _with_source(k, text, seen)
            _with_source(v, text, seen)
    return node


def _compose(text: str) -> Node | None:
    """The node tree of a file that parses, through libyaml when it is there; None
    when it does not parse (`load_text` then reports why with the reference loader)."""
    if _FastLoader is None or yaml.reader.Reader.NON_PRINTABLE.search(text):
        return None
    loader = _FastLoader(text)
    try:
        root = loader.get_single_node()
        return None if root is None else _with_source(root, text)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


@dataclass
class Document:
    """One parsed plan file: its data and the node tree to locate values in."""

    path: str  # as shown in diagnostics (relative to the project root)
    data: Any
    root: Node

    def node(self, path: tuple) -> tuple[Node | None, Node | None]:
        """(key node, value node) at a JSON path; the deepest existing ones if absent."""
        key: Node | None = None
        node: Node = self.root
        for part in path:
            if isinstance(node, MappingNode):
                found = None
                for k, v in _pairs(node):
                    if isinstance(k, ScalarNode) and k.value == str(part):
                        found = (k, v)
                if found is None:
                    return key, node
                key, node = found
            elif isinstance(node, SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return key, node
                key, node = None, node.value[part]
            else:
                return key, node
        return key, node

    def where(self, path: tuple = (), key: bool = False) -> tuple[int, int]:
        """1-based (line, col) of the value at `path`, or of its key when `key`."""
        k, v = self.node(tuple(path))
        target = k if (key and k is not None) else v
        mark = (target or self.root).start_mark
        return mark.line + 1, mark.column + 1

    def diag(
        self, path: tuple, code: str, message: str, hint: str | None = None, key: bool = False
    ) -> Diagnostic:
        line, col = self.where(path, key=key)
        return Diagnostic(self.path, line, col, code, message, hint)


def _pairs(node: MappingNode):
    """Key/value node pairs, with `<<` merge keys expanded (explicit keys win)."""
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.tag == "tag:yaml.org,2002:merge" or (
            isinstance(k, ScalarNode) and k.value == "<<" and k.style is None
        ):
            sources = v.value if isinstance(v, SequenceNode) else [v]
            for src in sources:
                if isinstance(src, MappingNode):
                    yield from _pairs(src)
    for k, v in node.value:
        if not (isinstance(k, ScalarNode) and k.value == "<<" and k.style is None):
            yield k, v


def _scalar(node: ScalarNode) -> Any:
    value = node.value
    if node.style is not None or node.tag not in ("tag:yaml.org,2002:str", "!"):
        # Quoted, block or explicitly tagged: the text is the value.
        if node.tag == "tag:yaml.org,2002:int" and _INT.match(value):
            return int(value)
        return value
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value) and any(c.isdigit() for c in value):
        return float(value)
    return value


_KIND_OF = {list: "a list", str: "text", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}


class _Builder:
    def __init__(self, path: str):
        self.path = path
        self.count = 0
        # Collections being built, each with whether this is its first build (later ones
        # come through an alias). An alias to an open collection is a cycle.
        self.open: list[tuple[Node, bool]] = []
        self.built: set[int] = set()
        self.seen: set[int] = set()  # every node built so far (scalars too)

    def fail(self, node: Node, code: str, message: str, hint: str | None = None):
        m = node.start_mark
        raise PlanError([Diagnostic(self.path, m.line + 1, m.column + 1, code, message, hint)])

    def build(self, node: Node) -> Any:
        # Only values built a second time count: those an alias repeats. A long plain list
        # costs what its text costs (the parser has read it already); an alias bomb is
        # small text that expands.
        if id(node) in self.seen:
            self.count += 1
        else:
            self.seen.add(id(node))
        if self.count > MAX_NODES:
            # Blame the innermost value written in place, not a value deep in an anchor.
            self.fail(
                next((n for n, first in reversed(self.open) if first), node),
                "E106",
                f"the document expands to more than {MAX_NODES} values through aliases",
                "use fewer anchors/aliases (*name); a plan never needs this many",
            )
        if isinstance(node, ScalarNode):
            return _scalar(node)
        if any(node is n for n, _ in self.open):
            self.fail(
                node,
                "E106",
                "an alias refers to the value that contains it: it would expand forever",
                "an alias (*name) must not be used inside its own anchor (&name)",
            )
        if len(self.open) >= MAX_DEPTH:
            self.fail(node, "E101", f"values are nested more than {MAX_DEPTH} levels deep")
        self.open.append((node, id(node) not in self.built))
        self.built.add(id(node))
        try:
            return self._collection(node)
        finally:
            self.open.pop()

    def _collection(self, node: Node) -> Any:
        if isinstance(node, SequenceNode):
            return [self.build(n) for n in node.value]
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            seen: dict[str, Node] = {}
            for k, _ in node.value:
                if isinstance(k, ScalarNode) and k.value == "<<" and k.style is None:
                    continue
                if not isinstance(k, ScalarNode):
                    self.fail(k, "E101", "mapping keys must be plain text")
                if k.value in seen:
                    first = seen[k.value].start_mark
                    self.fail(
                        k,
                        "E102",
                        f"duplicate key '{k.value}' (first defined at line {first.line + 1})",
                        "remove one of them; YAML would silently keep only the last",
                    )
                seen[k.value] = k
            for k, v in _pairs(node):
                out[k.value] = self.build(v)
            return out
        self.fail(node, "E101", "unsupported YAML node")  # pragma: no cover


def load_text(text: str, path: str) -> Document:
    """Parse YAML text shown as `path` in diagnostics. Raises PlanError."""
    root = _compose(text)
    if root is None:
        root = _compose_reporting(text, path)
    if root is None or (
        isinstance(root, ScalarNode) and root.value == "" and root.style is None
    ):
        raise PlanError(
            [Diagnostic(path, 1, 1, "E104", "the file is empty", "remove it or fill it in")]
        )
    data = _Builder(path).build(root)
    if not isinstance(data, dict):
        m = root.start_mark
        raise PlanError(
            [
                Diagnostic(
                    path,
                    m.line + 1,
                    m.column + 1,
                    "E105",
                    f"the document is {_KIND_OF.get(type(data), 'a value')}, "
                    "not a mapping of keys to values",
                    "a plan file starts with keys, e.g. `name: ...`",
                )
            ]
        )
    return Document(path, data, root)


def _compose_reporting(text: str, path: str) -> Node | None:
    """The node tree by the pure-Python loader, whose errors become diagnostics."""
    try:
        loader = _Loader(text)  # checks every character first (ReaderError)
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        message = f"character U+{exc.character:04X} is not allowed in YAML"
        hint = "remove it (control characters are often pasted by accident)"
        raise PlanError([Diagnostic(path, line, col, "E101", message, hint)]) from None
    loader.name = path
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if "expected a single document" in str(exc):
            raise PlanError(
                [
                    Diagnostic(
                        path,
                        line,
                        col,
                        "E107",
                        "more than one YAML document (---) in this file",
                        "keep one document per file",
                    )
                ]
            ) from None
        ctx = f" ({exc.context})" if exc.context else ""
        start = exc.context_mark
        if ctx and start and mark and start.line != mark.line:
            ctx = f" ({exc.context} started at line {start.line + 1})"
        raise PlanError([Diagnostic(path, line, col, "E101", f"{problem}{ctx}")]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every other error is marked
        raise PlanError([Diagnostic(path, 1, 1, "E101", str(exc).splitlines()[0])]) from None
    finally:
        loader.dispose()
    return root


def load_file(file: Path, shown_as: str | None = None) -> Document:
    """Read and parse one plan file. Raises PlanError (never a bare exception)."""
    path = shown_as or str(file)
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]  # valid UTF-8: the decoder stops at the first bad byte
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8")) + 1  # characters
        raise PlanError(
            [
                Diagnostic(
                    path,
                    line,
                    col,
                    "E103",
                    f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                    "save it as UTF-8 (GBK/GB2312 files must be converted)",
                )
            ]
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return load_text(text, path)
