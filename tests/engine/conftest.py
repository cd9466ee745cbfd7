from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator.store.db import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(str(tmp_path / "state.db"))
    yield s
    s.close()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d
