"""Fake Proxmox command-line tools: ``pvecm``, ``pvesm``, ``pveam``, ``pct``, ``pveversion``.

Cluster membership lives in ``DIR/clusters.json`` (lab-wide: what corosync would carry);
storages in the cluster record (or the node's state when it is in no cluster). The host's
fakepve mirrors both (see :mod:`migrator.lab.pve`). ``pct`` asks fakepve over HTTPS with
the host's API token whether a container exists and runs, then runs the command in a nested
mount namespace with the container's own directories.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from migrator.lab.layout import CONTAINER_BINDS, HOSTS, STATE_DIR, read_json, write_json
from migrator.lab.standins.context import Context, ToolError, out

NOT_A_CLUSTER = (
    "Error: Corosync config '/etc/pve/corosync.conf' does not exist - is this node part of a cluster?"
)
NO_QUORUM = "cluster not ready - no quorum?"


def _clusters(ctx: Context) -> dict[str, Any]:
    data = read_json(ctx.lab_dir / "clusters.json", {})
    assert isinstance(data, dict)
    return data


def _address(name: str) -> str:
    return next(h.address for h in HOSTS if h.name == name)


def cert_fingerprint(pem_path: Path) -> str:
    """``openssl x509 -fingerprint -sha256`` format: upper-case hex pairs joined by colons."""
    der = ssl.PEM_cert_to_DER_cert(pem_path.read_text(encoding="ascii"))
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


# --------------------------------------------------------------------------- pvecm


def _pvecm_status(ctx: Context, state: dict[str, Any]) -> int:
    cluster = state.get("cluster")
    if not cluster:
        raise ToolError(NOT_A_CLUSTER, 255)
    members = _clusters(ctx).get(cluster, {}).get("members", [ctx.name])
    quorate = "cluster-no-quorum" not in ctx.faults()
    seen = members if quorate else [ctx.name]
    expected = len(members)
    needed = expected // 2 + 1
    lines = [
        "Cluster information",
        "-------------------",
        f"Name:             {cluster}",
        f"Config Version:   {len(members)}",
        "Transport:        knet",
        "Secure auth:      on",
        "",
        "Quorum information",
        "------------------",
        f"Date:             {time.strftime('%a %b %d %H:%M:%S %Y')}",
        "Quorum provider:  corosync_votequorum",
        f"Nodes:            {len(seen)}",
        f"Node ID:          0x{members.index(ctx.name) + 1:08x}",
        "Ring ID:          1.d",
        f"Quorate:          {'Yes' if quorate else 'No'}",
        "",
        "Votequorum information",
        "----------------------",
        f"Expected votes:   {expected}",
        f"Highest expected: {expected}",
        f"Total votes:      {len(seen)}",
        f"Quorum:           {needed}  " + ("" if quorate else "Activity blocked"),
        f"Flags:            {'Quorate ' if quorate else ''}",
        "",
        "Membership information",
        "----------------------",
        "    Nodeid      Votes Name",
    ]
    for index, member in enumerate(members, 1):
        if member in seen:
            local = " (local)" if member == ctx.name else ""
            lines.append(f"0x{index:08x}          1 {_address(member)}{local}")
    out("\n".join(lines))
    return 0


def pvecm(ctx: Context) -> int:
    command = ctx.args[0] if ctx.args else "help"
    with ctx.locked() as state:
        if command == "status":
            return _pvecm_status(ctx, state)
        if command == "nodes":
            if not state.get("cluster"):
                raise ToolError(NOT_A_CLUSTER, 255)
            members = _clusters(ctx)[state["cluster"]]["members"]
            out("\nMembership information\n----------------------\n    Nodeid      Votes Name")
            out(
                "\n".join(
                    f"{i:>10} {1:>10} {m}{' (local)' if m == ctx.name else ''}"
                    for i, m in enumerate(members, 1)
                )
            )
            return 0
        clusters = _clusters(ctx)
        if command == "create":
            name = ctx.args[1]
            if state.get("cluster"):
                raise ToolError("cluster config '/etc/pve/corosync.conf' already exists", 255)
            clusters[name] = {"members": [ctx.name], "storages": state["storages"]}
            state["cluster"] = name
            write_json(ctx.lab_dir / "clusters.json", clusters)
            out(
                "Corosync Cluster Engine Authentication key generator.\n"
                "Writing corosync config to /etc/pve/corosync.conf\n"
                "Restart corosync and cluster filesystem"
            )
            return 0
        if command == "add":
            return _pvecm_add(ctx, state, clusters)
    raise ToolError(f"ERROR: unknown command 'pvecm {command}'", 255)


def _pvecm_add(ctx: Context, state: dict[str, Any], clusters: dict[str, Any]) -> int:
    args = ctx.args[1:]
    address = args[0] if args else ""
    fingerprint = args[args.index("--fingerprint") + 1] if "--fingerprint" in args else None
    if state.get("cluster"):
        raise ToolError("detected the following error(s):\n* this host already is part of a cluster", 255)
    target = next((h for h in HOSTS if h.address == address), None)
    target_state = (
        read_json(ctx.lab_dir / "hosts" / target.name / "root" / STATE_DIR.lstrip("/") / "state.json", {})
        if target
        else {}
    )
    assert isinstance(target_state, dict)
    if target is None or not target_state.get("cluster"):
        raise ToolError(f"unable to connect to remote host '{address}' or it is not part of a cluster", 255)
    pem = ctx.lab_dir / "hosts" / target.name / "root/etc/pve/local/pve-ssl.pem"
    if fingerprint is not None and fingerprint.upper() != cert_fingerprint(pem):
        raise ToolError(f"Error: Certificate fingerprint verification failed for {address}", 255)
    if "cluster-no-quorum" in ctx.faults() or "cluster-no-quorum" in _faults_of(ctx, target.name):
        raise ToolError(f"waiting for quorum...\n{NO_QUORUM}", 255)
    name = target_state["cluster"]
    record = clusters.setdefault(name, {"members": [target.name]})
    record.setdefault("storages", target_state.get("storages", []))
    if ctx.name not in record["members"]:
        record["members"].append(ctx.name)
    state["cluster"] = name
    write_json(ctx.lab_dir / "clusters.json", clusters)
    out(
        "copy corosync auth key\nstopping pve-cluster service\nwaiting for quorum...OK\n"
        "(re)generate node files\n"
        f"generate new node certificate\nmerge authorized SSH keys and known hosts\n"
        f"successfully added node '{ctx.name}' to cluster."
    )
    return 0


def _faults_of(ctx: Context, host: str) -> set[str]:
    from migrator.lab.state import faults_of

    return faults_of(ctx.lab_dir, host)


# --------------------------------------------------------------------------- pvesm / pveam / pveversion


def storages(ctx: Context, state: dict[str, Any]) -> list[dict[str, Any]]:
    cluster = state.get("cluster")
    record = _clusters(ctx).get(cluster, {}) if cluster else {}
    result: list[dict[str, Any]] = record.get("storages", state["storages"])
    return result


STORAGE_TOTAL = 37399969664  # bytes, what an active lab storage reports (a 35 GiB pool)
STORAGE_USED = 91357184  # 87 MiB


def pvesm(ctx: Context) -> int:
    command = ctx.args[0] if ctx.args else "help"
    with ctx.locked() as state:
        if command == "status":
            # pve-storage src/PVE/CLI/pvesm.pm $print_status: every size in KiB (bytes / 1024),
            # the name column one wider than the longest name, "% 7.2f%%" for the percentage, sorted
            # by name (tests/data/checks/README.md, pve_storage_active).
            items = sorted(storages(ctx, state), key=lambda item: str(item["name"]))
            width = max((len(item["name"]) for item in items), default=0) + 1
            sizes = " ".join(f"{title:>15}" for title in ("Total", "Used", "Available"))
            out(f"{'Name':<{width}} {'Type':>10} {'Status':>10} {sizes} {'%':>8}")
            for item in items:
                active = _storage_active(state, item)
                total, used = (STORAGE_TOTAL, STORAGE_USED) if active else (0, 0)
                per = f"{100 * used / total: 7.2f}%" if total else f"{0: 7.2f}%"
                out(
                    f"{item['name']:<{width}} {item['type']:>10} {('active' if active else 'inactive'):>10} "
                    f"{total // 1024:>15} {used // 1024:>15} {(total - used) // 1024:>15} {per}"
                )
            return 0
        if command == "add":
            if "cluster-no-quorum" in ctx.faults() and state.get("cluster"):
                raise ToolError(NO_QUORUM, 255)
            kind, name = ctx.args[1], ctx.args[2]
            opts = dict(zip(ctx.args[3::2], ctx.args[4::2], strict=False))
            items = storages(ctx, state)
            if any(item["name"] == name for item in items):
                raise ToolError(f"create storage failed: storage ID '{name}' already defined", 255)
            entry = {"name": name, "type": kind}
            entry.update({"pool": opts["--pool"]} if "--pool" in opts else {"path": opts.get("--path", "")})
            items.append(entry)
            _save_storages(ctx, state, items)
            return 0
        if command == "remove":
            _save_storages(ctx, state, [s for s in storages(ctx, state) if s["name"] != ctx.args[1]])
            return 0
    raise ToolError(f"ERROR: unknown command 'pvesm {command}'", 255)


def _storage_active(state: dict[str, Any], item: dict[str, Any]) -> bool:
    if item["type"] == "zfspool":
        return str(item["pool"]) in state["datasets"] and str(item["pool"]).split("/")[0] in state["pools"]
    return item["name"] == "local" or Path(item.get("path", "/nonexistent")).is_dir()


def _save_storages(ctx: Context, state: dict[str, Any], items: list[dict[str, Any]]) -> None:
    cluster = state.get("cluster")
    if cluster:
        clusters = _clusters(ctx)
        clusters.setdefault(cluster, {"members": [ctx.name]})["storages"] = items
        write_json(ctx.lab_dir / "clusters.json", clusters)
    else:
        state["storages"] = items
    from migrator.lab.standins.pve_files import write_storage_cfg  # /etc/pve/storage.cfg (off2 plan)

    write_storage_cfg(ctx.lab_dir / "hosts" / ctx.name / "root/etc/pve/storage.cfg", items)


# Names as pveam lists them for PVE 9 (December 2026); the plans take the newest of their release.
AVAILABLE_TEMPLATES = (
    "debian-11-standard_11.7-1_amd64.tar.zst",
    "debian-12-standard_12.12-1_amd64.tar.zst",
    "debian-13-standard_13.1-1_amd64.tar.zst",
    "debian-13-standard_13.1-2_amd64.tar.zst",
)


def pveam(ctx: Context) -> int:
    command = ctx.args[0] if ctx.args else "help"
    with ctx.locked() as state:
        if command == "update":
            out("update successful")
        elif command == "download":
            template = ctx.args[2]
            state["templates"] = sorted(set(state.get("templates", [])) | {template})
            out(
                f"downloading http://download.proxmox.com/images/system/{template} to "
                f"/var/lib/vz/template/cache/{template}\n"
                "download of template finished"
            )
        elif command == "available":  # `pveam available --section system`: what the plans pick from
            for template in AVAILABLE_TEMPLATES:
                out(f"system          {template}")
        elif command == "list":
            out("NAME                                                         SIZE")
            for template in state.get("templates", []):
                out(f"{ctx.args[1]}:vztmpl/{template:<50} 120.28MB")
        else:
            raise ToolError(f"ERROR: unknown command 'pveam {command}'", 255)
    return 0


def pveversion(ctx: Context) -> int:
    out("pve-manager/9.1.1/42db4a6cf33dac83 (running kernel: 6.17.2-1-pve)")  # the plans' default release
    return 0


# --------------------------------------------------------------------------- pct


def _api(ctx: Context, method: str, path: str) -> Any:
    config = json.loads((ctx.lab_dir / "hosts" / ctx.host_name / "pve" / "config.json").read_text())
    token = Path(config["token_file"]).read_text(encoding="utf-8").strip()
    request = urllib.request.Request(
        f"https://{config['address']}:{config['port']}/api2/json{path}",
        method=method,
        headers={"Authorization": f"PVEAPIToken={config['token_id']}={token}"},
    )
    context = ssl.create_default_context(cafile=config["cert"])
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return json.loads(answer.read())["data"]
    except urllib.error.HTTPError as exc:
        raise ToolError(exc.reason or f"HTTP {exc.code}", 255) from exc
    except urllib.error.URLError as exc:
        raise ToolError(f"ipcc_send_rec[1] failed: {exc.reason}", 255) from exc


def _ct_status(ctx: Context, ctid: str) -> str:
    try:
        return str(_api(ctx, "GET", f"/nodes/{ctx.name}/lxc/{ctid}/status/current")["status"])
    except ToolError as exc:
        # pct dies after failing to open the config: perl's exit code is errno, ENOENT (2).
        raise ToolError(f"Configuration file 'nodes/{ctx.name}/lxc/{ctid}.conf' does not exist", 2) from exc


def pct(ctx: Context) -> int:
    if ctx.in_container:
        raise ToolError("bash: pct: command not found", 127)
    command = ctx.args[0] if ctx.args else "help"
    if command == "exec":
        return _pct_exec(ctx)
    if command in ("set", "destroy"):  # as root@pam (off2 plan: bind mount points)
        from migrator.lab.standins.pct_admin import pct_admin

        return pct_admin(ctx)
    if command == "list":
        cts = _api(ctx, "GET", f"/nodes/{ctx.name}/lxc")
        if cts:  # like pct: no header when there are no guests
            out("VMID       Status     Lock         Name")
        for ct in sorted(cts, key=lambda c: int(c["vmid"])):
            out(f"{ct['vmid']:<10} {ct['status']:<10} {'':<12} {ct.get('name', '')}")
        return 0
    if command == "status":
        out(f"status: {_ct_status(ctx, ctx.args[1])}")
        return 0
    if command == "config":
        _ct_status(ctx, ctx.args[1])
        config = _api(ctx, "GET", f"/nodes/{ctx.name}/lxc/{ctx.args[1]}/config")
        out("\n".join(f"{k}: {v}" for k, v in sorted(config.items()) if k != "digest"))
        return 0
    if command in ("start", "stop", "shutdown", "reboot"):
        _ct_status(ctx, ctx.args[1])
        _api(ctx, "POST", f"/nodes/{ctx.name}/lxc/{ctx.args[1]}/status/{command}")
        return 0
    raise ToolError(f"ERROR: unknown command 'pct {command}'", 255)


def _pct_exec(ctx: Context) -> int:
    args = ctx.args[1:]
    ctid = args[0]
    command = args[args.index("--") + 1 :] if "--" in args else args[1:]
    if _ct_status(ctx, ctid) != "running":
        raise ToolError(f"CT {ctid} not running", 255)
    root = f"{STATE_DIR}/ct/{ctid}/root"
    for bound in CONTAINER_BINDS:
        Path(root + bound).mkdir(parents=True, exist_ok=True)
    identity = Path(root + STATE_DIR) / "host.json"
    if not identity.exists():
        from migrator.lab.hostfiles import seed_etc, template_debian_version
        from migrator.lab.state import container_state, save

        guest = ctx.load().get("guests", {}).get(str(ctid), {})
        template = guest.get("ostemplate") or ""
        seed_etc(
            Path(root + "/etc"),
            hostname=str(guest.get("hostname", f"CT{ctid}")),
            debian_version=template_debian_version(template),
        )

        write_json(
            identity,
            {
                "name": f"{ctx.name}/ct:{ctid}",
                "lab_dir": str(ctx.lab_dir),
                "host": ctx.name,
                "ctid": int(ctid),
            },
        )
        save(identity.parent, container_state(int(ctid)))
    # The CT's mount points (mp0: a ZFS subvol of the host) replace the lab's default directories.
    mounts = ctx.load().get("guests", {}).get(str(ctid), {}).get("mounts", {})
    binds = "; ".join(
        f"mount --bind {mounts.get(p, root + p)} {p}" for p in CONTAINER_BINDS if p not in mounts
    )
    # A mount point outside the lab's binds (mp0 at /var/lib/redis) needs an empty directory there,
    # as the lab's own mount points do.
    binds += "".join(f"; mkdir -p {point}; mount --bind {source} {point}" for point, source in mounts.items())
    script = f'set -e; {binds}; cd /; exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script, "pct-exec", *command]
    os.execvp(argv[0], argv)
    return 127  # not reached: exec replaced this process
