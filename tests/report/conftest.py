from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from migrator.store.db import Store
from tests.report.scenario import Rehearsal, rehearse


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "state.db")


@pytest.fixture
def store(db: str) -> Iterator[Store]:
    s = Store.open(db)
    yield s
    s.close()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def rehearsal(store: Store, work: Path) -> Rehearsal:
    return rehearse(store, work)
