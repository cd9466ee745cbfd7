"""Validation problems: what is wrong, where, and what to do, as data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from migrator.plan.source import Position


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    position: Position
    step_id: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        step = f"step {self.step_id}: " if self.step_id else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.position}: {self.severity.value}: {step}{self.message}{hint}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "file": self.position.file,
            "line": self.position.line,
            "column": self.position.column,
            "step": self.step_id,
            "message": self.message,
            "hint": self.hint,
        }


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity is Severity.ERROR]


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """By file, line, column; errors before warnings on the same spot."""
    return sorted(
        problems,
        key=lambda p: (p.position.file, p.position.line, p.position.column, p.severity is Severity.WARNING),
    )
