"""Secret references and redaction.

Plans and inventories never hold secret values, only references:

* ``env:NAME``  the value of environment variable NAME at run time;
* ``file:PATH`` the content of PATH (trailing newline stripped), ``~`` expanded.

Resolved values are registered with a :class:`Redactor`, which replaces them by ``***`` in
every output stream (terminal, store, reports). Only fingerprints (:func:`fingerprint`) may
be stored.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

from migrator.errors import SecretError

SECRET_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$")
MASK = "***"


def is_reference(text: str) -> bool:
    return bool(SECRET_REF.match(text))


def fingerprint(value: str) -> str:
    """A short, stable, non-reversible identifier of a secret value (sha256, 16 hex)."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


class Redactor:
    """Replaces every known secret value by ``***``. Thread-safe; values are never exposed,
    except a secret output's (:meth:`remember`) to render a later step's command environment.

    One per process (a CLI run, a TUI session with its runs): it is where the secret values the
    process learnt live, in memory only."""

    def __init__(self) -> None:
        self._named: dict[tuple[str, str], str] = {}
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        # Very short values would redact ordinary words; a 3-character secret is no secret.
        if len(value) < 4:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def remember(self, step_id: str, name: str, value: str) -> None:
        """A secret output: masked from now on, and kept for later steps of the run."""
        self.add(value)
        with self._lock:
            self._named[(step_id, name)] = value

    def outputs(self) -> dict[tuple[str, str], str]:
        """The secret outputs remembered: ``(step, name) -> value`` (for a command's environment)."""
        with self._lock:
            return dict(self._named)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)


def resolve(reference: str, *, redactor: Redactor | None = None, where: str | None = None) -> str:
    """The value behind ``reference``; raise SecretError naming the reference (never a value)."""
    if reference.startswith("env:"):
        name = reference[4:]
        value = os.environ.get(name)
        if value is None:
            raise SecretError(
                f"secret {reference} is not set",
                where=where,
                hint=f"export {name}=... in the shell that runs migrator",
            )
    elif reference.startswith("file:"):
        path = Path(reference[5:]).expanduser()
        try:
            value = path.read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise SecretError(
                f"secret {reference} cannot be read: {exc.strerror}",
                where=where,
                hint="check the path and that the file is readable by you",
            ) from exc
    else:
        raise SecretError(
            f"'{reference[:3]}...' is not a secret reference",
            where=where,
            hint="write env:NAME or file:PATH",
        )
    if redactor is not None:
        redactor.add(value)
    return value
