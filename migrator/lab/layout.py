"""What the lab is made of: its hosts, their addresses, and where their files live under DIR.

Host names are the production ones (plans name hosts, only the inventory differs). Each host
gets one loopback address (127.0.1.N) with sshd on :data:`SSH_PORT` and, for Proxmox hosts,
a fakepve API on :data:`PVE_PORT`. Paths the plans touch are bound, inside the host's private
mount namespace, from ``DIR/hosts/NAME/root<path>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SSH_PORT = 2222  # not 22: a system sshd on 0.0.0.0:22 would clash
EXTRA_SSH_PORT = 22  # also tried on the host's own address (plans probe port 22); optional
PVE_PORT = 8006
STATE_DIR = "/var/lib/migrator-lab"  # stand-in state, per host (and per container)
STANDIN_DIR = "/usr/local/sbin"  # first in root's PATH: the stand-ins shadow nothing else

# Paths bound per host. Order matters only for nesting: outer before inner. /etc is the host's
# own copy (users, /etc/hosts, apt sources, locale.gen, cron.d): real adduser, id, getent and
# sed -i work on it, and nothing a plan writes under /etc reaches the machine.
HOST_BINDS: tuple[str, ...] = (
    "/etc",
    "/etc/stunnel",
    "/etc/network",
    "/etc/pve",
    "/etc/sanoid",
    "/etc/systemd/system",
    "/srv",
    "/zfs-hdd",
    "/zfs-nvme",
    "/mongo",
    "/opt",  # sanoid-install clones and builds in /opt (docs/sanoid.md): never the machine's
    "/opt/openfoodfacts-infrastructure",
    "/run/stunnel-off",
    "/root/.ssh",  # root's own keys, authorized_keys and known_hosts per host
    "/home",  # adduser makes /home/USER (operators' authorized_keys)
    "/var/spool/cron",  # crontab
    "/var/log/mongodb",
    "/var/lib/migrator",  # detached jobs (migrator.executors.detached.JOBS_DIR), per host
    STATE_DIR,
)
# Paths bound per container, inside its host's namespace (the stand-in dir stays the host's).
CONTAINER_BINDS: tuple[str, ...] = (
    "/etc",  # the container's own /etc (its Debian release, users, /etc/hostname)
    "/etc/stunnel",
    "/etc/network",
    "/etc/systemd/system",
    "/srv",
    "/mongo",
    "/opt/openfoodfacts-infrastructure",
    "/run/stunnel-off",
    "/root/.ssh",  # the CT's own root key (its deploy key), not its host's
    "/home",
    "/var/spool/cron",
    "/var/log/mongodb",
    "/var/lib/migrator",
    STATE_DIR,  # last: the sources of the others live under the host's STATE_DIR
)


@dataclass(frozen=True)
class LabHost:
    """One lab host: name, address, whether it runs Proxmox, its containers and install state."""

    name: str
    address: str
    role: str
    proxmox: bool
    profile: str  # "pve": Proxmox installed; "debian": the old bare-metal system
    containers: tuple[int, ...] = ()
    jump: str | None = None
    vars: dict[str, str] = field(default_factory=dict)


_TUNNELS = str(Path(__file__).resolve().parents[2] / "plans" / "tunnels.lab.yaml")


def _free_dc(name: str, site: int, address: str, proxy_ct: str) -> dict[str, str]:
    """The inventory vars the plans use, with lab values (CT addresses as in tunnels.lab.yaml)."""
    return {
        "idrac": f"{address}:{PVE_PORT}",  # the host's fakepve stands in for the iDRAC web page
        "gateway": "127.0.1.254",
        "dns": "127.0.1.253",
        "public_net": "127.0.1.0/24",
        "private_net": "127.0.0.0/8",  # vmbr1 gets private_ip/8 in the plans
        "proxy_ct_ip": proxy_ct,
        "fqdn": address,
        "ct_prefix": f"127.{site}.0",
    }


# off2's IPv6 (plans/off2.yaml network-ipv6): documentation and ULA prefixes, written into the
# lab's interfaces file only (the lab routes no IPv6).
_OFF2_IPV6 = {"public_ip6": "2001:db8:2::1", "gateway6": "2001:db8:2::fffe", "private_ip6": "fd00:2::1",
              "private_net6": "fd00:2::/48"}  # fmt: skip


HOSTS: tuple[LabHost, ...] = (
    LabHost(
        "off1",
        "127.0.1.1",
        "proxmox",
        True,
        "debian",
        (100, 102, 115),
        vars=_free_dc("off1", 1, "127.0.1.1", "127.1.1.100"),
    ),
    LabHost(
        "off2",
        "127.0.1.2",
        "proxmox",
        True,
        "pve",
        (101, 103, 113),
        vars={**_free_dc("off2", 2, "127.0.1.2", "127.2.1.101"), "tunnels": _TUNNELS, **_OFF2_IPV6},
    ),
    LabHost(
        "off3", "127.0.1.3", "mongodb-interim", False, "debian", jump="off2", vars={"mongo_data": "/mongo/db"}
    ),
    LabHost("ovh1", "127.0.1.11", "proxmox", True, "pve", (101, 102, 113)),
    LabHost("ovh2", "127.0.1.12", "proxmox", True, "pve"),
    LabHost("ovh3", "127.0.1.13", "storage", True, "pve", vars={"fqdn": "127.0.1.13"}),
    LabHost("moji", "127.0.1.45", "proxmox", True, "pve", (101, 102)),
)


def host(name: str) -> LabHost:
    for candidate in HOSTS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


class LabPaths:
    """Where everything of a lab lives under its directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory.resolve()

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yaml"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def pids(self) -> Path:
        return self.dir / "pids.json"

    @property
    def client_key(self) -> Path:
        return self.dir / "client_ed25519"

    @property
    def infra_repo(self) -> Path:
        """The lab's stand-in for the GitHub infrastructure repository (a local bare repo)."""
        return self.dir / "infra.git"

    @property
    def sanoid_repo(self) -> Path:
        """The lab's stand-in for github.com/jimsalterjrs/sanoid (docs/sanoid.md builds its deb)."""
        return self.dir / "sanoid.git"

    @property
    def bin(self) -> Path:
        """The stand-in tools, bound over /usr/local/sbin on every host."""
        return self.dir / "standins"

    @property
    def clusters(self) -> Path:
        """Cluster membership shared by the lab hosts (what corosync would carry)."""
        return self.dir / "clusters.json"

    def host_dir(self, name: str) -> Path:
        return self.dir / "hosts" / name

    def root(self, name: str) -> Path:
        """The host's own copies of the bound paths: ``root(name)/etc/stunnel`` ..."""
        return self.host_dir(name) / "root"

    def state_dir(self, name: str) -> Path:
        return self.root(name) / STATE_DIR.lstrip("/")

    def faults(self, name: str) -> Path:
        """Kept outside the host's root so a reinstall keeps the faults set on it."""
        return self.host_dir(name) / "faults.json"

    def pve_dir(self, name: str) -> Path:
        return self.host_dir(name) / "pve"

    def token_file(self, name: str) -> Path:
        return self.pve_dir(name) / "token"

    def ca_file(self, name: str) -> Path:
        return self.pve_dir(name) / "pve-root-ca.pem"


def read_json(path: Path, default: object) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def write_json(path: Path, data: object) -> None:
    """Atomically (temp file + rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
