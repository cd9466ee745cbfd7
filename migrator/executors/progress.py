"""Progress of long-running tools, parsed from the lines they print: pure functions.

A :class:`ProgressParser` is fed every output line (split on ``\\n`` *and* ``\\r``: rsync and
pv redraw one line with carriage returns) and returns a :class:`Progress` when the line says
how far the tool is. Parsers keep the little state a format needs (``zfs send`` prints its
total size once, then bytes sent so far). Which parser: the step's ``progress:`` field, else
:func:`guess` from the command.

Formats, as the tools print them (samples in tests/executors/test_progress.py, with sources):

* ``rsync --info=progress2``: ``105.45M  13%  602.83kB/s    0:02:50 (xfr#495, ir-chk=1020/3825)``
* ``zfs send -v``: ``total estimated size is 12.6K`` then ``TIME  SENT  SNAPSHOT`` rows;
  ``-P``: ``size<TAB>39223560952`` then ``15:15:40<TAB>294320456<TAB>zfs/test@x`` rows;
* ``zfs receive -v``: ``received 44.2KB stream in 1 seconds (44.2KB/sec)`` (one per stream);
* ``pv`` (syncoid): ``3.41GiB 0:00:19 [ 180MiB/s] [=====>   ] 78% ETA 0:00:05``;
* ``zpool status``: ``1.12T issued at 290M/s, 20.1T total`` and
  ``141G resilvered, 5.55% done, 0 days 19:07:43 to go`` (scrub: ``0B repaired, ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


@dataclass(frozen=True)
class Progress:
    """How far a step's tool is. Every field may be unknown (None)."""

    fraction: float | None = None
    done_bytes: int | None = None
    total_bytes: int | None = None
    rate: float | None = None
    """Bytes per second."""
    eta: float | None = None
    """Seconds left, as the tool estimates it (or as derived from rate and bytes left)."""

    def percent(self) -> str:
        return "?%" if self.fraction is None else f"{self.fraction * 100:.0f}%"


def parse_size(text: str) -> int | None:
    """``1.23G``, ``602.83kB``, ``3.41GiB``, ``1,238,099``, ``0B`` -> bytes (binary units, as
    zfs, pv and rsync's ``-h`` use). None when it is not a size."""
    match = re.fullmatch(r"([\d.,]+)\s*([KMGTPkmgtp]?)(i?[Bb])?", text.strip())
    if not match:
        return None
    number = match.group(1).replace(",", "")
    try:
        value = float(number)
    except ValueError:
        return None
    return int(value * UNITS[match.group(2).lower()])


def parse_clock(text: str) -> float | None:
    """``0:02:50``, ``19:07:43``, ``0 days 19:07:43``, ``0h46m`` -> seconds."""
    text = text.strip()
    days = 0
    match = re.fullmatch(r"(\d+) days? (.*)", text)
    if match:
        days, text = int(match.group(1)), match.group(2)
    match = re.fullmatch(r"(\d+)h(\d+)m", text)
    if match:
        return days * 86400 + int(match.group(1)) * 3600 + int(match.group(2)) * 60
    parts = text.split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return days * 86400 + seconds


def _eta(done: int | None, total: int | None, rate: float | None) -> float | None:
    if done is None or total is None or not rate or total < done:
        return None
    return (total - done) / rate


class ProgressParser:
    name = ""

    def feed(self, line: str) -> Progress | None:
        raise NotImplementedError


class RsyncProgress2(ProgressParser):
    """``rsync --info=progress2``: bytes so far, percent of the whole transfer, rate, and a
    time that is an estimate of the time left while running (rsync switches it to the
    elapsed time on the final line of a file, which carries ``xfr#``; that one is not an ETA)."""

    name = "rsync"
    LINE = re.compile(
        r"^\s*([\d.,]+[KMGTP]?)\s+(\d{1,3})%\s+([\d.,]+[kKMGTP]?B/s|\?+)\s+(\d+:\d{2}:\d{2})(\s+\(.*\))?\s*$"
    )

    def feed(self, line: str) -> Progress | None:
        match = self.LINE.match(line)
        if not match:
            return None
        done = parse_size(match.group(1))
        fraction = int(match.group(2)) / 100
        rate_text = match.group(3)
        rate = None if rate_text.startswith("?") else parse_size(rate_text[: -len("/s")])
        total = int(done / fraction) if done is not None and fraction > 0 else None
        eta = None if match.group(5) else parse_clock(match.group(4))
        if fraction >= 1:
            eta = 0.0
        return Progress(fraction, done, total, float(rate) if rate is not None else None, eta)


class ZfsSend(ProgressParser):
    """``zfs send -v`` (human) and ``-P`` (parsable): the total estimate, then bytes sent of
    the current snapshot each second. The fraction is over the total of the whole send."""

    name = "zfs-send"
    TOTAL = re.compile(r"^total estimated size is\s+(\S+)\s*$")
    SIZE_P = re.compile(r"^size\s+(\d+)\s*$")
    ROW = re.compile(r"^(\d{2}:\d{2}:\d{2})\s+(\S+)\s+(\S+@\S+)\s*$")

    def __init__(self) -> None:
        self.total: int | None = None
        self.finished = 0  # bytes of snapshots already sent
        self.current: tuple[str, int] | None = None
        self.last: tuple[float, int] | None = None  # (clock seconds, done bytes)

    def feed(self, line: str) -> Progress | None:
        if m := self.TOTAL.match(line) or self.SIZE_P.match(line):
            self.total = parse_size(m.group(1))
            return Progress(0.0 if self.total else None, 0, self.total)
        m = self.ROW.match(line)
        if not m:
            return None
        sent = parse_size(m.group(2))
        if sent is None:
            return None
        snapshot = m.group(3)
        if self.current is not None and self.current[0] != snapshot:
            self.finished += self.current[1]
        self.current = (snapshot, sent)
        done = self.finished + sent
        clock = parse_clock(m.group(1))
        rate = None
        if clock is not None and self.last is not None and clock > self.last[0]:
            rate = (done - self.last[1]) / (clock - self.last[0])
        if clock is not None:
            self.last = (clock, done)
        fraction = min(done / self.total, 1.0) if self.total else None
        return Progress(fraction, done, self.total, rate, _eta(done, self.total, rate))


class ZfsReceive(ProgressParser):
    """``zfs receive -v``: one line per received stream (no running progress): bytes so far
    and the rate of that stream."""

    name = "zfs-receive"
    LINE = re.compile(r"^received\s+(\S+)\s+stream in\s+([\d.]+)\s+seconds\s+\((\S+)/sec\)")

    def __init__(self) -> None:
        self.done = 0

    def feed(self, line: str) -> Progress | None:
        m = self.LINE.match(line.strip())
        if not m:
            return None
        self.done += parse_size(m.group(1)) or 0
        rate = parse_size(m.group(3))
        return Progress(None, self.done, None, float(rate) if rate is not None else None)


class Pv(ProgressParser):
    """``pv`` (what syncoid pipes through): ``BYTES ELAPSED [RATE] [bar] PCT% [ETA h:mm:ss]``.
    pv can pass 100% (syncoid's size is zfs's estimate): the fraction is capped at 1."""

    name = "pv"
    LINE = re.compile(
        r"^\s*(\S+)\s+(\d+:\d{2}:\d{2})\s+\[\s*(\S+?)/s\]\s*(?:\[[=> ]*\]\s*)?(\d+)%"
        r"(?:\s+ETA\s+(\d+:\d{2}:\d{2}))?"
    )
    SYNCOID_SIZE = re.compile(r"\(~\s*([\d.]+)\s*([KMGTP]?)B\):\s*$")

    def __init__(self) -> None:
        self.total: int | None = None

    def feed(self, line: str) -> Progress | None:
        if m := self.SYNCOID_SIZE.search(line):
            self.total = parse_size(m.group(1) + m.group(2))
            return None
        m = self.LINE.match(line)
        if not m:
            return None
        done = parse_size(m.group(1).replace(",", "."))  # pv follows the locale: 1,52kiB
        rate = parse_size(m.group(3).replace(",", "."))
        fraction = min(int(m.group(4)) / 100, 1.0)
        total = self.total or (int(done / fraction) if done and fraction > 0 else None)
        eta = parse_clock(m.group(5)) if m.group(5) else None
        if eta is None and fraction >= 1:
            eta = 0.0
        return Progress(fraction, done, total, float(rate) if rate is not None else None, eta)


class ZpoolScan(ProgressParser):
    """``zpool status`` during a scrub or resilver: the ``issued at``/``scanned out of`` line
    gives bytes and rate, the ``% done`` line the fraction and time to go."""

    name = "zpool"
    ISSUED = re.compile(r"(\S+) issued at (\S+)/s, (\S+) total")
    SCANNED_OLD = re.compile(r"(\S+) scanned out of (\S+) at (\S+)/s, (?:(\S+) to go|\(scan is slow)")
    DONE = re.compile(r"([\d.]+)% done(?:, (.+?) to go)?\s*$")

    def __init__(self) -> None:
        self.done: int | None = None
        self.total: int | None = None
        self.rate: float | None = None

    def feed(self, line: str) -> Progress | None:
        text = line.strip()
        if m := self.ISSUED.search(text):
            self.done, self.total = parse_size(m.group(1)), parse_size(m.group(3))
            rate = parse_size(m.group(2))
            self.rate = float(rate) if rate is not None else None
            return None
        if m := self.SCANNED_OLD.search(text):
            self.done, self.total = parse_size(m.group(1)), parse_size(m.group(2))
            rate = parse_size(m.group(3))
            self.rate = float(rate) if rate is not None else None
            return None
        m = self.DONE.search(text)
        if not m or not re.search(r"(repaired|resilvered)", text):
            return None
        fraction = min(float(m.group(1)) / 100, 1.0)
        eta = parse_clock(m.group(2)) if m.group(2) else None
        return Progress(fraction, self.done, self.total, self.rate, eta)


PARSERS: dict[str, Callable[[], ProgressParser]] = {
    "rsync": RsyncProgress2,
    "zfs-send": ZfsSend,
    "zfs-receive": ZfsReceive,
    "pv": Pv,
    "syncoid": Pv,
    "zpool": ZpoolScan,
}
"""The names a step's ``progress:`` may give."""


def guess(command: str) -> str | None:
    """The parser for a command, from the tools it runs (None: no progress to parse).
    ``zfs send ... | zfs receive``: the send's progress (it knows the total)."""
    if re.search(r"\brsync\b.*--info=\S*progress2", command):
        return "rsync"
    if re.search(r"(^|[\s;&|(])syncoid\s+(-|\S+[/@:])", command) or re.search(r"\|\s*pv\b", command):
        return "pv"
    if re.search(r"\bzfs\s+send\b[^|]*\s-[A-Za-z]*[vP]", command):
        return "zfs-send"
    if re.search(r"\bzfs\s+(receive|recv)\b[^|]*\s-[A-Za-z]*v", command):
        return "zfs-receive"
    if re.search(r"\bzpool\s+(scrub|status)\b", command):
        return "zpool"
    return None


def parser_for(name: str | None, command: str) -> ProgressParser | None:
    chosen = name or guess(command)
    if chosen is None or chosen == "none":
        return None
    return PARSERS[chosen]()


def split_lines(buffer: str) -> tuple[list[str], str]:
    """Complete lines in ``buffer`` (ended by ``\\n`` or ``\\r``) and the unfinished rest."""
    parts = re.split(r"\r\n|\r|\n", buffer)
    return parts[:-1], parts[-1]
