"""PSK files: generate a key, render and write ``identity:key`` lines.

The key always comes from the caller (a resolved secret reference or :func:`generate_psk`);
nothing here stores, logs or returns it anywhere else. Error messages name the identity,
never the key.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from pathlib import Path

from migrator.errors import SecretError

PSK_ALPHABET = string.ascii_letters + string.digits
MIN_KEY_LENGTH = 16  # stunnel refuses shorter PSK keys
_IDENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")


def generate_psk(length: int = 32) -> str:
    """A random key of ``length`` letters and digits, like ``pwgen 32 1``."""
    if length < MIN_KEY_LENGTH:
        raise ValueError(f"a PSK key needs at least {MIN_KEY_LENGTH} characters")
    return "".join(secrets.choice(PSK_ALPHABET) for _ in range(length))


def render_psk_file(identity: str, key: str) -> str:
    """The content of a PSKsecrets file: one ``identity:key`` line (same file on both ends)."""
    if not _IDENTITY.match(identity):
        raise SecretError(
            f"PSK identity '{identity}' is not valid",
            hint="use letters, digits, '-', '_', '.', '@'; no colon or whitespace",
        )
    if len(key) < MIN_KEY_LENGTH or any(ch.isspace() for ch in key):
        raise SecretError(
            f"the PSK key for identity '{identity}' is unusable (shorter than {MIN_KEY_LENGTH} "
            "characters or contains whitespace)",
            hint="generate one with `pwgen 32 1` or migrator's generate_psk()",
        )
    return f"{identity}:{key}\n"


def write_psk_file(path: Path, identity: str, key: str) -> None:
    """Write the PSK file with mode 0600 from the start (never briefly world-readable)."""
    content = render_psk_file(identity, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise SecretError(f"cannot write PSK file {path}: {exc.strerror}",
                          hint="check the directory exists and is writable") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        handle.write(content)
