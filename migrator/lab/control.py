"""Bring the lab up and down: per host an sshd in its own mount namespace, a fakepve API.

``up`` is idempotent: what runs is left alone, what died is restarted, keys and state
already made are kept. Every process started is recorded in ``DIR/pids.json`` with the
command line it was started with (a host's sshd by its own PID, with its ``unshare`` wrapper's)
and carries the lab's marker in its environment (:mod:`migrator.lab.marker`): ``down`` stops
the recorded ones, the daemons the stand-in ``systemctl`` started (recorded in each host's
state), and then every marked process left, such as one an effect of a killed run started.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import migrator
from migrator.errors import LabError
from migrator.lab import ct_sources
from migrator.lab import sshd as sshd_mod
from migrator.lab import state as host_state
from migrator.lab.hostfiles import seed_etc, seed_old_system
from migrator.lab.inventory_file import write_inventory
from migrator.lab.layout import (
    CONTAINER_BINDS,
    EXTRA_SSH_PORT,
    HOST_BINDS,
    HOSTS,
    PVE_PORT,
    SSH_PORT,
    STANDIN_DIR,
    LabHost,
    LabPaths,
    host,
    read_json,
    write_json,
)
from migrator.lab.marker import marked_env, stop_marked
from migrator.lab.procs import stop_recorded_daemons
from migrator.lab.standins import TOOLS, backends
from migrator.lab.standins.legacy import seed_legacy_rules
from migrator.lab.upstream import infra_files, write_infra_repo, write_mirror, write_sanoid_repo

PVE_START_TIMEOUT = 20.0
TOKEN_ID = "root@pam!migrator"


@dataclass(frozen=True)
class ProcessInfo:
    key: str
    pid: int
    running: bool


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError(
            "the lab needs root: each host's sshd runs in its own mount namespace with bind mounts",
            hint="run `migrator lab up` as root (sudo), or inside a user namespace "
            "(unshare --user --map-root-user --mount ...)",
        )
    for tool in ("unshare", "mount", "stunnel"):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} not found", hint="apt-get install util-linux mount stunnel4")


class Lab:
    """The lab in ``directory`` (default ``.lab/``)."""

    def __init__(self, directory: Path) -> None:
        self.paths = LabPaths(directory)

    # ------------------------------------------------------------ processes

    def _pids(self) -> dict[str, dict[str, object]]:
        data = read_json(self.paths.pids, {})
        assert isinstance(data, dict)
        return data

    def _record(self, key: str, pid: int, argv: list[str], wrapper: int | None = None) -> None:
        pids = self._pids()
        pids[key] = {"pid": pid, "argv": argv, **({"wrapper": wrapper} if wrapper else {})}
        write_json(self.paths.pids, pids)

    def _forget(self, key: str) -> None:
        pids = self._pids()
        pids.pop(key, None)
        write_json(self.paths.pids, pids)

    def running(self, key: str) -> int | None:
        """The PID of ``key`` if it still runs the command recorded for it."""
        entry = self._pids().get(key)
        if entry is None:
            return None
        pid = int(str(entry["pid"]))
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        # A recycled PID runs something else: compare the config file argument we passed.
        argv = [str(a) for a in entry["argv"]]  # type: ignore[attr-defined]
        # sshd rewrites its process title ("sshd: /usr/sbin/sshd -D -e -f CFG [listener] ..."):
        # look for the config path anywhere in it.
        if not sshd_mod.alive(pid) or argv[-1].encode() not in b" ".join(cmdline):
            return None
        return pid

    def status(self) -> list[ProcessInfo]:
        return [
            ProcessInfo(key, int(str(v["pid"])), self.running(key) is not None)
            for key, v in self._pids().items()
        ]

    # ------------------------------------------------------------ up

    def up(self) -> list[str]:
        """Start what is not running; returns one line per host."""
        require_root()
        sshd_mod.require_tools()
        self.paths.dir.mkdir(parents=True, exist_ok=True)
        self._write_standins()
        if not self.paths.client_key.exists():
            sshd_mod.keygen(self.paths.client_key)
        off1_cts, off2_cts = host("off1").vars["ct_prefix"], host("off2").vars["ct_prefix"]
        files = infra_files(f"{off1_cts}.102", host("off2").address, f"{off2_cts}.122", host("off1").address,
                            f"{off2_cts}.121")  # fmt: skip
        write_infra_repo(self.paths.infra_repo, files)
        write_sanoid_repo(self.paths.sanoid_repo)
        write_mirror(self.paths.dir / "mirror")
        for lab_host in HOSTS:
            self._prepare_host(lab_host)
        if not self.paths.clusters.exists():  # the first `up`: off1 and off2 trust each other (2023)
            self.trust("off1", "off2")
            self.trust("off2", "off1")
            off2 = host_state.load(self.paths.state_dir("off2"))
            write_json(self.paths.clusters, {"off-free": {"members": ["off2"], "storages": off2["storages"]}})
        lines = []
        for lab_host in HOSTS:
            started = []
            if self.running(f"sshd:{lab_host.name}") is None:
                self.start_sshd(lab_host)
                started.append("sshd")
            if lab_host.proxmox and self.running(f"pve:{lab_host.name}") is None:
                self._start_pve(lab_host)
                started.append("fakepve")
            what = f"started {', '.join(started)}" if started else "already running"
            lines.append(f"{lab_host.name:5} {lab_host.address}:{SSH_PORT}  {what}")
        # The services behind the lab's tunnels (the real redis-server, MongoDB- and HTTP-ish responders).
        backends_started = backends.ensure_running(self, Path(host("off2").vars["tunnels"]))
        state = "started" if backends_started else "already running"
        lines.append(f"backends {state} (behind the lab tunnels)")
        sources = ct_sources.add()
        if sources is not None:
            lines.append(sources)
        self.write_known_hosts()
        write_inventory(self.paths, TOKEN_ID)
        from migrator.lab.services import ensure_off1_web, ensure_off2_moved, ensure_off_running

        # through off2's (and off1's) sshd
        for seeded in (ensure_off2_moved(self), ensure_off_running(self), ensure_off1_web(self)):
            if seeded is not None:
                lines.append(seeded)
        return lines

    def _write_standins(self) -> None:
        """One tiny script per tool; all run the same dispatcher with this interpreter."""
        self.paths.bin.mkdir(parents=True, exist_ok=True)
        repo = Path(migrator.__file__).resolve().parent.parent
        script = (
            f"#!{sys.executable}\n"
            "# migrator lab stand-in: see migrator/lab/standins (a fake of the real tool)\n"
            "import sys\n"
            f"sys.path.insert(0, {str(repo)!r})\n"
            "from migrator.lab.standins.main import main\n"
            "sys.exit(main(sys.argv))\n"
        )
        for stale in self.paths.bin.iterdir():  # a tool an older lab faked and this one runs for real
            if stale.name not in TOOLS and "migrator lab stand-in" in stale.read_text(errors="replace"):
                stale.unlink()
        for tool in TOOLS:
            path = self.paths.bin / tool
            if not path.exists() or path.read_text(encoding="utf-8") != script:
                path.write_text(script, encoding="utf-8")
                path.chmod(0o755)

    def _prepare_host(self, lab_host: LabHost) -> None:
        name = lab_host.name
        root = self.paths.root(name)
        for bound in HOST_BINDS:
            (root / bound.lstrip("/")).mkdir(parents=True, exist_ok=True)
            # The mount point must exist on the machine: an empty directory, nothing else.
            Path(bound).mkdir(parents=True, exist_ok=True)
        seed_etc(root / "etc", hostname=name, address=lab_host.address)
        state_dir = self.paths.state_dir(name)
        write_json(
            state_dir / "host.json",
            {"name": name, "lab_dir": str(self.paths.dir), "address": lab_host.address, "node": name},
        )
        if not host_state.state_file(state_dir).exists():
            initial = host_state.initial(name, lab_host.profile)
            seed_legacy_rules(initial, name)  # off2's 2023 MongoDB IP filter and DNAT
            host_state.save(state_dir, initial)
            seed_old_system(root, name, lab_host.profile)
            for dataset in initial["datasets"]:
                if dataset.split("/")[0] in ("zfs-hdd", "zfs-nvme"):
                    (root / dataset).mkdir(parents=True, exist_ok=True)
        for ctid in lab_host.containers:
            self.prepare_container(name, ctid)
        directory = self.paths.host_dir(name)
        if not (directory / "host_ed25519").exists():
            sshd_mod.keygen(directory / "host_ed25519")
        ssh_dir = root / "root/.ssh"
        ssh_dir.chmod(0o700)
        if not (ssh_dir / "id_rsa").exists():  # Proxmox (and the old hosts) have a root key pair
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "rsa",
                    "-b",
                    "2048",
                    "-N",
                    "",
                    "-C",
                    f"root@{name}",
                    "-f",
                    str(ssh_dir / "id_rsa"),
                ],
                check=True,
                stdin=subprocess.DEVNULL,
            )
        if lab_host.proxmox:
            self._prepare_pve(lab_host)
        self.publish_host_key(name)

    def publish_host_key(self, name: str) -> None:
        """/etc/ssh holds the key the host's sshd serves (plans read it there to pin it elsewhere)."""
        etc_ssh = self.paths.root(name) / "etc/ssh"
        etc_ssh.mkdir(parents=True, exist_ok=True)
        for old in etc_ssh.glob("ssh_host_*_key*"):
            old.unlink()
        key = self.paths.host_dir(name) / "host_ed25519"
        shutil.copyfile(key, etc_ssh / "ssh_host_ed25519_key")
        (etc_ssh / "ssh_host_ed25519_key").chmod(0o600)
        shutil.copyfile(key.with_name("host_ed25519.pub"), etc_ssh / "ssh_host_ed25519_key.pub")

    def prepare_container(self, name: str, ctid: int) -> None:
        ct_dir = self.paths.state_dir(name) / "ct" / str(ctid)
        for bound in CONTAINER_BINDS:
            (ct_dir / "root" / bound.lstrip("/")).mkdir(parents=True, exist_ok=True)
        seed_etc(ct_dir / "root/etc", hostname=f"ct{ctid}")
        ct_state = ct_dir / "root" / "var/lib/migrator-lab"
        write_json(
            ct_state / "host.json",
            {"name": f"{name}/ct:{ctid}", "lab_dir": str(self.paths.dir), "host": name, "ctid": ctid},
        )
        if not host_state.state_file(ct_state).exists():
            host_state.save(ct_state, host_state.container_state(ctid))

    def _boot_script(self, lab_host: LabHost) -> Path:
        """Bind the host's own directories, then exec sshd (argv), all in the new namespace."""
        root = self.paths.root(lab_host.name)
        binds = [f"mount --bind {root}{p} {p}" for p in HOST_BINDS]
        binds.append(f"mount --bind {self.paths.bin} {STANDIN_DIR}")
        # Its own /dev: the machine's character devices and placeholders for its disks (devnodes).
        from migrator.lab.standins import devnodes

        dev = self.paths.host_dir(lab_host.name) / "dev"
        devnodes.prepare(dev)
        state_dir = self.paths.state_dir(lab_host.name)
        faults = host_state.faults_of(self.paths.dir, lab_host.name)
        devnodes.sync(dev, host_state.load(state_dir), faults)
        binds += devnodes.boot_lines(dev)
        script = self.paths.host_dir(lab_host.name) / "boot.sh"
        script.write_text("#!/bin/sh\nset -e\n" + "\n".join(binds) + '\nexec "$@"\n', encoding="utf-8")
        return script

    def start_sshd(self, lab_host: LabHost) -> int:
        directory = self.paths.host_dir(lab_host.name)
        (directory / "home").mkdir(exist_ok=True)
        authorized = directory / "authorized_keys"
        authorized.write_text(
            self.paths.client_key.with_name("client_ed25519.pub").read_text(), encoding="utf-8"
        )
        config = directory / "sshd_config"
        ports = [SSH_PORT] + ([EXTRA_SSH_PORT] if _port_free(lab_host.address, EXTRA_SSH_PORT) else [])
        sshd_mod.write_config(
            config,
            address=lab_host.address,
            ports=ports,
            host_key=directory / "host_ed25519",
            authorized_keys=authorized,
            pid_file=directory / "sshd.pid",
            home=directory / "home",
            root_authorized_keys=True,
        )
        # Own mount namespace (the host's files) and own PID namespace with its own /proc: `ps`
        # and `pgrep` on a lab host see that host's processes only, as on a real machine. The
        # sshd is the namespace's init: stopping it ends every process of the host (a reboot).
        wrapper = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child",  # the wrapper killed takes its sshd (and so the host) with it
            "--mount-proc",
            "/bin/sh",
            str(self._boot_script(lab_host)),
        ]
        env = marked_env(self.paths.dir)
        wrapper_pid = sshd_mod.launch(config, directory / "sshd.log", wrapper=wrapper, env=env)
        # sshd is the wrapper's only child (it listens: the boot script has exec'd it by now)
        pid = next(iter(sshd_mod.children(wrapper_pid)), wrapper_pid)
        self._record(
            f"sshd:{lab_host.name}", pid, [str(sshd_mod.SSHD), "-D", "-e", "-f", str(config)], wrapper_pid
        )
        return pid

    def stop_sshd(self, name: str) -> None:
        key = f"sshd:{name}"
        wrapper = self._pids().get(key, {}).get("wrapper")
        pid = self.running(key)
        if pid is not None:
            sshd_mod.kill_family(pid)
        if isinstance(wrapper, int) and pid is not None:  # it ends with its child; never wait long
            sshd_mod.kill_family(wrapper, timeout=1.0)
        self._forget(key)

    def trust(self, client: str, server: str) -> None:
        """``client``'s root may ssh to ``server`` as root, with ``server``'s host key known."""
        server_host = host(server)
        client_ssh = self.paths.root(client) / "root/.ssh"
        public = self.paths.host_dir(server) / "host_ed25519.pub"
        lines = [
            sshd_mod.known_hosts_line(server_host.address, port, public)
            for port in (EXTRA_SSH_PORT, SSH_PORT)
        ]
        with (client_ssh / "known_hosts").open("a", encoding="utf-8") as known:
            known.write("\n".join(lines) + "\n")
        with (self.paths.root(server) / "root/.ssh/authorized_keys").open("a", encoding="utf-8") as keys:
            keys.write((client_ssh / "id_rsa.pub").read_text(encoding="utf-8"))

    def write_known_hosts(self) -> None:
        lines = [
            sshd_mod.known_hosts_line(h.address, SSH_PORT, self.paths.host_dir(h.name) / "host_ed25519.pub")
            for h in HOSTS
        ]
        self.paths.known_hosts.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # ------------------------------------------------------------ fakepve

    def _prepare_pve(self, lab_host: LabHost) -> None:
        pve_dir = self.paths.pve_dir(lab_host.name)
        pve_dir.mkdir(parents=True, exist_ok=True)
        pve_dir.chmod(0o700)
        for secret_file in (self.paths.token_file(lab_host.name), pve_dir / "password"):
            if not secret_file.exists():
                fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_hex(16) + "\n")
        if not (pve_dir / "fakepve.crt").exists():
            from fakepve.certs import make_cert

            make_cert(str(pve_dir), hosts=(lab_host.address,))
            shutil.copyfile(pve_dir / "fakepve.crt", self.paths.ca_file(lab_host.name))
        self.install_node_cert(lab_host.name)

    def install_node_cert(self, name: str) -> None:
        """A Proxmox node has /etc/pve/local/pve-ssl.pem: the API's certificate (fingerprints agree)."""
        if host_state.load(self.paths.state_dir(name)).get("profile") != "pve":
            return
        local = self.paths.root(name) / "etc/pve/local"
        local.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.paths.pve_dir(name) / "fakepve.crt", local / "pve-ssl.pem")

    def _start_pve(self, lab_host: LabHost) -> int:
        pve_dir = self.paths.pve_dir(lab_host.name)
        config = pve_dir / "config.json"
        write_json(
            config,
            {
                "address": lab_host.address,
                "port": PVE_PORT,
                "node": lab_host.name,
                "token_id": TOKEN_ID,
                "token_file": str(self.paths.token_file(lab_host.name)),
                "password_file": str(pve_dir / "password"),
                "cert": str(pve_dir / "fakepve.crt"),
                "key": str(pve_dir / "fakepve.key"),
                "state_file": str(host_state.state_file(self.paths.state_dir(lab_host.name))),
                "clusters_file": str(self.paths.clusters),
                "faults_file": str(self.paths.faults(lab_host.name)),
                "guests": [
                    {"vmid": ctid, "name": f"ct{ctid}"}
                    for ctid in lab_host.containers
                    if lab_host.profile == "pve"
                ],
            },
        )
        log = pve_dir / "fakepve.log"
        argv = [sys.executable, "-m", "migrator.lab.pve", str(config)]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                cwd=str(Path(migrator.__file__).parent.parent),
                env=marked_env(self.paths.dir),
            )
        deadline = time.monotonic() + PVE_START_TIMEOUT
        while time.monotonic() < deadline:
            if not _port_free(lab_host.address, PVE_PORT):
                self._record(f"pve:{lab_host.name}", proc.pid, argv)
                return proc.pid
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        raise LabError(
            f"fakepve for {lab_host.name} did not start:\n{log.read_text(errors='replace')[-2000:]}"
        )

    # ------------------------------------------------------------ physical effects

    def reinstall(self, name: str) -> str:
        """A fresh Proxmox install on ``name``: new state and files, new host key, sshd restarted.

        Safe to run again after it was killed half-way (the step's ``--retry``): the old state
        it carries over is kept outside the host's files until the new install is complete.
        """
        lab_host = host(name)
        self.stop_sshd(name)
        pending = self.paths.host_dir(name) / "reinstall-old-state.json"  # see reinstall_pending
        old_state = read_json(pending, None)  # a reinstall killed before it completed
        if old_state is None:
            stop_recorded_daemons(self.paths.state_dir(name))
            old_state = host_state.load(self.paths.state_dir(name))  # its NVMe pools survive (off2)
            write_json(pending, old_state)
        assert isinstance(old_state, dict)
        if self.paths.root(name).exists():
            _remove_tree(self.paths.root(name))
        state_dir = self.paths.state_dir(name)
        state_dir.mkdir(parents=True)
        fresh = host_state.fresh_pve(name)
        fresh["routes"] = host_state.routes(name)
        host_state.save(state_dir, fresh)
        clusters = read_json(self.paths.clusters, {})
        assert isinstance(clusters, dict)
        for record in clusters.values():
            if name in record.get("members", []):
                record["members"].remove(name)
        write_json(self.paths.clusters, clusters)
        self._prepare_host(lab_host)
        interfaces = self.paths.root(name) / "etc/network/interfaces"
        interfaces.write_text(
            "auto lo\niface lo inet loopback\n\niface eno1 inet manual\n\n"
            "auto vmbr0\niface vmbr0 inet static\n"
            f"\taddress {lab_host.address}/24\n\tgateway 127.0.1.254\n\tbridge-ports eno1\n"
            "\tbridge-stp off\n\tbridge-fd 0\n",
            encoding="utf-8",
        )
        sshd_mod.keygen(self.paths.host_dir(name) / "host_ed25519")
        self.publish_host_key(name)
        if lab_host.proxmox:
            self.install_node_cert(name)
            from migrator.lab.standins.off2_history import after_reinstall

            after_reinstall(self, name, old_state)  # untouched disks' pools, no guests, storage.cfg
        self.start_sshd(lab_host)
        pending.unlink()  # complete: a later reinstall starts from this install
        return self.host_key_fingerprint(name)

    def reinstall_pending(self, name: str) -> bool:
        """Whether a reinstall of ``name`` was killed before it completed."""
        return (self.paths.host_dir(name) / "reinstall-old-state.json").exists()

    def reboot(self, name: str, pause: float = 1.0) -> None:
        """sshd goes away for ``pause`` seconds and comes back (daemons do not survive it)."""
        self.stop_sshd(name)
        stop_recorded_daemons(self.paths.state_dir(name))
        time.sleep(pause)
        self.start_sshd(host(name))

    def host_key_fingerprint(self, name: str) -> str:
        result = subprocess.run(
            ["ssh-keygen", "-lf", str(self.paths.host_dir(name) / "host_ed25519.pub")],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.split()[1]

    # ------------------------------------------------------------ down

    def down(self) -> list[str]:
        """Stop every process ``up`` (or a stand-in, or a fault) started; returns what was stopped."""
        stopped = []
        for key in list(self._pids()):
            pid = self.running(key)
            if pid is not None:
                sshd_mod.kill_family(pid)
                stopped.append(f"{key} (pid {pid})")
            self._forget(key)
        for lab_host in HOSTS:
            stopped += stop_recorded_daemons(self.paths.state_dir(lab_host.name))
        # What no pid file knows: started by an effect of a killed run, or left by a killed wrapper.
        stopped += [f"pid {pid} (unrecorded, marked with this lab)" for pid in stop_marked(self.paths.dir)]
        ct_sources.remove()
        return stopped

    def reset(self) -> list[str]:
        """Start the world over (off2 moved, off1 not yet; no faults): down, every host's files and
        state removed, up. The lab's client key, infra repo and any state.db in DIR are kept."""
        require_root()
        self.down()
        hosts = self.paths.dir / "hosts"
        if hosts.exists():
            _remove_tree(hosts)
        self.paths.clusters.unlink(missing_ok=True)
        return self.up()

    def record_extra(self, key: str, pid: int, argv: list[str]) -> None:
        """For other lab parts (fault squatters): stopped by ``down`` like the rest."""
        self._record(key, pid, argv)

    def stop_extra(self, key: str) -> None:
        pid = self.running(key)
        if pid is not None:
            sshd_mod.kill_family(pid)
        self._forget(key)


def _remove_tree(root: Path) -> None:
    """Remove a host's old files: moved aside first (atomic), so a last process of the old
    system still writing there (a session sshd has not reaped yet) cannot touch the new one."""
    trash = root.with_name(f".{root.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    root.rename(trash)
    for attempt in range(20):
        try:
            shutil.rmtree(trash)
            return
        except OSError:
            if attempt == 19:
                raise
            time.sleep(0.05)  # a file appeared while we removed the tree: the writer is dying


def _port_free(address: str, port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True
