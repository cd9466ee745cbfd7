"""LabHooks: what a manual step's ``lab_effect`` does to a lab host.

The registry calls :meth:`LabHooks.apply` after the (auto-)confirmed checklist of a manual
step whose ``lab_effect`` is not ``none``. The CLI builds this object only when the
inventory's environment is ``lab``; the lab directory is the inventory's directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from migrator.errors import LabError
from migrator.lab.control import Lab
from migrator.lab.layout import HOSTS
from migrator.plan.model import LabEffect

if TYPE_CHECKING:
    from migrator.plan.model import Step

REBOOT_PAUSE = 1.0


class LabHooks:
    """Carries out ``reinstall`` and ``reboot`` on the lab in ``lab_dir``."""

    def __init__(self, lab_dir: Path, *, reboot_pause: float = REBOOT_PAUSE) -> None:
        self.lab = Lab(lab_dir)
        self.reboot_pause = reboot_pause

    def apply(self, step: Step) -> str:
        name = step.host.split("/", 1)[0]
        if name not in {h.name for h in HOSTS}:
            raise LabError(f"lab effect on '{step.host}': not a lab host", where=f"step {step.id}")
        effect = LabEffect(step.lab_effect)
        if effect is LabEffect.REINSTALL:
            fingerprint = self.lab.reinstall(name)
            return (
                f"{name} reinstalled as a fresh Proxmox VE (rpool only, no cluster, storage local); "
                f"new SSH host key {fingerprint}"
            )
        if effect is LabEffect.REBOOT:
            self.lab.reboot(name, self.reboot_pause)
            return f"{name} rebooted (sshd down for {self.reboot_pause:g}s)"
        return "no effect"


def hooks_for_inventory(inventory_path: Path) -> LabHooks:
    """The hooks of the lab whose generated inventory is ``inventory_path``."""
    return LabHooks(inventory_path.resolve().parent)
