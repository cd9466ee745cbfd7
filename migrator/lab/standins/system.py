"""Fake ``systemctl``, ``ip route``, ``lsblk``, ``smartctl``, ``parted``, ``apt-get``.

Users are real: each host has its own /etc, so the real ``adduser``, ``id`` and ``getent`` run.

``systemctl`` starts the real stunnel for ``stunnel@NAME`` with the host's (or container's)
``/etc/stunnel/NAME.conf`` and records its PID, so ``is-active`` tells the truth and
``migrator lab down`` stops it. ``ip`` fakes only the routing table (the fault route-missing
drops the private route); every other ``ip`` command runs the real one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from migrator.lab.procs import cmdline, matches, pid_namespace, terminate
from migrator.lab.standins.context import Context, ToolError, out
from migrator.lab.standins.devices import SECTOR, resolve, short, visible_disks

ALWAYS_ACTIVE = {"ssh", "sshd", "cron", "networking", "systemd-timesyncd", "chrony"}  # PVE runs chrony
PVE_ACTIVE = {"pve-cluster", "pveproxy", "pvedaemon", "pvestatd"}
START_GRACE = 0.6  # seconds a started daemon must survive to count as started


def _unit(name: str) -> str:
    return name.removesuffix(".service")


def unit_state(ctx: Context, state: dict[str, Any], unit: str) -> tuple[str, int]:
    """(``is-active`` word, exit code) of ``unit``."""
    info = state.get("units", {}).get(unit)
    if info is not None:
        if info.get("pid"):
            alive = matches(int(info["pid"]), info["argv"], info.get("pidns"))
            return ("active", 0) if alive else ("failed", 3)
        return (str(info.get("state", "inactive")), 0 if info.get("state") == "active" else 3)
    pve = state.get("profile") == "pve"
    if unit in ALWAYS_ACTIVE or (pve and unit in PVE_ACTIVE) or (unit == "corosync" and state.get("cluster")):
        return "active", 0
    # systemd 252 answers an unknown unit as an inactive one: "inactive", exit 3 (not LSB's 4;
    # systemd/systemd issue #25680, tests/data/checks/systemd_active/fail_no_such_unit.json)
    return "inactive", 3


def _start_stunnel(ctx: Context, state: dict[str, Any], unit: str) -> int:
    instance = unit.split("@", 1)[1]
    conf = Path(f"/etc/stunnel/{instance}.conf")
    if not conf.exists():
        raise ToolError(
            f"Job for {unit}.service failed because the control process exited with error code.", 1
        )
    runtime = Path(f"/run/stunnel-{instance}")
    runtime.mkdir(exist_ok=True)
    from migrator.lab.standins.units import prepare_runtime_directory

    prepare_runtime_directory(runtime, unit.split("@", 1)[0] + "@")  # the drop-in's Group=, Mode (pitfall 17)
    if shutil.which("stunnel") is None:
        raise ToolError("stunnel not found: apt-get install stunnel4", 1)
    log_dir = ctx.state_dir / "journal"
    log_dir.mkdir(exist_ok=True)
    with (log_dir / f"{unit}.log").open("ab") as log:
        proc = subprocess.Popen(
            ["stunnel", str(conf)], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    time.sleep(START_GRACE)
    code = proc.poll()
    pid = proc.pid
    if code == 0:  # stunnel daemonized (no foreground=yes): its pid file names the daemon
        pid_line = re.search(r"^\s*pid\s*=\s*(\S+)", conf.read_text(), re.M)
        pid_file = Path(pid_line.group(1)) if pid_line else None
        pid = int(pid_file.read_text().strip()) if pid_file and pid_file.exists() else 0
    if code not in (None, 0) or not pid:
        # Recorded (not raised) so the locked state with "failed" is saved.
        state["units"][unit] = {"state": "failed"}
        sys.stderr.write(
            f"Job for {unit}.service failed because the control process exited with error code.\n"
            f'See "systemctl status {unit}.service" and "journalctl -xeu {unit}.service" for details.\n'
        )
        return 1
    state["units"][unit] = {
        "pid": pid,
        "argv": cmdline(pid),
        "pidns": pid_namespace(pid),
        "since": time.time(),
        "enabled": True,
    }
    return 0


def _stop(state: dict[str, Any], unit: str) -> None:
    info = state["units"].get(unit, {})
    if info.get("pid"):
        stop = str(info.get("stop_signal", "SIGTERM"))  # PostgreSQL: SIGINT, its fast shutdown
        terminate(int(info["pid"]), info["argv"], pidns=info.get("pidns"), sig=stop)
    state["units"][unit] = {"state": "inactive", "enabled": info.get("enabled", False)}


def systemctl(ctx: Context) -> int:
    args = [a for a in ctx.args if a not in ("--", "--quiet", "-q", "--no-pager", "--now")]
    now = "--now" in ctx.args
    if not args:
        raise ToolError("systemctl: missing verb", 1)
    verb, units = args[0], [_unit(u) for u in args[1:] if not u.startswith("-")]
    oneshot_code = 0
    if verb in ("start", "restart", "try-restart"):
        units, oneshot_code = _run_oneshots(ctx, units)
        if not units:
            return oneshot_code
    with ctx.locked() as state:
        state.setdefault("units", {})
        if verb in ("is-active", "status"):
            code = 0
            for unit in units:
                word, unit_code = unit_state(ctx, state, unit)
                out(word if verb == "is-active" else f"● {unit}.service\n     Active: {word}")
                code = code or unit_code
            return code
        if verb == "is-enabled":
            enabled = state["units"].get(units[0], {}).get("enabled")
            if enabled == "masked":  # as systemd: "masked", exit 1
                out("masked")
                return 1
            out("enabled" if enabled else "disabled")
            return 0 if enabled else 1
        if verb in ("mask", "unmask"):  # stunnel plan: Debian's stunnel4.service (moji report)
            for unit in units:
                info = state["units"].setdefault(unit, {"state": "inactive"})
                info["enabled"] = "masked" if verb == "mask" else False
                if verb == "mask" and now:
                    _stop(state, unit)
            return 0
        if verb in ("daemon-reload", "reset-failed"):
            return 0
        if verb == "list-unit-files":
            enabled = sorted(u for u, info in state["units"].items() if info.get("enabled"))
            rows = [f"{u if '.' in u else u + '.service'} enabled enabled" for u in enabled]
            out(
                "\n".join(rows)
                if "--no-legend" in ctx.args
                else "UNIT FILE STATE PRESET\n" + "\n".join(rows) + f"\n\n{len(rows)} unit files listed."
            )
            return 0
        if verb == "list-units":
            failed = [u for u in state["units"] if unit_state(ctx, state, u)[0] == "failed"]
            rows = [f"● {u}.service loaded failed failed" for u in failed]
            if "--no-legend" not in ctx.args:
                rows.append(f"\n{len(failed)} loaded units listed.")
            if rows:
                out("\n".join(rows))
            return 0
        if verb == "show":
            prop = args[args.index("-p") + 1] if "-p" in args else "ActiveState"
            info = state["units"].get(units[0], {})
            since = (
                time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(info["since"]))
                if "since" in info
                else ""
            )
            word = unit_state(ctx, state, units[0])[0]
            value = {
                "ActiveEnterTimestamp": since,
                "Result": info.get("result", "exit-code" if word == "failed" else "success"),
            }.get(prop, word)
            out(value if "--value" in ctx.args else f"{prop}={value}")
            return 0
        code = oneshot_code
        for unit in units:
            if unit == "networking" and verb in ("restart", "reload"):
                _reload_network(state)
            elif verb in ("enable", "disable"):
                state["units"].setdefault(unit, {"state": "inactive"})["enabled"] = verb == "enable"
                if now and verb == "enable":
                    code = _start(ctx, state, unit) or code
                elif now:
                    _stop(state, unit)
            elif unit == "apache2" and verb == "reload":  # Debian's unit: apachectl graceful
                from migrator.lab.standins import apache

                code = apache.reload(ctx, state) or code
            elif verb in ("start", "restart", "reload", "try-restart"):
                if verb != "start" or unit_state(ctx, state, unit)[0] != "active":
                    _stop(state, unit)
                    code = _start(ctx, state, unit) or code
            elif verb == "stop":
                _stop(state, unit)
            else:
                raise ToolError(f"Unknown command verb {verb}.", 1)
    return code


def _run_oneshots(ctx: Context, units: list[str]) -> tuple[list[str], int]:
    """Run the ``Type=oneshot`` units among ``units`` (outside the state lock: their commands run
    stand-ins that lock it); the other units and the exit code."""
    from migrator.lab.standins.units import oneshot_command, run_oneshot, unit_file

    state, rest, code = ctx.load(), [], 0
    for unit in units:
        text = unit_file(state, unit)
        command = oneshot_command(text) if text is not None else None
        if command is None:
            rest.append(unit)
            continue
        result, unit_code = run_oneshot(ctx, unit, command)
        with ctx.locked() as locked:
            info = locked.setdefault("units", {}).setdefault(unit, {})
            info.pop("pid", None)
            info.update(state="failed" if unit_code else "inactive", result=result, since=time.time())
        if unit_code:
            sys.stderr.write(
                f"Job for {unit}.service failed because the control process exited with error code.\n"
                f'See "systemctl status {unit}.service" and "journalctl -xeu {unit}.service" for details.\n'
            )
            code = 1
    return rest, code


def _start(ctx: Context, state: dict[str, Any], unit: str) -> int:
    if unit.startswith("stunnel@"):
        return _start_stunnel(ctx, state, unit)
    if unit == "mongod":
        from migrator.lab.standins.mongo import start_mongod

        return start_mongod(ctx, state, bool(state["units"].get(unit, {}).get("enabled", False)))
    from migrator.lab.standins import datastores

    if unit in datastores.UNITS:
        return datastores.start(ctx, state, unit, bool(state["units"].get(unit, {}).get("enabled", False)))
    else:
        enabled = state["units"].get(unit, {}).get("enabled", False)
        state["units"][unit] = {"state": "active", "since": time.time(), "enabled": enabled}
        return 0


# --------------------------------------------------------------------------- network


def _reload_network(state: dict[str, Any]) -> None:
    """Routes from /etc/network/interfaces: each iface's subnet, its gateway, post-up routes."""
    path = Path("/etc/network/interfaces")
    if not path.exists():
        return
    from migrator.lab.standins.netfilter import run_hook_line

    routes, routes6, iface, family = [], [], "", "inet"
    lines = [raw.strip() for raw in path.read_text().splitlines()]
    for line in lines:  # a restart: every interface goes down (post-down), then up (post-up)
        if line.startswith("post-down "):
            run_hook_line(state, line)
    for line in lines:
        if line.startswith("post-up "):
            run_hook_line(state, line)
        if line.startswith("iface "):
            iface = line.split()[1]
            family = line.split()[2] if len(line.split()) > 2 else "inet"
        elif line.startswith("address ") and "/" in line and family == "inet6":
            import ipaddress

            net6 = ipaddress.ip_network(line.split()[1], strict=False)  # the kernel lists no src for v6
            routes6.append(f"{net6} dev {iface} proto kernel metric 256 pref medium")
        elif line.startswith("gateway ") and family == "inet6":
            routes6.insert(0, f"default via {line.split()[1]} dev {iface} metric 1024 onlink pref medium")
        elif line.startswith("address ") and "/" in line:
            address, bits = line.split()[1].split("/")
            import ipaddress

            net = ipaddress.ip_network(f"{address}/{bits}", strict=False)
            routes.append(f"{net} dev {iface} proto kernel scope link src {address}")
        elif line.startswith("gateway "):
            routes.insert(0, f"default via {line.split()[1]} dev {iface} proto kernel onlink")
        elif (m := re.search(r"ip route add (\S+) (.*?)\s*(\|\||$)", line)) and line.startswith(
            ("post-up", "up")
        ):
            routes.append(f"{m.group(1)} {m.group(2)}")
    state["routes"] = routes
    state["routes6"] = routes6  # `ip -6 route` (inet6 stanzas, 2024-09-05 report)


def ip(ctx: Context) -> int:
    words = [a for a in ctx.args if a not in ("-4", "-6")]
    if words and words[0] in ("route", "r", "ro") and (len(words) == 1 or words[1] in ("list", "show", "ls")):
        routes = ctx.load().get("routes6" if "-6" in ctx.args else "routes")
        if routes is None and ctx.in_container and "-6" not in ctx.args:  # its netN lines (PVE's)
            from migrator.lab.standins.ct_network import container_routes

            routes = container_routes(ctx)
        routes = routes or []
        if "default" in words[2:]:  # `ip route list default`: the default routes only
            routes = [r for r in routes if r.startswith("default ")]
        if "route-missing" in ctx.faults():
            routes = [r for r in routes if " dev vmbr1 " not in f" {r} " and not r.startswith("10.")]
        out("\n".join(routes))
        return 0
    real = next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip") if os.path.exists(p)), "ip"
    )
    os.execv(real, [real, *ctx.args])
    return 127


def ifreload(ctx: Context) -> int:
    with ctx.locked() as state:
        _reload_network(state)
    return 0


# --------------------------------------------------------------------------- disks


def _lsblk_flags(args: list[str]) -> tuple[set[str], list[str]]:
    """Short flags (``-dn`` = d, n) and the ``-o`` columns."""
    flags: set[str] = set()
    columns: list[str] = []
    words = iter(args)
    for arg in words:
        if arg in ("-o", "--output"):
            columns = next(words, "").upper().split(",")
        elif arg.startswith("--output="):
            columns = arg.split("=", 1)[1].upper().split(",")
        elif arg.startswith("-") and not arg.startswith("--"):
            flags |= set(arg[1:])
    return flags, columns


def lsblk(ctx: Context) -> int:
    """Tree (default) or list (``-l``) of disks (``-d``: no partitions), header unless ``-n``."""
    flags, columns = _lsblk_flags(list(ctx.args))
    columns = columns or ["NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINTS"]
    disks = visible_disks(ctx.load(), ctx.faults())
    rows: list[dict[str, str]] = []
    for number, (name, disk) in enumerate(sorted(disks.items())):
        major = 8 if name.startswith("sd") else 259
        base = {"RM": "0", "RO": "0", "MOUNTPOINTS": "", "MOUNTPOINT": ""}
        rows.append(
            {**base, "NAME": name, "KNAME": name, "MAJ:MIN": f"{major}:{number * 16}",
             "SIZE": _size(int(disk["size"])), "TYPE": "disk", "MODEL": str(disk["model"])}
        )  # fmt: skip
        if "d" in flags:
            continue
        for index, part in enumerate(disk["parts"]):
            label = f"{name}{'p' if name.startswith('nvme') else ''}{part['num']}"
            last = index == len(disk["parts"]) - 1
            tree = "" if "l" in flags else ("└─" if last else "├─")
            size = (int(part["end"]) - int(part["start"]) + 1) * SECTOR
            minor = f"{major}:{number * 16 + part['num']}"
            rows.append(
                {**base, "NAME": tree + label, "KNAME": label, "MAJ:MIN": minor,
                 "SIZE": _size(size), "TYPE": "part", "MODEL": ""}
            )  # fmt: skip
    devices = [short(a) for a in ctx.args if a.startswith("/dev/")]  # `lsblk /dev/X`: X and its partitions
    for device in devices:
        if not any(r["KNAME"] == device for r in rows):
            raise ToolError(f"lsblk: /dev/{device}: not a block device", 32)
    if devices:
        rows = [r for r in rows if any(r["KNAME"].startswith(d) for d in devices)]
    widths = {c: max([len(c)] + [len(r.get(c, "")) for r in rows]) for c in columns}
    lines = [] if "n" in flags else [" ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    lines += [" ".join(r.get(c, "").ljust(widths[c]) for c in columns).rstrip() for r in rows]
    out("\n".join(lines))
    return 0


def _size(size: float) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            return f"{size:.1f}{unit}".replace(".0", "")
        size /= 1024
    return str(size)


def smartctl(ctx: Context) -> int:
    device = next((a for a in ctx.args if a.startswith("/dev/")), "")
    disks = visible_disks(ctx.load(), ctx.faults())
    disk = disks.get(re.sub(r"^(nvme\d+)$", r"\1n1", short(device)))
    if disk is None:
        raise ToolError(f"Smartctl open device: {device} failed: No such device", 2)
    out(
        "smartctl 7.3 2022-02-28 r5338 [x86_64-linux-5.15.102-1-pve] (local build)\n\n"
        "=== START OF INFORMATION SECTION ===\n"
        f"Model Number:                       {disk['model']}\n"
        f"Serial Number:                      {disk['serial']}\n"
        f"Total NVM Capacity:                 {disk['size']:,} [{_size(disk['size'])}]\n\n"
        "=== START OF SMART DATA SECTION ===\nSMART overall-health self-assessment test result: PASSED"
    )
    return 0


def _sectors(text: str, total: int) -> int:
    """``70g``, ``100%``, ``136316928s``, ``1MiB`` -> a sector number."""
    match = re.fullmatch(r"([\d.]+)\s*(%|s|b|kb|mb|gb|tb|kib|mib|gib|tib|k|m|g|t)?", text.lower())
    if match is None:
        raise ToolError(f'Error: Invalid number: "{text}"', 1)
    value, unit = float(match.group(1)), match.group(2) or "mb"
    if unit == "%":
        return min(int(total * value / 100), total - 34)
    if unit == "s":
        return int(value)
    scale = {
        "b": 1,
        "k": 10**3,
        "kb": 10**3,
        "m": 10**6,
        "mb": 10**6,
        "g": 10**9,
        "gb": 10**9,
        "t": 10**12,
        "tb": 10**12,
        "kib": 2**10,
        "mib": 2**20,
        "gib": 2**30,
        "tib": 2**40,
    }[unit]
    return int(value * scale / SECTOR)


def parted(ctx: Context) -> int:
    args = [a for a in ctx.args if a not in ("-s", "--script", "-a", "optimal")]
    device = next((a for a in args if a.startswith("/dev/")), "")
    words = args[args.index(device) + 1 :] if device else []
    with ctx.locked() as state:
        resolve(state, ctx.faults(), device)
        disk = state["disks"][short(device)]
        total = int(disk["size"]) // SECTOR
        while words:
            command = words.pop(0)
            if command == "unit":
                words.pop(0)
            elif command == "print":
                out(
                    f"Model: ATA {disk['model']} (scsi)\nDisk {device}: {total}s\n"
                    "Sector size (logical/physical): "
                    "512B/4096B\nPartition Table: gpt\nDisk Flags:\n\n"
                    "Number  Start       End           Size          "
                    "File system  Name     Flags"
                )
                for part in disk["parts"]:
                    size = int(part["end"]) - int(part["start"]) + 1
                    out(
                        f" {part['num']:<6} {part['start']}s{'':<4} {part['end']}s{'':<4} {size}s{'':<4} "
                        f"{part['fs']:<12} {part['name']}"
                    )
            elif command == "mkpart":
                name, fs, start, end = words[0], words[1], words[2], words[3]
                del words[:4]
                first, last = _sectors(start, total), _sectors(end, total) - 1
                if any(int(p["start"]) <= last and first <= int(p["end"]) for p in disk["parts"]):
                    raise ToolError(
                        "Error: You requested a partition from "
                        f"{start} to {end}.\nThe closest location we can manage is ...",
                        1,
                    )
                number = max([int(p["num"]) for p in disk["parts"]] + [0]) + 1
                disk["parts"].append({"num": number, "start": first, "end": last, "name": name, "fs": fs})
            elif command == "resizepart":
                number, end = int(words[0]), words[1]
                del words[:2]
                for part in disk["parts"]:
                    if int(part["num"]) == number:
                        part["end"] = _sectors(end, total) - 1
            elif command == "mklabel":
                words.pop(0)
                disk["parts"] = []
            elif command == "rm":
                number = int(words.pop(0))
                disk["parts"] = [p for p in disk["parts"] if int(p["num"]) != number]
            else:
                raise ToolError(f'Error: Unknown command "{command}"', 1)
    return 0


# --------------------------------------------------------------------------- packages


# Debian starts and enables a daemon's unit when its package is installed.
PACKAGE_UNITS = {"munin-node": "munin-node", "fail2ban": "fail2ban", "systemd-timesyncd": "systemd-timesyncd"}
# System users a package's postinst creates, and the config files it ships (mongodb-org 4.4).
PACKAGE_USERS = {"mongodb-org": "mongodb"}
PACKAGE_FILES = {
    "mongodb-org": {
        "/etc/mongod.conf": "storage:\n  dbPath: /var/lib/mongodb\n  journal:\n    enabled: true\n"
        "systemLog:\n  destination: file\n  logAppend: true\n  path: /var/log/mongodb/mongod.log\n"
        "net:\n  port: 27017\n  bindIp: 127.0.0.1\nprocessManagement:\n  timeZoneInfo: /usr/share/zoneinfo\n"
    },
    # Debian's munin-node.conf (the monitoring steps replace it by a link to the repository's)
    "munin-node": {
        "/etc/munin/munin-node.conf": "# Debian munin-node.conf\nallow ^127\\.0\\.0\\.1$\nhost *\nport 4949\n"
    },
}


def _postinst(package: str) -> None:
    """The real ``adduser --system`` on this host's own /etc; the package's config files."""
    user = PACKAGE_USERS.get(package)
    if user is not None and subprocess.run(["id", user], capture_output=True, check=False).returncode != 0:
        subprocess.run(
            ["adduser", "--system", "--group", "--no-create-home", "--home", f"/var/lib/{user}", user],
            check=True,
            capture_output=True,
        )
    for path, text in PACKAGE_FILES.get(package, {}).items():
        if not Path(path).exists() and not Path(path).is_symlink():
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text, encoding="utf-8")


def apt_get(ctx: Context) -> int:
    words = [a for a in ctx.args if not a.startswith("-")]
    if not words:
        raise ToolError("E: No command given", 100)
    if words[0] == "install":
        for word in words[1:]:
            if "/" in word and not Path(word).is_file():
                raise ToolError(f"E: Unsupported file {word} given on commandline", 100)
    out("Reading package lists... Done\nBuilding dependency tree... Done")
    if words[0] == "install":
        packages = [Path(w).name.split("_")[0] if "/" in w else w for w in words[1:]]
        for package in packages:
            _postinst(package)
        from migrator.lab.standins.units import PACKAGE_UNIT_FILES

        with ctx.locked() as state:
            state["packages"] = sorted(set(state.get("packages", [])) | set(packages))
            for package in packages:
                state.setdefault("unit_files", {}).update(PACKAGE_UNIT_FILES.get(package, {}))
            units = state.setdefault("units", {})
            for package in packages:
                if (
                    package in PACKAGE_UNITS
                    and units.get(PACKAGE_UNITS[package], {}).get("state") != "active"
                ):
                    units[PACKAGE_UNITS[package]] = {"state": "active", "since": time.time(), "enabled": True}
        from migrator.lab.standins import datastores

        with ctx.locked() as state:  # Debian starts a daemon's unit on install (fakes: datastores)
            for package in packages:
                datastores.postinst(ctx, package)
                unit = datastores.PACKAGE_UNITS.get(package)
                if unit is not None and unit_state(ctx, state, unit)[0] != "active":
                    state["units"].setdefault(unit, {})["enabled"] = True
                    if datastores.start(ctx, state, unit, True):
                        return 100
        out(f"{len(packages)} newly installed, 0 to remove and 0 not upgraded.")
    return 0


def locale_gen(ctx: Context) -> int:
    """Reads the host's /etc/locale.gen; never writes the machine's /usr/lib/locale."""
    wanted = [
        line.split()[0]
        for line in Path("/etc/locale.gen").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    out("Generating locales (this might take a while)...")
    out("\n".join(f"  {name}... done" for name in wanted))
    out("Generation complete.")
    return 0
