"""Fake ``iptables`` and ``sysctl`` writes: per-host rules and kernel settings in the state.

The lab hosts share the machine's kernel, so nothing here may touch it: rules and
``net.ipv4.ip_forward`` live in the host's state. ``iptables -S`` prints the real format
(``-P CHAIN ACCEPT`` then ``-A CHAIN ...``). ``sysctl`` answers keys a lab host changed and
hands every other read to the real ``sysctl``. ``systemctl restart networking`` runs an
interface's ``post-up``/``post-down`` lines through :func:`run_hook_line`.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from typing import Any

from migrator.lab.standins.context import Context, ToolError, out

BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
}
_PROC_SYS = re.compile(r"echo\s+(\S+)\s*>\s*/proc/sys/(\S+)")


def _apply(state: dict[str, Any], args: list[str], family: str = "iptables") -> list[str]:
    """Run iptables ``args`` (``family`` ip6tables: the IPv6 tables) on the state; the lines to print."""
    table = "filter"
    if "-t" in args:
        at = args.index("-t")
        table = args[at + 1]
        args = args[:at] + args[at + 2 :]
    if table not in BUILTIN_CHAINS:
        raise ToolError(f"iptables v1.8.7 (nf_tables): table '{table}' does not exist", 1)
    rules: list[str] = state.setdefault(family, {}).setdefault(table, [])
    if not args:
        raise ToolError("iptables v1.8.7 (nf_tables): no command specified", 2)
    command, rest = args[0], args[1:]
    if command in ("-S", "--list-rules"):
        chains = [rest[0]] if rest else list(BUILTIN_CHAINS[table])
        lines = [f"-P {chain} ACCEPT" for chain in chains]
        lines += [rule for rule in rules if rule.split()[1] in chains]
        return lines
    if command in ("-A", "--append", "-D", "--delete", "-C", "--check"):
        rule = "-A " + " ".join([rest[0], *rest[1:]])
        if command in ("-A", "--append"):
            rules.append(rule)
        elif rule not in rules:
            message = "Bad rule (does a matching rule exist in that chain?)."
            raise ToolError(f"iptables: {message}", 1)
        elif command in ("-D", "--delete"):
            rules.remove(rule)
        return []
    if command in ("-I", "--insert") and rest:  # -I CHAIN [N] RULE: before the chain's N-th rule
        number = int(rest[1]) if len(rest) > 1 and rest[1].isdigit() else 1
        spec = rest[2:] if len(rest) > 1 and rest[1].isdigit() else rest[1:]
        in_chain = [i for i, r in enumerate(rules) if r.split()[1] == rest[0]]
        after_last = in_chain[-1] + 1 if in_chain else len(rules)
        at = in_chain[number - 1] if number <= len(in_chain) else after_last
        rules.insert(at, "-A " + " ".join([rest[0], *spec]))
        return []
    if command in ("-F", "--flush"):
        rules[:] = [r for r in rules if rest and r.split()[1] != rest[0]]
        return []
    raise ToolError(f'iptables v1.8.7 (nf_tables): unknown option "{command}"', 2)


def iptables(ctx: Context) -> int:
    with ctx.locked() as state:
        lines = _apply(state, list(ctx.args), "ip6tables" if ctx.tool == "ip6tables" else "iptables")
    if lines:
        out("\n".join(lines))
    return 0


def run_hook_line(state: dict[str, Any], line: str) -> None:
    """An interfaces(5) ``post-up``/``post-down`` command, on the lab state instead of the kernel."""
    command = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
    if match := _PROC_SYS.search(command):
        state.setdefault("sysctl", {})[match.group(2).replace("/", ".")] = match.group(1)
    elif command.startswith(("iptables ", "ip6tables ")):
        try:
            _apply(state, shlex.split(command)[1:], command.split()[0])
        except ToolError as exc:  # ifupdown reports a failing hook and goes on: so does the lab
            sys.stderr.write(f"{exc.message}\n")


def sysctl(ctx: Context) -> int:
    args = list(ctx.args)
    quiet_name = "-n" in args
    writes = "-w" in args
    keys = [a for a in args if not a.startswith("-")]
    with ctx.locked() as state:
        values: dict[str, str] = state.setdefault("sysctl", {})
        if writes or any("=" in k for k in keys):
            for item in keys:
                key, _, value = item.partition("=")
                values[key] = value
                out(f"{key} = {value}")
            return 0
        if keys and all(k in values for k in keys):
            out("\n".join(values[k] if quiet_name else f"{k} = {values[k]}" for k in keys))
            return 0
    real = next((p for p in ("/usr/sbin/sysctl", "/sbin/sysctl") if os.path.exists(p)), "sysctl")
    os.execv(real, [real, *ctx.args])
    return 127
