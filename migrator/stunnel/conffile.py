"""Read an stunnel config file as text: global options and sections, with line numbers.

Only what migrator needs to compare a config with the live host (``ss``) and to rewrite a copy
for a parse check. stunnel's own syntax: ``key = value`` lines, ``[name]`` section headers,
comments start with ``;`` or ``#``. Options before the first section are global.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]*)\]\s*$")
_OPTION = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")


@dataclass
class Section:
    """One ``[name]`` section; options keep the last value of a key, like stunnel."""

    name: str
    line: int
    options: dict[str, str] = field(default_factory=dict)

    @property
    def is_client(self) -> bool:
        return self.options.get("client", "no").lower() == "yes"

    @property
    def accept(self) -> str | None:
        return self.options.get("accept")


@dataclass
class StunnelConfig:
    global_options: dict[str, str] = field(default_factory=dict)
    sections: list[Section] = field(default_factory=list)


def is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped[0] in ";#"


def option_of(line: str) -> tuple[str, str] | None:
    """``(key, value)`` of an option line, else None."""
    if is_comment_or_blank(line):
        return None
    match = _OPTION.match(line)
    return (match["key"], match["value"]) if match else None


def parse_config(text: str) -> StunnelConfig:
    """Split a config into global options and sections (lenient: unknown lines are ignored)."""
    config = StunnelConfig()
    current: Section | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if is_comment_or_blank(line):
            continue
        header = _SECTION.match(line)
        if header:
            current = Section(header["name"].strip(), number)
            config.sections.append(current)
            continue
        option = option_of(line)
        if option is None:
            continue
        target = current.options if current else config.global_options
        target[option[0]] = option[1]
    return config
