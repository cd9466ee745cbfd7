"""pveum: Proxmox VE's user manager, only what the off2 plan uses (groups and their ACLs).

``group add NAME -comment TEXT``, ``group list``, ``group delete NAME``,
``acl modify PATH -group G -role R`` and
``acl list --output-format json`` (PVE prints canonical JSON: keys sorted), kept in the host's
stand-in state. A real node keeps them in /etc/pve/user.cfg, shared by the cluster.
"""

from __future__ import annotations

import json

from migrator.lab.standins.context import Context, ToolError, out


def _option(args: list[str], name: str) -> str | None:
    for flag in (f"-{name}", f"--{name}"):
        if flag in args and args.index(flag) + 1 < len(args):
            return args[args.index(flag) + 1]
    return None


def pveum(ctx: Context) -> int:
    args = list(ctx.args)
    if len(args) < 2:
        raise ToolError("ERROR: no command specified", 255)
    noun, verb = args[0], args[1]
    with ctx.locked() as state:
        groups = state.setdefault("pve_groups", {})
        acls = state.setdefault("pve_acls", [])
        if noun == "group" and verb == "add":
            name = args[2]
            if name in groups:
                raise ToolError(f"create group failed: group '{name}' already exists", 255)
            groups[name] = _option(args, "comment") or ""
            return 0
        if noun == "group" and verb == "delete":  # the step's rollback
            groups.pop(args[2], None)
            acls[:] = [a for a in acls if a["ugid"] != args[2]]
            return 0
        if noun == "group" and verb == "list":
            for name, comment in sorted(groups.items()):
                out(f"{name} {comment}")
            return 0
        if noun == "acl" and verb == "modify":
            path, group, role = args[2], _option(args, "group"), _option(args, "role")
            if group is None or role is None:
                raise ToolError("400 not enough arguments", 255)
            if group not in groups:
                raise ToolError(f"update ACL failed: group '{group}' does not exist", 255)
            entry = {"path": path, "propagate": 1, "roleid": role, "type": "group", "ugid": group}
            if entry not in acls:
                acls.append(entry)
            return 0
        if noun == "acl" and verb == "list":
            out(json.dumps(acls, sort_keys=True, separators=(",", ":")))
            return 0
    raise ToolError(f"ERROR: unknown command 'pveum {noun} {verb}'", 255)
