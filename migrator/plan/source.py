"""YAML that remembers where every value came from (file:line:column).

PyYAML's composer gives nodes with marks; we build plain Python values from the nodes and a
:class:`SourceMap` from paths (``("phases", 0, "steps", 3, "id")``) to positions, so every
validation problem can point at its line. Scalars follow YAML 1.1 core types except that
timestamps stay strings (pydantic parses them, with a clear error when malformed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # the C composer is ~10x faster; fall back to the pure-Python one
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class SourceMap:
    """Positions of values (and of mapping keys) by path."""

    file: str
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)

    def at(self, path: PathKey, *, key: bool = False) -> Position:
        """The position of ``path``, or of its nearest recorded ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Position(self.file, 1, 1))


@dataclass(frozen=True)
class YamlIssue:
    """A problem found while reading the YAML itself (syntax, duplicate key)."""

    message: str
    position: Position
    hint: str | None = None


def _position(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


_RESOLVE = _Loader("")


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag == "tag:yaml.org,2002:timestamp":
        return node.value
    try:
        return _RESOLVE.construct_object(node, deep=True)
    finally:
        # PyYAML caches every constructed node; a long-lived process (the TUI) must not grow.
        _RESOLVE.constructed_objects.clear()
        _RESOLVE.recursive_objects.clear()


_MAX_NODES = 200_000  # alias bombs ("billion laughs") stop here


class _Builder:
    def __init__(self, file: str) -> None:
        self.map = SourceMap(file)
        self.issues: list[YamlIssue] = []
        self._active: set[int] = set()
        self._count = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.map.values[path] = _position(self.map.file, node)
        self._count += 1
        if self._count > _MAX_NODES:
            raise _Unbuildable("the document expands to too many values (aliases nested too deep?)", node)
        if id(node) in self._active:
            raise _Unbuildable("an alias refers to the value that contains it", node)
        self._active.add(id(node))
        try:
            return self._build(node, path)
        finally:
            self._active.discard(id(node))

    def _build(self, node: yaml.Node, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                # Keys stay the text that was written: YAML 1.1 would turn `on:` into True.
                if isinstance(key_node, yaml.ScalarNode):
                    key: Any = key_node.value
                else:
                    key = str(self.build(key_node, (*path, "<key>")))
                if key in result:
                    first = self.map.keys[(*path, key)]
                    self.issues.append(
                        YamlIssue(
                            f"duplicate key '{key}' (first at line {first.line})",
                            _position(self.map.file, key_node),
                            "remove one: YAML would silently keep only the last",
                        )
                    )
                self.map.keys[(*path, key)] = _position(self.map.file, key_node)
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        try:
            return _scalar(node)
        except (ValueError, TypeError, yaml.YAMLError) as exc:
            reason = str(getattr(exc, "problem", None) or exc).splitlines()[0]
            raise _Unbuildable(f"invalid value {node.value!r} for tag {node.tag} ({reason})", node) from exc


class _Unbuildable(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


# PyYAML's words differ between the C and the Python parser and speak of tokens; say what a
# person did wrong instead: (pattern over "problem context", message, hint, point at the context).
_SYNTAX = (
    (
        "mapping values are not allowed",
        "a 'key: value' cannot start here",
        "indent this line like the key above it, or quote a value that contains ': '",
        False,
    ),
    (
        "while scanning a quoted scalar",
        "a quoted value is never closed",
        "close the quote that starts here",
        True,
    ),
    (
        "expected a single document",
        "a second YAML document ('---'); a file holds one",
        "remove the '---' line and what follows, or merge it",
        False,
    ),
    (
        "while parsing a block mapping",
        "this line does not line up with the keys of its mapping",
        "indent it exactly like the keys above it",
        False,
    ),
    (
        "while parsing a block collection",
        "a 'key: value' where a '- item' was expected, or the reverse",
        "indent the items of a list and the keys of a mapping consistently",
        False,
    ),
    (
        "cannot start any token",
        "a value cannot start with this character (@, ` and % are reserved)",
        "put the value in quotes",
        False,
    ),
    (
        "found undefined alias",
        "'*name' refers to no '&name' anchor above",
        "put the value in quotes if the '*' is meant literally",
        False,
    ),
    (
        "while parsing a flow",
        "a [list] or {mapping} written on one line is not closed properly",
        "check its commas and closing bracket; quote values that contain ':', ',', '[' or '{'",
        True,
    ),
)


def _syntax_issue(exc: yaml.MarkedYAMLError, text: str, file: str) -> YamlIssue:
    said = f"{exc.problem or ''} {exc.context or ''}"
    mark = exc.problem_mark or exc.context_mark
    lines = text.splitlines()
    if (
        mark is not None
        and mark.line < len(lines)
        and lines[mark.line][mark.column : mark.column + 1] == "\t"
    ):
        return YamlIssue(
            "YAML syntax error: a tab character; YAML indents with spaces only",
            Position(file, mark.line + 1, mark.column + 1),
            "replace the tab with spaces",
        )
    message, hint = f"{exc.problem or 'invalid YAML'}" + (f" {exc.context}" if exc.context else ""), None
    for pattern, ours, our_hint, at_context in _SYNTAX:
        if pattern in said:
            message, hint = ours, our_hint
            if at_context and exc.context_mark is not None:
                mark = exc.context_mark
            break
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return YamlIssue(
        f"YAML syntax error: {message}",
        Position(file, line, col),
        hint or "check indentation, colons and quotes on this line and the one above",
    )


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[YamlIssue]]:
    """Parse one YAML document. Syntax errors come back as issues, never as exceptions."""
    builder = _Builder(file)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return None, builder.map, [_syntax_issue(exc, text, file)]
    except yaml.YAMLError as exc:  # reader errors: bad bytes, control characters
        reason = str(exc).splitlines()[0]
        return None, builder.map, [YamlIssue(f"unreadable YAML: {reason}", Position(file, 1, 1))]
    if node is None:
        return None, builder.map, []
    try:
        data = builder.build(node, ())
    except _Unbuildable as exc:  # a bad !!int, an unknown !!python tag, a recursive alias
        return None, builder.map, [YamlIssue(f"invalid YAML: {exc.message}", _position(file, exc.node))]
    except RecursionError:
        return None, builder.map, [YamlIssue("invalid YAML: nested too deeply", Position(file, 1, 1))]
    return data, builder.map, builder.issues


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, SourceMap, list[YamlIssue]]:
    """Read and parse ``path``; unreadable files become a single issue."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, SourceMap(name), [YamlIssue(f"not UTF-8 text ({exc.reason})", Position(name, 1, 1))]
    except OSError as exc:  # missing, a directory, no permission: bad input, not a crash
        reason = exc.strerror or type(exc).__name__
        return (
            None,
            SourceMap(name),
            [
                YamlIssue(
                    f"cannot read the file: {reason}",
                    Position(name, 1, 1),
                    "check the path and its permissions",
                )
            ],
        )
    return parse_yaml(text, name)


def walk_strings(value: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, str]]:
    """Yield (path, text) for every string inside nested dicts and lists."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from walk_strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk_strings(item, (*path, i))
