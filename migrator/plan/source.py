"""YAML that remembers where every value came from (file:line:column).

PyYAML's composer gives nodes with marks; we build plain Python values from the nodes and a
:class:`SourceMap` from paths (``("phases", 0, "steps", 3, "id")``) to positions, so every
validation problem can point at its line. Scalars follow YAML 1.1 core types except that
timestamps stay strings (pydantic parses them, with a clear error when malformed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:  # the C composer is ~10x faster; fall back to the pure-Python one
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)  # one per value of a plan: 10,000 steps make ~500,000
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class SourceMap:
    """Positions of values (and of mapping keys) by path.

    A file read without a problem gets its positions only when one is asked for (a warning, a
    step's line in ``plan --step``): it is parsed a second time then. Most files are asked
    for none, and for a 10,000-step plan the map would be ~400,000 entries held for nothing.
    """

    def __init__(self, file: str, *, text: str = "", lazy: bool = False) -> None:
        self.file = file
        self.text = text
        self._values: dict[PathKey, Position] | None = None if lazy else {}
        self._keys: dict[PathKey, Position] = {}
        # Last line (1-based) of scalars that span lines (block scalars, folded quotes), and the
        # text: a mistake inside `command: >` is pointed at its own line, not at the `>`.
        self._spans: dict[PathKey, int] = {}

    def _filled(self) -> dict[PathKey, Position]:
        if self._values is None:
            self._values = {}
            builder = _Builder(self.file, self.text)
            builder.map = self  # the second reading fills this map
            node = yaml.compose(self.text, Loader=_CachedLoader)
            if node is not None:  # an empty file has no positions but the default
                builder.build(node, ())
        return self._values

    @property
    def values(self) -> dict[PathKey, Position]:
        return self._filled()

    @property
    def keys(self) -> dict[PathKey, Position]:
        self._filled()
        return self._keys

    @property
    def spans(self) -> dict[PathKey, int]:
        self._filled()
        return self._spans

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

    def find(self, path: PathKey, needle: str | re.Pattern[str]) -> Position:
        """The position of ``needle`` inside the string at ``path`` (the string's start if not found).

        Only strings spanning several lines are searched; on one line the start is close enough.
        """
        start = self.at(path)
        end = self.spans.get(tuple(path))
        if end is None or not self.text:
            return start
        pattern = needle if isinstance(needle, re.Pattern) else re.compile(re.escape(needle))
        lines = self.text.splitlines()
        for number in range(start.line, min(end, len(lines)) + 1):
            line = lines[number - 1]
            found = pattern.search(line, start.column - 1 if number == start.line else 0)
            if found:
                return Position(self.file, number, found.start() + 1)
        return start


@dataclass(frozen=True)
class YamlIssue:
    """A problem found while reading the YAML itself (syntax, duplicate key)."""

    message: str
    position: Position
    hint: str | None = None


def _position(file: str, node: yaml.Node) -> Position:
    return Position(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _CachedLoader(_Loader):
    """The loader with a memo of implicit scalar types: keys and short values repeat a lot, and
    resolving is a run of regular expressions (a third of the time of a 10,000-step plan)."""

    _memo: dict[tuple[str, tuple[bool, bool]], str] = {}

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:  # type: ignore[override]
        if kind is not yaml.ScalarNode or len(value) > 40:
            return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
        key = (value, implicit)
        found = self._memo.get(key)
        if found is None:
            found = str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
            if len(self._memo) < 50_000:
                self._memo[key] = found
        return found


_RESOLVE = _CachedLoader("")
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
# A number YAML 1.1 and YAML 1.2 read alike: no leading zero, no base-60, no 0x/0o/0b, no '_'.
_RESOLVED_FIRST = frozenset(k for k in _RESOLVE.yaml_implicit_resolvers if k)  # type: ignore[attr-defined]
_PLAIN_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")


def _implicit_tag(node: yaml.ScalarNode) -> str:
    """The tag the value would have without an explicit ``!!tag`` (quoted and block scalars: str)."""
    if node.style:  # '"', "'", '|', '>' (plain is None in PyYAML, '' in its C parser)
        return _STR
    if node.tag == _STR and node.value[:1] not in _RESOLVED_FIRST:
        return _STR  # no implicit type starts with this character: skip the regular expressions
    return _RESOLVE.resolve(yaml.ScalarNode, node.value, (True, False))


def _scalar(node: yaml.ScalarNode) -> Any:
    if node.tag in (_STR, "tag:yaml.org,2002:timestamp"):
        return node.value  # timestamps stay text: pydantic parses them, with a clear error
    try:
        return _RESOLVE.construct_object(node, deep=True)
    finally:
        # PyYAML caches every constructed node; a long-lived process (the TUI) must not grow.
        _RESOLVE.constructed_objects.clear()
        _RESOLVE.recursive_objects.clear()


def _ambiguous_number(node: yaml.ScalarNode, value: Any) -> str | None:
    """Why a plain number means something else than it seems (YAML 1.1 vs 1.2, base 60, octal)."""
    text = node.value
    if node.tag == _INT and not _PLAIN_INT.match(text):
        if ":" in text:
            return f"'{text}' is read by YAML 1.1 as the base-60 number {value} (and by YAML 1.2 as text)"
        return f"'{text}' is read by YAML 1.1 as the number {value} (octal, hex or with '_'), not {text}"
    if node.tag == _FLOAT and ":" in text:
        return f"'{text}' is read by YAML 1.1 as the base-60 number {value} (and by YAML 1.2 as text)"
    return None


_MAX_NODES = 2_000_000  # alias bombs ("billion laughs") stop here; file size is limited apart


class _Builder:
    def __init__(self, file: str, text: str) -> None:
        self.map = SourceMap(file, text=text)
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

    def _tag_refused(self, node: yaml.Node) -> bool:
        """An explicit ``!!tag`` (``!!bool``, ``!!binary``, ``!!python/...``, ``!custom``): refused.

        Plans are data a person reads; a tag changes what a value means out of sight (``!!binary``
        gives bytes where text belongs, ``!!bool sometimes`` crashed PyYAML).
        """
        if isinstance(node, yaml.ScalarNode):
            implicit = _implicit_tag(node)
        else:
            implicit = _MAP if isinstance(node, yaml.MappingNode) else _SEQ
        if node.tag == implicit:
            return False
        shown = node.tag.replace("tag:yaml.org,2002:", "!!")
        self.issues.append(
            YamlIssue(
                f"YAML tag '{shown}' is not allowed in this file",
                _position(self.map.file, node),
                "remove the tag and write the value plainly (quote it if it is text)",
            )
        )
        return True

    def _build(self, node: yaml.Node, path: PathKey) -> Any:
        refused = self._tag_refused(node)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                # Keys stay the text that was written: YAML 1.1 would turn `on:` into True.
                if isinstance(key_node, yaml.ScalarNode):
                    self._tag_refused(key_node)
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
        if node.end_mark.line > node.start_mark.line:
            self.map.spans[path] = node.end_mark.line + 1
        if refused:
            return node.value
        try:
            value = _scalar(node)
        except (ValueError, TypeError, KeyError, OverflowError, yaml.YAMLError) as exc:
            reason = str(getattr(exc, "problem", None) or exc).splitlines()[0]
            raise _Unbuildable(f"invalid value {node.value!r} for tag {node.tag} ({reason})", node) from exc
        why = _ambiguous_number(node, value)
        if why is not None:
            self.issues.append(
                YamlIssue(
                    why,
                    _position(self.map.file, node),
                    "write the number you mean without leading zero, or a duration with its unit "
                    "(6m, 1h30m); quote it if it is text",
                )
            )
            return node.value
        return value


class _Unusual(Exception):
    """The fast reading gives way to the full one (with nodes and positions)."""


_SCALAR_EVENT, _MAPPING_START, _MAPPING_END = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.MappingEndEvent
_SEQUENCE_START, _SEQUENCE_END = yaml.SequenceStartEvent, yaml.SequenceEndEvent
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_BOOL_VALUES: dict[str, bool] = yaml.constructor.SafeConstructor.bool_values
if None in _RESOLVE.yaml_implicit_resolvers:  # pragma: no cover - PyYAML registers none
    # resolve() gives str to a plain scalar whose first character starts no implicit type
    # (_RESOLVED_FIRST); a resolver for any first character would make that shortcut wrong.
    raise ImportError("a YAML implicit resolver for every first character is registered")
_MAX_DEPTH = 100  # deeper than any plan; the full reading says "nested too deeply" further down
_NO_KEY = object()


def _read_plain(text: str) -> Any:
    """The document's values straight from the parser's events, with no node tree and no map.

    For files the full reading would accept without a single issue, and only those: anything
    it would have a word about (an anchor or alias, a tag, a duplicate key, an ambiguous
    number, a syntax error, a second document) raises :class:`_Unusual`, and the full reading
    runs instead and says it. The values are the same as the full reading's: this is the same
    parser, resolver and scalar construction, without the ~30 objects per value it keeps.
    """
    loader = _CachedLoader(text)
    try:
        return _fold_events(loader)
    except yaml.YAMLError as exc:
        raise _Unusual from exc
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def _fold_events(loader: _CachedLoader) -> Any:
    frames: list[list[Any]] = []  # [dict, pending key] for a mapping, [list] for a sequence
    root: Any = None
    count = 0
    documents = 0
    resolve = loader.resolve
    get_event = loader.get_event
    while True:
        event: Any = get_event()
        kind = type(event)
        if kind is _SCALAR_EVENT:
            if event.anchor is not None or event.tag is not None:
                raise _Unusual
            text = event.value
            frame = frames[-1] if frames else None
            if frame is not None and len(frame) == 2 and frame[1] is _NO_KEY:
                if text in frame[0]:
                    raise _Unusual  # a duplicate key
                frame[1] = text  # keys stay the text that was written
                count += 1
                continue
            implicit = event.implicit
            if not implicit[0] or (text and text[0] not in _RESOLVED_FIRST):
                value: Any = text  # what resolve says: quoted, block, or no implicit type starts so
            elif (tag := resolve(yaml.ScalarNode, text, implicit)) in (_STR, _TIMESTAMP):
                value = text
            elif tag == _INT and _PLAIN_INT.match(text):
                value = int(text)  # construct_yaml_int's answer for a plain decimal
            elif tag == _BOOL:
                value = _BOOL_VALUES[text.lower()]  # as construct_yaml_bool
            elif tag == _NULL:
                value = None
            else:
                node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark, event.style)
                try:
                    value = _scalar(node)
                except (ValueError, TypeError, KeyError, OverflowError, yaml.YAMLError) as exc:
                    raise _Unusual from exc
                if _ambiguous_number(node, value) is not None:
                    raise _Unusual
        elif kind is _MAPPING_START or kind is _SEQUENCE_START:
            if event.anchor is not None or event.tag is not None or len(frames) >= _MAX_DEPTH:
                raise _Unusual
            if frames and len(frames[-1]) == 2 and frames[-1][1] is _NO_KEY:
                raise _Unusual  # a mapping or list as a key
            frames.append([{}, _NO_KEY] if kind is _MAPPING_START else [[]])
            count += 1
            if count > _MAX_NODES:
                raise _Unusual
            continue
        elif kind is _MAPPING_END or kind is _SEQUENCE_END:
            value = frames.pop()[0]
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unusual  # a second document
            continue
        elif kind is yaml.StreamEndEvent:
            return root
        elif kind is yaml.AliasEvent:
            raise _Unusual
        else:  # stream start, document end
            continue
        count += 1
        if count > _MAX_NODES:
            raise _Unusual
        if not frames:
            root = value
        elif len(frames[-1]) == 2:
            frame = frames[-1]
            frame[0][frame[1]] = value
            frame[1] = _NO_KEY
        else:
            frames[-1][0].append(value)


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


MAX_BYTES = 16 * 1024 * 1024
"""Plans, inventories and tunnel files above this size are refused before they are parsed."""

_CONFLICT = re.compile(r"^(<{7}|={7}|>{7})(?: .*)?$", re.M)
_DASH_GLUED = re.compile(r"^\s*-[A-Za-z_][\w-]*:")  # `-id: x`: a list item without its space


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _code(character: int | str) -> int:
    return character if isinstance(character, int) else ord(character)


def _unclosed_quote(lines: list[str], last: int) -> tuple[int, int] | None:
    """(line, column) of a value opened with a quote that is still open where parsing failed.

    PyYAML then reads on into the next lines and complains far away, about indentation. A
    quoted value that spans lines but closes before the error (legal YAML) is not the culprit.
    """
    value_start = re.compile(r"""(?:^\s*-\s+|:\s+|[\[{,]\s*)(["'])""")
    closing = {'"': re.compile(r'(?<!\\)"'), "'": re.compile(r"'(?!')")}
    for number, line in enumerate(lines[: last + 1]):
        found = value_start.search(line)
        if found is None:
            continue
        quote = found.group(1)
        rest = line[found.end() :].replace("\\\\", "").replace("''", "")
        if closing[quote].search(rest):
            continue
        closed_before_error = any(
            closing[quote].search(later.replace("\\\\", "").replace("''", ""))
            for later in lines[number + 1 : last]
        )
        if not closed_before_error:
            return number + 1, found.end()
    return None


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
    last = min(mark.line if mark else len(lines) - 1, len(lines) - 1)
    for number in range(last, max(last - 2, -1), -1):
        if 0 <= number < len(lines) and _DASH_GLUED.match(lines[number]):
            column = lines[number].index("-") + 1
            return YamlIssue(
                "YAML syntax error: '-' must be followed by a space to start a list item",
                Position(file, number + 1, column),
                f"write '- {lines[number].strip()[1:]}'",
            )
    opened = _unclosed_quote(lines, last)
    if opened is not None and "quoted scalar" not in said:
        return YamlIssue(
            "YAML syntax error: a quoted value is not closed on its line",
            Position(file, opened[0], opened[1]),
            "close the quote at the end of the value (or use a block scalar | for text over several lines)",
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


def _conflict_issue(text: str, file: str) -> YamlIssue | None:
    found = _CONFLICT.search(text)
    if found is None or "<<<<<<<" not in text:
        return None
    line, _ = _line_col(text, found.start())
    return YamlIssue(
        "a git merge conflict marker: the file is in the middle of a merge",
        Position(file, line, 1),
        "resolve the conflict: keep one side, delete the <<<<<<<, ======= and >>>>>>> lines",
    )


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[YamlIssue]]:
    """Parse one YAML document. Syntax errors come back as issues, never as exceptions."""
    conflict = _conflict_issue(text, file)
    if conflict is not None:
        return None, SourceMap(file, text=text), [conflict]
    try:
        return _read_plain(text), SourceMap(file, text=text, lazy=True), []
    except _Unusual:
        pass  # the full reading below finds what is unusual and says it
    builder = _Builder(file, text)
    try:
        node = yaml.compose(text, Loader=_CachedLoader)
    except yaml.MarkedYAMLError as exc:
        return None, builder.map, [_syntax_issue(exc, text, file)]
    except yaml.reader.ReaderError as exc:  # a control character, a lone surrogate
        line, column = _line_col(text, exc.position)
        return (
            None,
            builder.map,
            [
                YamlIssue(
                    f"a control character (U+{_code(exc.character):04X}) is not allowed in YAML",
                    Position(file, line, column),
                    "delete it; write special characters in a quoted value as \\uXXXX",
                )
            ],
        )
    except yaml.YAMLError as exc:  # pragma: no cover - every other YAMLError is marked
        reason = str(exc).splitlines()[0]
        return None, builder.map, [YamlIssue(f"unreadable YAML: {reason}", Position(file, 1, 1))]
    if node is None:
        return None, builder.map, []
    try:
        data = builder.build(node, ())
    except _Unbuildable as exc:  # a recursive alias, too many values
        return None, builder.map, [YamlIssue(f"invalid YAML: {exc.message}", _position(file, exc.node))]
    except RecursionError:
        return None, builder.map, [YamlIssue("invalid YAML: nested too deeply", Position(file, 1, 1))]
    return data, builder.map, builder.issues


def _not_utf8(raw: bytes, exc: UnicodeDecodeError, name: str) -> YamlIssue:
    line = raw.count(b"\n", 0, exc.start) + 1
    column = len(raw[raw.rfind(b"\n", 0, exc.start) + 1 : exc.start].decode("utf-8", "replace")) + 1
    byte = raw[exc.start : exc.start + 1].hex()
    return YamlIssue(
        f"not UTF-8 text: byte 0x{byte} at offset {exc.start} (line {line}, column {column})",
        Position(name, line, column),
        "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
    )


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, SourceMap, list[YamlIssue]]:
    """Read and parse ``path``; unreadable files become a single issue."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return (
                None,
                SourceMap(name),
                [
                    YamlIssue(
                        f"the file is {size / 1048576:.1f} MiB; the limit is {MAX_BYTES // 1048576} MiB",
                        Position(name, 1, 1),
                        "a plan this large is not written by hand: check that it is the right file",
                    )
                ],
            )
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, SourceMap(name), [_not_utf8(raw, exc, name)]
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
    return parse_yaml(text.removeprefix("\ufeff"), name)


def strings_with(needle: str, value: Any, path: PathKey = ()) -> list[tuple[PathKey, str]]:
    """(path, text) of every string inside nested dicts and lists that contains ``needle``,
    depth first in document order.

    A path is built only for a string that is kept and for the mappings and lists on the way:
    of a 10,000-step plan's ~230,000 values, ~40,000 hold a ``{{``.
    """
    found: list[tuple[PathKey, str]] = []
    if isinstance(value, str):
        if needle in value:
            found.append((path, value))
    elif isinstance(value, dict | list):
        _strings_with(needle, value, path, found)
    return found


def _strings_with(
    needle: str, value: dict[Any, Any] | list[Any], path: PathKey, found: list[tuple[PathKey, str]]
) -> None:
    items: Iterable[tuple[Any, Any]] = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(item, str):
            if needle in item:
                found.append(((*path, key), item))
        elif isinstance(item, dict | list):
            _strings_with(needle, item, (*path, key), found)
