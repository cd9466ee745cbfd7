"""The operator's modals: yes/no, type-the-host-name, go/no-go with the window arithmetic,
a manual step's checklist with evidence, a choice (in-doubt steps), a reason.

Every modal works with the keyboard alone; escape always means the safe answer (no / stop /
cancel), except where the engine needs an answer (choice, engine reason).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.facade import ChecklistReply


def keep_early_text(screen: Screen[Any], event: events.Key, selector: str) -> None:
    """A character that reaches the dialog itself goes into its input. The input takes (and
    stops) every character typed while it has the focus, so one that reaches the dialog was
    typed before: in the instant the dialog opened, the app routed it to the screen, the focus
    landing on the input a moment later. It was lost, or reached the app's own keys (a "q"
    quit from under the dialog). Only text: an enter typed before the dialog was on screen
    answers nothing."""
    if not event.is_printable or event.character is None:
        return
    target = screen.query_one(selector, Input)
    event.stop()
    event.prevent_default()
    target.insert_text_at_cursor(event.character)
    target.focus()


class ConfirmModal(ModalScreen[bool]):
    """Yes or no: ``y`` / ``n`` (escape is no)."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, *, title: str = "Confirm", details: list[str] | None = None) -> None:
        super().__init__()
        self.question, self.title_text, self.details = question, title, details or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.question, classes="question")
                for line in self.details:
                    yield Static(line, classes="detail-line")
            yield Static("[b]y[/] yes   [b]n[/]/[b]esc[/] no", classes="keys")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class GoNoGoModal(ConfirmModal):
    """A point of no return: the window arithmetic, then yes or no."""

    def __init__(self, question: str, arithmetic: list[str]) -> None:
        super().__init__(question, title="GO / NO-GO: point of no return", details=arithmetic)
        self.add_class("gonogo")


class TypeNameModal(ModalScreen[bool]):
    """A destructive step: the operator types the host name; anything else is refused."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, expect: str, details: list[str] | None = None) -> None:
        super().__init__()
        self.question, self.expect, self.details = question, expect, details or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog destructive"):
            yield Label("DESTRUCTIVE STEP", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.question, classes="question")
                for line in self.details:
                    yield Static(line, classes="detail-line")
            yield Static(f"Type [b]{self.expect}[/] and press enter (esc: do not run it).", classes="keys")
            yield Input(placeholder=self.expect, id="typed")
            yield Static("", id="mismatch", classes="error")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    def on_key(self, event: events.Key) -> None:
        keep_early_text(self, event, "#typed")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip() == self.expect:
            self.dismiss(True)
        else:
            # Cleared: a retry must not append to the wrong name.
            self.query_one("#mismatch", Static).update(Text(f"'{event.value}' is not {self.expect}"))
            event.input.clear()

    def action_cancel(self) -> None:
        self.dismiss(False)


class ChecklistItem(Static, can_focus=True):
    """One checklist item: space (or a click) ticks it. Its text wraps: Textual's Checkbox
    draws one line, and an item the operator cannot read to the end must not be ticked."""

    value: reactive[bool] = reactive(False)

    def __init__(self, label: str, *, id: str) -> None:
        super().__init__(id=id, classes="check-item")
        self.label = label

    def render(self) -> Text:
        box = Text("[x] " if self.value else "[ ] ", "bold green" if self.value else "bold")
        return box + Text(self.label)

    def on_key(self, event: events.Key) -> None:
        # Handled here, not as a binding: bindings are looked up along the focus chain when
        # the key has bubbled up, and a tab typed just after may have moved focus by then
        # (the space was lost).
        if event.key == "space":
            event.stop()
            event.prevent_default()
            self.action_tick()

    def action_tick(self) -> None:
        self.value = not self.value

    def on_click(self) -> None:
        self.action_tick()


class ChecklistModal(ModalScreen[ChecklistReply | None]):
    """A manual step: tick each item (space), write the evidence, ctrl+s to finish; esc stops."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Done", priority=True),
        Binding("escape", "stop", "Stop the run"),
    ]

    def __init__(self, title: str, instructions: str, items: list[str]) -> None:
        super().__init__()
        self.title_text, self.instructions, self.items = title, instructions, items

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog checklist"):
            yield Label(f"MANUAL STEP  {self.title_text}", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.instructions, classes="instructions")
                for index, item in enumerate(self.items):
                    yield ChecklistItem(item, id=f"item-{index}")
            yield Input(
                placeholder="evidence: what you saw (console output, ticket, photo ref)", id="evidence"
            )
            yield Static("", id="unticked", classes="error")
            yield Static(
                "[b]tab[/] next  [b]space[/] tick  [b]ctrl+s[/] done  [b]esc[/] stop the run", classes="keys"
            )

    def on_mount(self) -> None:
        if self.items:
            self.query_one("#item-0", ChecklistItem).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_submit(self) -> None:
        """Done only when every item is ticked: an unticked item would fail the step (and block
        what depends on it) for a slip of the finger. Not done: esc stops, nothing changes."""
        ticks = [self.query_one(f"#item-{i}", ChecklistItem).value for i in range(len(self.items))]
        missing = [item for item, ticked in zip(self.items, ticks, strict=True) if not ticked]
        if missing:
            self.query_one("#unticked", Static).update(
                Text(
                    f"not ticked: {'; '.join(missing)}. Tick each item once it is done, or esc to "
                    "stop the run (the step stays as it is)."
                )
            )
            return
        self.dismiss(ChecklistReply(ticks, self.query_one("#evidence", Input).value.strip()))

    def action_stop(self) -> None:
        self.dismiss(None)


class ChoiceModal(ModalScreen[str]):
    """Pick one answer (up/down, enter). Used for in-doubt steps, with what reconciling found."""

    def __init__(self, question: str, choices: list[str], details: list[str] | None = None) -> None:
        super().__init__()
        self.question, self.choices, self.details = question, choices, details or []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("DECISION NEEDED", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.question, classes="question")
                for line in self.details:
                    yield Static(line, classes="detail-line")
            yield OptionList(*[Option(c, id=c) for c in self.choices], id="choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(str(event.option.id))


class ReasonModal(ModalScreen[str | None]):
    """A reason, recorded in the journal. Empty is refused; esc cancels when ``cancellable``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, value: str = "", cancellable: bool = True) -> None:
        super().__init__()
        self.question, self.value, self.cancellable = question, value, cancellable

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("REASON", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.question, classes="question")
            yield Input(value=self.value, placeholder="why (recorded in the journal)", id="reason")
            yield Static("", id="empty", classes="error")
            keys = "[b]enter[/] ok" + ("   [b]esc[/] cancel" if self.cancellable else "")
            yield Static(keys, classes="keys")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    def on_key(self, event: events.Key) -> None:
        keep_early_text(self, event, "#reason")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.query_one("#empty", Static).update("a reason is required")
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        if self.cancellable:
            self.dismiss(None)


class HelpModal(ModalScreen[None]):
    """Every key, what it does and when it is possible; any of esc, q, ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("HELP: keys", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                for line in self.lines:
                    yield Static(line, classes="detail-line")
            yield Static("[b]esc[/] close", classes="keys")

    def action_close(self) -> None:
        self.dismiss(None)
