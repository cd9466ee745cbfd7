"""The check library: for each check kind, a read-only probe and a pure ``evaluate``.

::

    probe = probe_for(check)            # CommandProbe(command) or ApiProbe(path)
    output = <the engine runs it>       # ProbeOutput(exit_code, stdout, stderr, data)
    result = evaluate(check, output)    # CheckResult(passed, observed, expected, message)

The check specs themselves (data) live in :mod:`migrator.plan.checks`.
"""

from __future__ import annotations

from migrator.checks.base import ApiProbe, CheckResult, CommandProbe, Probe, ProbeOutput
from migrator.checks.registry import describe, evaluate, probe_for

__all__ = [
    "ApiProbe",
    "CheckResult",
    "CommandProbe",
    "Probe",
    "ProbeOutput",
    "describe",
    "evaluate",
    "probe_for",
]
