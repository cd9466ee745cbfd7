"""Progress parsers, table-tested on output the real tools printed (each sample's source is
cited; a few are the tool's documented format where no capture was found)."""

from __future__ import annotations

import pytest

from migrator.executors.progress import (
    Progress,
    ProgressParser,
    Pv,
    RsyncProgress2,
    ZfsReceive,
    ZfsSend,
    ZpoolScan,
    guess,
    parse_clock,
    parse_size,
    split_lines,
)

MiB, GiB, TiB = 1024**2, 1024**3, 1024**4


def feed(parser: ProgressParser, text: str) -> list[Progress]:
    return [p for line in text.splitlines() if (p := parser.feed(line)) is not None]


# -- rsync --info=progress2 -----------------------------------------------------------------------
# https://unix.stackexchange.com/questions/215271 (question and answer), and rsync(1)'s --progress
# section (https://ragit.baehyunsol.com/sample/man-pages/... rsync.man chunk 67).
RSYNC = [
    ("105.45M  13%  602.83kB/s    0:02:50 (xfr#495, ir-chk=1020/3825)", 0.13, int(105.45 * MiB), None),
    ("    782448  63%  110.64kB/s    0:00:04", 0.63, 782448, 4.0),
    ("  1,238,099 100%  146.38kB/s    0:00:08  (xfr#5, to-chk=169/396)", 1.0, 1238099, 0.0),
    ("              0   0%    0.00kB/s    0:00:00", 0.0, 0, 0.0),
]


@pytest.mark.parametrize(("line", "fraction", "done", "eta"), RSYNC)
def test_rsync_progress2(line: str, fraction: float, done: int, eta: float | None) -> None:
    got = RsyncProgress2().feed(line)
    assert got is not None
    assert got.fraction == pytest.approx(fraction)
    assert got.done_bytes == done
    assert got.eta == eta  # the time on an xfr# line is elapsed, not left: no ETA then


def test_rsync_ignores_file_names_and_summaries() -> None:
    parser = RsyncProgress2()
    assert (
        feed(parser, "sending incremental file list\nsrv/off/data/a.bin\nsent 1,234 bytes  received 35 bytes")
        == []
    )


# -- zfs send -v / -P -----------------------------------------------------------------------------
# -P rows: openzfs/zfs#10215 (the output of `zfs send -Pev` before that regression);
# -v header: openzfs/zfs#13856 and openzfs/zfs#6029; rows as printed by zfs send -v (TIME SENT SNAPSHOT).
ZFS_SEND_P = """\
full zfs/test@1 39223560952
size 39223560952
15:15:40 294320456 zfs/test@2020-03-31_15:15:39_host
15:15:41 381559432 zfs/test@2020-03-31_15:15:39_host
15:15:42 540271304 zfs/test@2020-03-31_15:15:39_host
"""
ZFS_SEND_V = """\
full send of testpool/testfs@snap1 estimated size is 12.6G
total estimated size is 12.6G
TIME        SENT   SNAPSHOT testpool/testfs@snap1
07:56:01   1.02G   testpool/testfs@snap1
07:56:02   2.10G   testpool/testfs@snap1
"""


def test_zfs_send_parsable() -> None:
    got = feed(ZfsSend(), ZFS_SEND_P.replace(" ", "\t"))
    assert got[0].total_bytes == 39223560952 and got[0].fraction == 0.0
    last = got[-1]
    assert last.done_bytes == 540271304
    assert last.fraction == pytest.approx(540271304 / 39223560952)
    assert last.rate == pytest.approx(540271304 - 381559432)
    assert last.eta == pytest.approx((39223560952 - 540271304) / (540271304 - 381559432))


def test_zfs_send_verbose() -> None:
    got = feed(ZfsSend(), ZFS_SEND_V)
    assert got[0].total_bytes == int(12.6 * GiB)
    assert got[-1].done_bytes == int(2.10 * GiB)
    assert got[-1].fraction == pytest.approx(2.10 / 12.6, rel=1e-3)


def test_zfs_send_counts_finished_snapshots_of_an_incremental_series() -> None:
    text = "size\t3000\n10:00:00\t1000\tp/d@a\n10:00:01\t1500\tp/d@a\n10:00:02\t200\tp/d@b\n"
    assert feed(ZfsSend(), text)[-1].done_bytes == 1700


# -- zfs receive -v: openzfs/zfs#5027 and openzfs/zfs#10514 -------------------------------------------
SNAP = "zfs-auto-snap_hourly-2016-08-25-"
ZFS_RECV = (
    f"receiving full stream of zarathustra@{SNAP}0300 into backup@{SNAP}0300\n"
    "received 44.2KB stream in 1 seconds (44.2KB/sec)\n"
    f"receiving incremental stream of zarathustra@{SNAP}0400 into backup@{SNAP}0400\n"
    "received 1.57G stream in 83 seconds (19.3M/sec)\n"
)


def test_zfs_receive() -> None:
    got = feed(ZfsReceive(), ZFS_RECV)
    assert len(got) == 2
    assert got[-1].done_bytes == int(44.2 * 1024) + int(1.57 * GiB)
    assert got[-1].rate == pytest.approx(19.3 * MiB, rel=1e-3)
    assert got[-1].fraction is None  # receive never knows the total


# -- pv under syncoid: jimsalterjrs/sanoid#785 and #122 --------------------------------------------------
AUTOSNAP = "autosnap_2022-12-09_"
SYNCOID = (
    f"NEWEST SNAPSHOT: {AUTOSNAP}13:00:37_frequently\n"
    f"Sending incremental ssdpool/qcow2@{AUTOSNAP}12:45:36_frequently ... "
    f"{AUTOSNAP}13:00:37_frequently (~ 3.4 GB):\n"
    "3.41GiB 0:00:19 [ 180MiB/s] [===================================================>     ] 78%\n"
)


def test_pv_under_syncoid() -> None:
    got = feed(Pv(), SYNCOID)
    assert len(got) == 1
    assert got[0].fraction == pytest.approx(0.78)
    assert got[0].done_bytes == int(3.41 * GiB)
    assert got[0].rate == 180 * MiB
    assert got[0].total_bytes == int(3.4 * GiB)  # syncoid's estimate, announced before pv starts


def test_pv_past_100_percent_and_a_comma_locale_and_eta() -> None:
    over = Pv().feed(" 18,1MiB 0:00:00 [25,8MiB/s] [==========================================] 102%")
    assert over is not None and over.fraction == 1.0 and over.done_bytes == int(18.1 * MiB)
    eta = Pv().feed(" 404KiB 0:00:00 [9.38MiB/s] [=====>        ] 78% ETA 0:00:02")
    assert eta is not None and eta.eta == 2.0


# -- zpool status scrub/resilver: openzfs/zfs#11863, #7537, #3267, #840 ------------------------------------
RESILVER_NEW = """\
  scan: resilver in progress since Thu Apr  8 19:53:32 2021
\t11.0T scanned at 2.78G/s, 1.12T issued at 290M/s, 20.1T total
\t141G resilvered, 5.55% done, 0 days 19:07:43 to go
"""
RESILVER_OLD = """\
  scan: resilver in progress since Sun Jun 19 22:54:38 2016
    14.1T scanned out of 99.2T at 408M/s, 60h43m to go
    314G resilvered, 14.17% done
"""
SCRUB = """\
  scan: scrub in progress since Sat May 12 19:45:12 2018
\t6.18T scanned at 644M/s, 4.26T issued at 444M/s, 6.42T total
\t0B repaired, 66.46% done, 0 days 01:24:38 to go
"""


def test_zpool_resilver_and_scrub() -> None:
    new = feed(ZpoolScan(), RESILVER_NEW)[-1]
    assert new.fraction == pytest.approx(0.0555)
    assert new.eta == 19 * 3600 + 7 * 60 + 43
    assert new.done_bytes == int(1.12 * TiB) and new.total_bytes == int(20.1 * TiB)
    assert new.rate == 290 * MiB
    old = feed(ZpoolScan(), RESILVER_OLD)[-1]
    assert old.fraction == pytest.approx(0.1417) and old.total_bytes == int(99.2 * TiB)
    scrub = feed(ZpoolScan(), SCRUB)[-1]
    assert scrub.fraction == pytest.approx(0.6646) and scrub.eta == 3600 + 24 * 60 + 38


# -- helpers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "parser"),
    [
        ("rsync -aHAX --info=progress2 /srv/off/ off2:/srv/off/", "rsync"),
        ("rsync -a /a /b", None),
        ("syncoid --no-sync-snap zfs-hdd/off root@off1:zfs-hdd/off", "pv"),
        ("zfs send -v zfs-hdd/off@seed | ssh off2 zfs recv zfs-hdd/off", "zfs-send"),
        ("zfs send zfs-hdd/off@seed | zfs recv -v zfs-nvme/off", "zfs-receive"),
        ("zpool scrub -w zfs-hdd && zpool status zfs-hdd", "zpool"),
        ("apt-get install -y ./sanoid_2.1.0_all.deb && ln -sf /opt/x/syncoid-args.conf /etc/sanoid/", None),
        ("sleep 20", None),
    ],
)
def test_guess(command: str, parser: str | None) -> None:
    assert guess(command) == parser


def test_sizes_clocks_and_line_splitting() -> None:
    assert parse_size("1,238,099") == 1238099
    assert parse_size("0B") == 0
    assert parse_size("9.38MiB") == int(9.38 * MiB)
    assert parse_size("files") is None
    assert parse_clock("0 days 01:24:38") == 5078
    assert parse_clock("0h46m") == 2760
    assert parse_clock("soon") is None
    assert split_lines("a\rb\nc") == (["a", "b"], "c")
