"""The plan-format reference (docs/plan-format.md), generated from the models' field descriptions.

One source of truth: the pydantic field descriptions feed the JSON Schema, this reference and
the editor hints. ``tests/plan/test_docs.py`` fails when the committed file is stale;
regenerate with ``python -m migrator.plan.docs > docs/plan-format.md``.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from migrator.plan import checks as check_models
from migrator.plan.durations import _coerce, format_duration
from migrator.plan.inventory import Host, Inventory, ProxmoxEndpoint
from migrator.plan.model import OutputSpec, Phase, Plan, ProxmoxCall, Rollback, Step, StunnelAction, Window

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Plan", Plan),
    ("Window", Window),
    ("Phase", Phase),
    ("Step", Step),
    ("Rollback", Rollback),
    ("Outputs", OutputSpec),
    ("Proxmox call", ProxmoxCall),
    ("stunnel action", StunnelAction),
    ("Inventory", Inventory),
    ("Inventory host", Host),
    ("Proxmox endpoint", ProxmoxEndpoint),
]


def _type_name(annotation: Any) -> str:
    """A readable type: ``str or none``, ``list of Check``, ``duration``, ``one of: a, b``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        if any(getattr(m, "func", None) is _coerce for m in args[1:]):
            return "duration"
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        if len(names) > 3:
            names = ["check"]
        return " or ".join(names) + (" or none" if type(None) in args else "")
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin is list:
        return "list of " + _type_name(args[0])
    if origin is dict:
        return "mapping of " + _type_name(args[1])
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of: " + ", ".join(str(m.value) for m in annotation)
    if isinstance(annotation, type):
        return {
            "str": "text",
            "int": "integer",
            "bool": "true/false",
            "datetime": "date-time",
            "AwareDatetime": "date-time with time zone",
        }.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        return "empty"
    value = field.default
    if value is None:
        return "-"
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and any(getattr(m, "func", None) is _coerce for m in field.metadata)
    ):
        return f"`{format_duration(value)}`"
    return f"`{getattr(value, 'value', value)}`"


def _table(model: type[BaseModel]) -> list[str]:
    hints = typing.get_type_hints(model, include_extras=True)
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        kind = _type_name(hints.get(name, field.annotation)).replace("|", "\\|")
        meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}` | {kind} | {_default(field)} | {meaning} |")
    return lines


DETACHED_GUIDE = [
    "## Long steps: `detach` and `progress`",
    "",
    "Use `detach: true` on every ssh step that can run longer than a few minutes (rsync seeds, `zfs send`",
    "seeds, syncoid pulls, MongoDB copies, scrubs), and on any non-idempotent step whose half-done state",
    "would hurt. The command then runs on the host as a job that does not depend on the SSH session:",
    "a transient unit `systemd-run --unit=JOB --collect -p RuntimeMaxSec=TIMEOUT` where systemd is PID 1,",
    "else a `setsid` session; its output, pid and exit status are files in `/var/lib/migrator/jobs/`",
    "(host var `migrator_jobs_dir` moves it). JOB is `migrator-PLAN-rRUN-STEP-aATTEMPT`, written to the",
    "journal with \"started attempt N\" before the job starts.",
    "",
    "- migrator follows the job over its connection, one short status read (a poll) a second; a poll",
    "  with no answer in 5 s is a lost connection (a network cut drops packets silently), retried with",
    "  backoff (the step stays running and says \"reconnecting\"); a host out of reach for an hour",
    "  (`reconnect_for:`) pauses the run (exit 3) and leaves the job running.",
    "- After a crash, `migrator resume` (or a take-over) looks the job up by name: finished - its real",
    "  exit status and output, then the post-checks; running - followed; never started - started. A",
    "  detached step never needs an in-doubt decision.",
    "- Ctrl-C, a closed laptop or a lost network stop migrator, not the job. An abort (also",
    "  `migrator abort RUN` of a crashed run), a rollback and the step's `timeout` stop the job on the",
    "  host (`systemctl stop`, or TERM then KILL of its process group) and say so. Give detached steps",
    "  a `timeout`: it is the",
    "  unit's `RuntimeMaxSec` (setsid: a watchdog), enforced even while migrator is gone.",
    "- Not for: steps that take `secrets` (the job outlives the session that carries them), quick",
    "  commands (a detached step costs a few polls more), or `local` steps.",
    "",
    "`progress:` names how to read the command's progress from its output: `rsync` (`--info=progress2`),",
    "`zfs-send` (`-v` or `-P`), `zfs-receive` (`-v`), `pv` / `syncoid`, `zpool` (`zpool status` during a",
    "scrub or resilver), `none`. Without it the parser is guessed from the command. Progress (fraction,",
    "bytes, rate, ETA) is shown as a bar on a terminal and a percent line every few seconds in a log,",
    "and sampled into the state database.",
    "",
]


def generate() -> str:
    out = [
        "# Plan format reference",
        "",
        "Generated from the models by `python -m migrator.plan.docs`; the JSON Schema for editors is",
        "`migrator schema` (plans), `migrator schema --inventory` and `migrator schema --tunnels`.",
        "Durations are written with their unit, `45s`, `10m`, `1h30m` or `2d` (a bare number other than",
        "`0` is refused: seconds or minutes?), at most `366d`. YAML tags (`!!bool`, `!!binary`, ...) are",
        "refused, and so are numbers YAML 1.1 and 1.2 read differently (`6:00`, `010`): quote text. Files",
        "over 16 MiB are refused unread. Secrets are references: `env:NAME` or `file:PATH`, never values.",
        "",
    ]
    for title, model in SECTIONS:
        out += [f"## {title}", "", (model.__doc__ or "").strip().splitlines()[0], "", *_table(model), ""]
    out += DETACHED_GUIDE
    out += [
        "## Checks",
        "",
        "Every check has `kind`, and optionally `description`, `on_fail` (halt or warn) and",
        "`probe_from` (where to probe from; the old spelling `on:` is read with a warning, because YAML 1.1",
        "tools turn it into `true:`). Checks are read-only: dry-runs run them against the real hosts.",
        "",
        "A probed check **holds**, **does not hold** or **cannot tell**. Cannot tell is a probe that",
        "gave no answer about the thing checked: exit 126/127 or a program 'not found', an exit status",
        "that is not one of the check's answers, a host or API that did not answer, a timeout, output",
        "that cannot be read. It is shown and stored as such, with the reason; it counts as failing",
        "for `halt` (the step stops, preflight says NO-GO) and it never makes a step done.",
        "",
        "A step's `done_when:` checks state positively that the work is already done: when every one",
        "holds, the step is not run (its post-checks must hold too, else it halts with both results);",
        "when one does not hold, the step runs; when none fails but one cannot tell, a run halts there.",
        "`on_fail: mark_done` is retired (a failing \"not done yet\" check marked the step done, and so",
        "did a probe that could not run): move the check to `done_when` and state it positively:",
        "",
        "```yaml",
        "# was:  pre: [{kind: zfs_dataset, dataset: zfs-hdd, exists: false, on_fail: mark_done}]",
        "done_when:",
        "  - {kind: zfs_dataset, dataset: zfs-hdd, description: zfs-hdd exists}",
        "```",
        "",
    ]
    for model in typing.get_args(typing.get_args(check_models.Check)[0]):
        kinds = typing.get_args(model.model_fields["kind"].annotation)
        out += [f"### {' / '.join(kinds)}", "", (model.__doc__ or "").strip().splitlines()[0], ""]
        rows = [
            r
            for r in _table(model)
            if not r.startswith(("| `kind`", "| `description`", "| `on_fail`", "| `probe_from`"))
        ]
        out += [*rows, ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(generate())
