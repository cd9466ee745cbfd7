"""The rehearsal lab: every production host as a real sshd on its own 127.x address.

``migrator lab up`` starts, per host, an OpenSSH server inside a private mount namespace
(so each host has its own /etc/stunnel, /srv, /zfs-hdd ...), a fakepve Proxmox API for the
Proxmox hosts, and stand-ins for the tools that cannot run here (ZFS, pvecm, pct ...).
Plans run unchanged against the generated lab inventory; only the inventory differs.

This package is kept import-light: the stand-in tools import parts of it on every call.
"""
