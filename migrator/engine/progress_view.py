"""Progress as text: a bar for a terminal, a percent line for a log (pure functions)."""

from __future__ import annotations

from migrator.engine.events import StepProgress

PLAIN_EVERY = 5.0
"""Seconds between two percent lines of one step when the output is not a terminal."""


def human_bytes(count: float | None) -> str:
    if count is None:
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def bar(fraction: float | None, width: int = 24) -> str:
    if fraction is None:
        return "[" + "?" * width + "]"
    filled = round(max(0.0, min(fraction, 1.0)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def summary(event: StepProgress) -> str:
    """``42% 1.2 GiB of 2.9 GiB, 50.0 MiB/s, ETA 0:33`` with the unknown parts left out."""
    parts = ["?%" if event.fraction is None else f"{event.fraction * 100:.0f}%"]
    if event.done_bytes is not None:
        size = human_bytes(event.done_bytes)
        if event.total_bytes:
            size += f" of {human_bytes(event.total_bytes)}"
        parts.append(size)
    if event.rate:
        parts.append(f"{human_bytes(event.rate)}/s")
    if event.eta is not None:
        parts.append(f"ETA {human_seconds(event.eta)}")
    return parts[0] + (" " + ", ".join(parts[1:]) if parts[1:] else "")


def terminal_line(event: StepProgress, width: int = 80) -> str:
    text = f"{'progress':>11} {event.step_id} {bar(event.fraction)} {summary(event)}"
    return text[: max(width - 1, 20)]


def plain_line(event: StepProgress) -> str:
    return f"{'progress':>11} {event.step_id} {summary(event)}"
