"""Progress samples of running steps, kept in the store (sampled, not every line).

A sample is one ``output_chunks`` row of stream ``progress`` whose text is a JSON object
(``at``, ``fraction``, ``done_bytes``, ``total_bytes``, ``rate``, ``eta``): no table of its own,
so the schema does not change; :meth:`Store.output` leaves these rows out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from migrator.store import dto
from migrator.store.db import PROGRESS_STREAM, Store


@dataclass(frozen=True)
class ProgressSample:
    step_id: str
    attempt: int
    at: datetime
    fraction: float | None
    done_bytes: int | None
    total_bytes: int | None
    rate: float | None
    eta: float | None


def add_sample(store: Store, run_id: int, sample: ProgressSample) -> None:
    payload = {
        "at": sample.at.isoformat(),
        "fraction": sample.fraction,
        "done_bytes": sample.done_bytes,
        "total_bytes": sample.total_bytes,
        "rate": sample.rate,
        "eta": sample.eta,
    }
    chunk = dto.OutputChunk(sample.step_id, sample.attempt, PROGRESS_STREAM, 0, [json.dumps(payload)])
    store.add_output(run_id, [chunk])


def samples(store: Store, run_id: int, step_id: str | None = None) -> list[ProgressSample]:
    """The stored samples, oldest first."""
    sql = "SELECT step_id, attempt, text FROM output_chunks WHERE run_id = ? AND stream = ?"
    params: list[object] = [run_id, PROGRESS_STREAM]
    if step_id is not None:
        sql += " AND step_id = ?"
        params.append(step_id)
    with store._tx() as conn:
        rows = conn.execute(sql + " ORDER BY id", params).fetchall()
    return [_sample(sid, attempt, text) for sid, attempt, text in rows]


def latest(store: Store, run_id: int) -> dict[tuple[str, int], ProgressSample]:
    """The last sample of each attempt of each step of the run, by ``(step_id, attempt)``
    (one row each: an observer polls this every second while an rsync stores hundreds)."""
    sql = (
        "SELECT step_id, attempt, text FROM output_chunks WHERE id IN ("
        "SELECT MAX(id) FROM output_chunks WHERE run_id = ? AND stream = ? GROUP BY step_id, attempt)"
    )
    with store._tx() as conn:
        rows = conn.execute(sql, (run_id, PROGRESS_STREAM)).fetchall()
    return {(sid, attempt): _sample(sid, attempt, text) for sid, attempt, text in rows}


def _sample(step_id: str, attempt: int, text: str) -> ProgressSample:
    data = json.loads(text)
    return ProgressSample(
        step_id,
        attempt,
        datetime.fromisoformat(data["at"]),
        data["fraction"],
        data["done_bytes"],
        data["total_bytes"],
        data["rate"],
        data["eta"],
    )
