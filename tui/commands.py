"""Every operator action in the command palette (ctrl+p), greyed out the same way as keys."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import MigratorApp


class ActionCommands(Provider):
    def _actions(self) -> list[tuple[str, str]]:
        from tui.app import ACTION_TITLES

        app = cast("MigratorApp", self.app)
        return [(name, title) for name, title in ACTION_TITLES.items() if app._allowed(name)]

    async def discover(self) -> Hits:
        app = cast("MigratorApp", self.app)
        for name, title in self._actions():
            yield DiscoveryHit(title, partial(app.operator_action, name), help=f"action: {name}")

    async def search(self, query: str) -> Hits:
        app = cast("MigratorApp", self.app)
        matcher = self.matcher(query)
        for name, title in self._actions():
            score = matcher.match(title)
            if score > 0:
                run = partial(app.operator_action, name)
                yield Hit(score, matcher.highlight(title), run, help=f"action: {name}")
