"""Rules across fields and steps, each problem with its line, step id and a fix.

Runs on the steps that passed the model's own validation (see :mod:`migrator.plan.load`).
Pure: reads the plan, the raw YAML (for positions of strings) and the inventory; no I/O but reading
the tunnel inventory a stunnel step names (:mod:`migrator.plan.stunnel_rules`).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any

from migrator.plan import graph
from migrator.plan.checks import CommandCheck, FileCheck, OnFail
from migrator.plan.inventory import LOCAL, Inventory
from migrator.plan.model import Plan, Step, StepKind, Where
from migrator.plan.params import TEMPLATE, Resolver, UnknownReference
from migrator.plan.problems import Problem, Severity
from migrator.plan.schema_errors import did_you_mean
from migrator.plan.source import PathKey, SourceMap, strings_with
from migrator.plan.stunnel_rules import TunnelFiles, stunnel_step_problems
from migrator.secrets import is_reference

# Keys whose values are secrets: a literal there is a leak waiting to happen.
SECRET_KEY = re.compile(r"(psk|password|passwd|passphrase|secret|token|api[_-]?key|private[_-]?key)", re.I)
NOT_SECRET_KEYS = {"token_id", "stdin_secret", "secret", "secrets", "psk_identity", "identity"}


MARK_DONE_HINT = (
    "move the check to the step's `done_when:` list and state it positively (exists: false -> true, "
    "exit_code: 1 -> 0, stdout_contains -> stdout_lacks): the step is already done only when every "
    "done_when check holds"
)


class _Ctx:
    def __init__(
        self, plan: Plan, raw: dict[str, Any], source: SourceMap, inventory: Inventory | None
    ) -> None:
        self.plan = plan
        self.raw = raw
        self.source = source
        self.inventory = inventory
        self.problems: list[Problem] = []
        self.paths: dict[str, PathKey] = {}
        self.phases = plan.phase_of()  # step id -> phase, built once (not once per step)
        # stunnel steps name tunnel files relative to the plan (source.file is the plan's path)
        self.tunnel_files = TunnelFiles(Path(source.file).parent)
        for pi, phase in enumerate(raw.get("phases") or []):
            steps = phase.get("steps") if isinstance(phase, dict) else None
            for si, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, dict) and isinstance(step.get("id"), str):
                    self.paths.setdefault(step["id"], ("phases", pi, "steps", si))

    def add(
        self,
        message: str,
        path: PathKey,
        *,
        step: str | None = None,
        hint: str | None = None,
        key: bool = False,
        warning: bool = False,
    ) -> None:
        severity = Severity.WARNING if warning else Severity.ERROR
        self.problems.append(Problem(severity, message, self.source.at(path, key=key), step, hint))

    def plan_step(self, step_id: str) -> Step:
        return self.steps_by_id[step_id]

    @cached_property
    def steps_by_id(self) -> dict[str, Step]:
        found: dict[str, Step] = {}
        for step in self.plan.steps():
            found.setdefault(step.id, step)  # the first of duplicates, as a search from the top finds
        return found

    @cached_property
    def step_at(self) -> dict[PathKey, str]:
        """The path of each step -> its id: where a problem deep inside a step belongs."""
        found: dict[PathKey, str] = {}
        for step_id, path in self.paths.items():
            found.setdefault(path, step_id)
        return found

    def step_path(self, step: Step, *rest: str | int) -> PathKey:
        return (*self.paths.get(step.id, ()), *rest)


def validate_plan(
    plan: Plan, raw: dict[str, Any], source: SourceMap, inventory: Inventory | None, raw_ids: list[str]
) -> list[Problem]:
    ctx = _Ctx(plan, raw, source, inventory)
    _unique_ids(ctx, raw_ids)
    steps = plan.steps()
    for step in steps:
        _step_rules(ctx, step)
    # With a duplicated id the graph joins two steps into one: its "cycle" is a consequence.
    _dependencies(ctx, steps, set(raw_ids), check_cycles=len(set(raw_ids)) == len(raw_ids))
    _references(ctx, steps)
    _secrets_inline(ctx, raw, ())
    return ctx.problems


def _unique_ids(ctx: _Ctx, raw_ids: list[str]) -> None:
    seen: dict[str, PathKey] = {}
    for pi, phase in enumerate(ctx.raw.get("phases") or []):
        steps = phase.get("steps") if isinstance(phase, dict) else None
        for si, step in enumerate(steps if isinstance(steps, list) else []):
            step_id = step.get("id") if isinstance(step, dict) else None
            if not isinstance(step_id, str):
                continue
            path = ("phases", pi, "steps", si, "id")
            if step_id in seen:
                first = ctx.source.at(seen[step_id]).line
                ctx.add(
                    f"duplicate step id '{step_id}' (first used at line {first})",
                    path,
                    step=step_id,
                    hint="step ids are the resume keys: make each one unique",
                )
            else:
                seen[step_id] = path
    phase_ids = Counter(p.id for p in ctx.plan.phases)
    for pi, phase in enumerate(ctx.plan.phases):
        if phase_ids[phase.id] > 1 or phase.id in seen:
            ctx.add(
                f"phase id '{phase.id}' is used more than once (phases and steps share ids)",
                ("phases", pi, "id"),
                hint="rename the phase",
            )
            phase_ids[phase.id] = 0


def _step_rules(ctx: _Ctx, step: Step) -> None:
    at = ctx.step_path
    kind = step.kind
    if kind in (StepKind.SSH, StepKind.LOCAL) and step.command is None:
        ctx.add(
            f"{_article(kind)} {kind.value} step needs a command",
            at(step, "kind"),
            step=step.id,
            hint="add command: a shell string, or a list [program, arg, ...]",
        )
    if kind not in (StepKind.SSH, StepKind.LOCAL) and step.command is not None:
        ctx.add(
            f"{_article(kind)} {kind.value} step has no command",
            at(step, "command"),
            step=step.id,
            key=True,
            hint="use kind: ssh or kind: local to run a command",
        )
    if kind is StepKind.PROXMOX and step.call is None:
        ctx.add(
            "a proxmox step needs a call",
            at(step, "kind"),
            step=step.id,
            hint="add call: {method: POST, path: /nodes/NODE/lxc, params: {...}}",
        )
    if kind is StepKind.MANUAL and not (step.instructions or step.checklist):
        ctx.add(
            "a manual step needs instructions or a checklist",
            at(step, "kind"),
            step=step.id,
            hint="say what the person does, item by item",
        )
    if kind is StepKind.WAIT and step.until is None:
        ctx.add(
            "a wait step needs until: a check that passes when the wait is over",
            at(step, "kind"),
            step=step.id,
            hint="e.g. until: {kind: tcp_open, address: ..., port: 22}",
        )
    if kind is StepKind.LOCAL and step.host != LOCAL:
        ctx.add(
            f"a local step runs on this machine, not on '{step.host}'",
            at(step, "host"),
            step=step.id,
            hint="remove host:, or use kind: ssh",
        )
    if kind is StepKind.SSH and step.host == LOCAL:
        ctx.add(
            "an ssh step needs host: an inventory host",
            at(step, "kind"),
            step=step.id,
            hint="add host: off1 (or use kind: local)",
        )
    if step.destructive and step.rollback is None and step.irreversible is None:
        ctx.add(
            "destructive step has neither rollback nor irreversible",
            at(step, "destructive"),
            step=step.id,
            key=True,
            hint="add rollback: {command: ...} or irreversible: 'why it cannot be undone'",
        )
    if step.rollback is not None and step.irreversible is not None:
        ctx.add(
            "a step cannot have both rollback and irreversible",
            at(step, "irreversible"),
            step=step.id,
            key=True,
            hint="keep the one that is true",
        )
    if step.rollback is not None and step.rollback.command is None and step.rollback.instructions is None:
        ctx.add("rollback needs a command or instructions", at(step, "rollback"), step=step.id)
    if step.stdin_secret is not None and step.stdin_secret not in step.secrets:
        declared = ", ".join(sorted(step.secrets)) or "none"
        ctx.add(
            f"stdin_secret '{step.stdin_secret}' is not one of this step's secrets (declared: {declared})"
            + did_you_mean(step.stdin_secret, sorted(step.secrets)),
            at(step, "stdin_secret"),
            step=step.id,
            hint="declare it under secrets: with env:NAME or file:PATH",
        )
    if step.detach and kind is not StepKind.SSH:
        ctx.add(
            f"detach applies to ssh steps (a job on the host), not to a {kind.value} step",
            at(step, "detach"),
            step=step.id,
            key=True,
            hint="remove detach:, or make it an ssh step",
        )
    if step.reconnect_for is not None and not step.detach:
        ctx.add(
            "reconnect_for applies to detached steps (how long to follow a job through a lost connection)",
            at(step, "reconnect_for"),
            step=step.id,
            key=True,
            hint="add detach: true, or remove reconnect_for:",
        )
    if step.detach and (step.secrets or step.stdin_secret):
        ctx.add(
            "a detached step cannot take secrets yet: the job outlives the session that carries them",
            at(step, "detach"),
            step=step.id,
            key=True,
            hint="drop detach: for this step, or have the command read the secret from a file on the host",
        )
    if step.expect_new_host_key and step.host == LOCAL:
        ctx.add(
            "expect_new_host_key needs an SSH host", at(step, "expect_new_host_key"), step=step.id, key=True
        )
    for name, ref in step.secrets.items():
        if not is_reference(ref):
            ctx.add(
                f"secret '{name}' is a literal value; secrets must be references",
                at(step, "secrets", name),
                step=step.id,
                hint="write env:NAME or file:PATH and keep the value out of the plan",
            )
    for label, checks in (("done_when", step.done_when), ("pre", step.pre), ("post", step.post)):
        for index, check in enumerate(checks):
            if check.on_fail is OnFail.MARK_DONE:
                ctx.add(
                    "on_fail: mark_done is retired (a failing 'not done yet' check marked the step "
                    "done, and so did a probe that could not run)",
                    at(step, label, index, "on_fail"),
                    step=step.id,
                    hint=MARK_DONE_HINT,
                )
            _check_target(ctx, step, check.probe_from, at(step, label, index, "probe_from"))
            if (
                isinstance(check, FileCheck)
                and not TEMPLATE.search(check.path)
                and not check.path.startswith("/")
            ):
                ctx.add(
                    f"file check path '{check.path}' is not absolute: relative to what directory?",
                    at(step, label, index, "path"),
                    step=step.id,
                    hint=f"write the full path, e.g. /{check.path.removeprefix('./')}",
                )
            if isinstance(check, CommandCheck) and check.stdout_matches:
                _regex(
                    ctx,
                    step,
                    "stdout_matches",
                    check.stdout_matches,
                    at(step, label, index, "stdout_matches"),
                )
    for name, spec in step.outputs.items():
        if spec.regex:
            _regex(ctx, step, "regex", spec.regex, at(step, "outputs", name, "regex"))
    _check_target(ctx, step, step.host, at(step, "host"))
    for found in stunnel_step_problems(step, _tunnels_file(ctx, step), ctx.tunnel_files):
        ctx.add(found.message, at(step, *found.path), step=step.id, hint=found.hint, key=found.key)
    if step.kind is StepKind.PROXMOX and ctx.inventory is not None and step.call is not None:
        endpoint = step.call.endpoint or ctx.inventory.resolve_target(step.host)[0]
        if endpoint not in ctx.inventory.proxmox:
            ctx.add(
                f"inventory '{ctx.inventory.name}' has no Proxmox endpoint for '{endpoint}'",
                at(step, "host"),
                step=step.id,
                hint="add it under proxmox: in the inventory",
            )
    phase = ctx.phases[step.id]
    if phase.where is Where.WINDOW and step.estimate is None:
        ctx.add(
            "in-window step has no estimate: the downtime cannot be planned",
            at(step, "id"),
            step=step.id,
            warning=True,
            hint="add estimate: 10m",
        )


def _tunnels_file(ctx: _Ctx, step: Step) -> str | None:
    """The step's stunnel tunnels file with {{ ... }} resolved; None if it cannot be (yet)."""
    if step.stunnel is None or not TEMPLATE.search(step.stunnel.tunnels):
        return None if step.stunnel is None else step.stunnel.tunnels
    if ctx.inventory is None:
        return None
    try:
        return Resolver(ctx.inventory, ctx.plan.params).text(step.stunnel.tunnels)
    except UnknownReference:
        return None  # reported with its line by _references


def _article(kind: StepKind) -> str:
    return "an" if kind is StepKind.SSH else "a"


def _check_target(ctx: _Ctx, step: Step, target: str | None, path: PathKey) -> None:
    if target is None or ctx.inventory is None or TEMPLATE.search(target):
        return
    host, ctid = ctx.inventory.resolve_target(target)
    if not ctx.inventory.knows(target):
        ctx.add(
            f"unknown host '{host}'" + did_you_mean(host, list(ctx.inventory.hosts)),
            path,
            step=step.id,
            hint=f"hosts in inventory '{ctx.inventory.name}': {', '.join(sorted(ctx.inventory.hosts))}",
        )
    elif ctid is not None and not _is_proxmox(ctx.inventory, host):
        nodes = sorted(h for h in ctx.inventory.hosts if _is_proxmox(ctx.inventory, h))
        role = ctx.inventory.hosts[host].role
        ctx.add(
            f"'{target}' is a container on '{host}', which inventory '{ctx.inventory.name}' says is "
            f"'{role}', not a Proxmox node",
            path,
            step=step.id,
            hint=f"containers live on the Proxmox nodes ({', '.join(nodes) or 'none'}); "
            f"or give '{host}' role: proxmox in the inventory",
        )


def _is_proxmox(inventory: Inventory, host: str) -> bool:
    """Not known to be anything but a Proxmox node: it has an API endpoint, role: proxmox, or no role.

    Only a host the inventory says is something else (off3, role: mongodb-interim) is refused:
    a minimal inventory without roles cannot tell, and is not second-guessed.
    """
    found = inventory.hosts.get(host)
    role = (found.role or "proxmox") if found is not None else "proxmox"
    return host in inventory.proxmox or role.lower() == "proxmox"


def _regex(ctx: _Ctx, step: Step, field: str, pattern: str, path: PathKey) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        ctx.add(
            f"{field} {pattern!r} is not a valid regular expression: {exc}",
            path,
            step=step.id,
            hint="Python re syntax; put a backslash before ( ) [ ] . * + ? meant literally",
        )


def _dependencies(ctx: _Ctx, steps: list[Step], all_ids: set[str], *, check_cycles: bool) -> None:
    for step in steps:
        for index, dep in enumerate(step.depends_on or []):
            if dep not in all_ids:
                ctx.add(
                    f"depends_on '{dep}', which is not a step of this plan"
                    + did_you_mean(dep, sorted(all_ids)),
                    ctx.step_path(step, "depends_on", index),
                    step=step.id,
                    hint="depends_on lists step ids of this plan",
                )
            elif dep == step.id:
                ctx.add(
                    "a step cannot depend on itself",
                    ctx.step_path(step, "depends_on", index),
                    step=step.id,
                    hint=f"remove {dep} from its depends_on",
                )
    if not check_cycles:
        return
    deps = graph.effective_deps(steps)
    cycle = graph.find_cycle({k: [d for d in v if d != k] for k, v in deps.items()})
    if cycle:
        first = next(s for s in steps if s.id == cycle[0])
        ctx.add(
            "depends_on forms a cycle: " + " -> ".join(cycle),
            ctx.step_path(first, "depends_on"),
            step=first.id,
            hint="remove one of these dependencies",
        )


def _rank(steps: list[Step], deps: dict[str, list[str]]) -> dict[str, int]:
    return {step_id: i for i, step_id in enumerate(graph.execution_order([s.id for s in steps], deps))}


_Use = tuple[str, PathKey, str]  # step id, path of the string, the expression


def _references(ctx: _Ctx, steps: list[Step]) -> None:
    """Every {{ ... }} resolves; outputs come from a step that runs earlier and declares them.

    One mistake is one problem: the uses of the same unknown reference are folded into the
    first ("and 50 more uses"), and a misspelt output name is blamed on the producer that
    declares it, not on each of its consumers.
    """
    if ctx.inventory is None:
        return
    resolver = Resolver(ctx.inventory, ctx.plan.params)
    for name, value in ctx.plan.params.items():
        for expr in TEMPLATE.findall(value):
            try:
                resolver.expression(f"params.{name}") if expr else None
            except UnknownReference as exc:
                ctx.add(str(exc), ("params", name))
                break
    deps = graph.effective_deps(steps)
    rank: dict[str, int] | None = None  # execution order index, computed when first needed
    declared = {s.id: set(s.outputs) for s in steps}
    unknown: dict[tuple[str, str | None], list[_Use]] = {}  # (message, hint) -> uses
    missing: dict[tuple[str, str], list[_Use]] = {}  # (producer, output) -> uses
    wanted: dict[str, set[str]] = {}  # producer -> outputs some step uses
    ids: list[str] = []
    guesses: dict[str, str] = {}
    for step in steps:
        path = ctx.paths.get(step.id)
        if path is None:
            continue
        for str_path, text in strings_with("{{", _at(ctx.raw, path), path):
            for expr in TEMPLATE.findall(text):
                use = (step.id, str_path, expr)
                parts = expr.split(".")
                if parts[0] == "outputs" and len(parts) == 3:
                    producer, output = parts[1], parts[2]
                    wanted.setdefault(producer, set()).add(output)
                    if producer not in declared:
                        if producer not in guesses:  # difflib over every id: once per name
                            guesses[producer] = did_you_mean(producer, ids or (ids := sorted(declared)))
                        guess = guesses[producer]
                        message = f"'{{{{ {expr} }}}}': this plan has no step '{producer}'" + guess
                        unknown.setdefault(
                            (message, "outputs.STEP.NAME names the step that declares NAME"), []
                        )
                        unknown[(message, "outputs.STEP.NAME names the step that declares NAME")].append(use)
                    elif output not in declared[producer]:
                        missing.setdefault((producer, output), []).append(use)
                    elif not graph.runs_before(producer, step.id, deps, rank := rank or _rank(steps, deps)):
                        _add_use(
                            ctx,
                            use,
                            f"'{{{{ {expr} }}}}': step {producer} does not run before this step",
                            f"add {producer} to depends_on",
                        )
                    continue
                try:
                    resolver.expression(expr)
                except UnknownReference as exc:
                    unknown.setdefault((str(exc), None), []).append(use)
    for (message, hint), uses in unknown.items():
        _add_use(ctx, uses[0], message + _more(uses), hint)
    for (producer, output), uses in missing.items():
        unused = sorted(declared[producer] - wanted.get(producer, set()))
        close = difflib.get_close_matches(output, unused, n=1, cutoff=0.6)
        # Several consumers agreeing on a name the producer spells otherwise: the producer is wrong.
        if close and len(uses) > 1:
            first = ctx.source.at(uses[0][1]).line
            ctx.add(
                f"step {producer} declares output '{close[0]}', which no step uses, but "
                f"{len(uses)} uses ask for '{output}' (first at line {first})",
                ctx.step_path(ctx.plan_step(producer), "outputs", close[0]),
                step=producer,
                key=True,
                hint=f"rename it to {output}, or fix the spelling of the uses",
            )
            continue
        _add_use(
            ctx,
            uses[0],
            f"'{{{{ {uses[0][2]} }}}}': no step produces output '{output}' "
            f"(step {producer} declares: {_listing(declared[producer])})" + _more(uses),
            "declare it under outputs: of the step that makes it",
        )


def _add_use(ctx: _Ctx, use: _Use, message: str, hint: str | None) -> None:
    step_id, str_path, expr = use
    needle = re.compile(r"\{\{\s*" + re.escape(expr) + r"\s*\}\}")
    ctx.problems.append(Problem(Severity.ERROR, message, ctx.source.find(str_path, needle), step_id, hint))


def _more(uses: list[_Use]) -> str:
    if len(uses) < 2:
        return ""
    expr = uses[0][2]
    what = "parameter" if expr.startswith("params.") else "host" if expr.startswith("hosts.") else "reference"
    return f" (and {len(uses) - 1} more use{'s' if len(uses) > 2 else ''} of this {what})"


def _listing(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _at(data: Any, path: PathKey) -> Any:
    for part in path:
        data = data[part]
    return data


def _secrets_inline(ctx: _Ctx, value: Any, path: PathKey) -> None:
    """A literal value under a key that names a secret (psk, password, token ...).

    Only mappings and lists are descended into (a string holds nothing further), and whether a
    key names a secret is decided once per key: a 10,000-step plan repeats ~20 keys 170,000 times.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str):
                secret = _SECRET_NAMED.get(key)
                if secret is None:
                    secret = _SECRET_NAMED[key] = _names_a_secret(str(key))
                if (
                    secret
                    and not is_reference(item)
                    and not TEMPLATE.fullmatch(item.strip())
                    and (not path or path[-1] != "secrets")
                ):
                    ctx.add(
                        f"'{key}' holds an inline secret; plans must only reference secrets",
                        (*path, key),
                        step=_step_of(ctx, path),
                        hint="move the value to the environment or a file and write env:NAME or file:PATH",
                    )
            elif isinstance(item, dict | list):
                _secrets_inline(ctx, item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                _secrets_inline(ctx, item, (*path, index))


_SECRET_NAMED: dict[Any, bool] = {}  # mapping key -> whether it names a secret (keys are few)


def _names_a_secret(key: str) -> bool:
    return bool(SECRET_KEY.search(key)) and key not in NOT_SECRET_KEYS


def _step_of(ctx: _Ctx, path: PathKey) -> str | None:
    return ctx.step_at.get(path[:4])  # step paths are ("phases", i, "steps", j)


def validate_inventory(inventory: Inventory, source: SourceMap) -> list[Problem]:
    problems = []
    for name, endpoint in inventory.proxmox.items():
        if not is_reference(endpoint.token_secret):
            problems.append(
                Problem(
                    Severity.ERROR,
                    f"proxmox endpoint '{name}': token_secret is a literal value",
                    source.at(("proxmox", name, "token_secret")),
                    hint="write env:NAME or file:PATH; never the token itself",
                )
            )
        if not endpoint.url.startswith("https://"):
            problems.append(
                Problem(
                    Severity.ERROR,
                    f"proxmox endpoint '{name}': the API URL must use https",
                    source.at(("proxmox", name, "url")),
                )
            )
    for name, host in inventory.hosts.items():
        if host.jump is not None and host.jump not in inventory.hosts:
            problems.append(
                Problem(
                    Severity.ERROR,
                    f"host '{name}': jump host '{host.jump}' is not in the inventory",
                    source.at(("hosts", name, "jump")),
                )
            )
    return problems
