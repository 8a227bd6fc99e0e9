"""The message bar: errors and notices shown in the window, with the fix one click away.

Every failure the artist can meet (no model, a model that does not load, out
of memory, a missing picture, a read-only or locked project) arrives here as a
:class:`UserMessage`: what happened, what to do, and where relevant a button
that does it (open Settings, Save As).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from storyboard_app.project.errors import ProjectReadOnlyError, StoryboardError
from storyboard_app.ui.theme import is_dark
from storyboard_app.worker.jobs import ErrorInfo, ErrorKind


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class FixAction(enum.StrEnum):
    SETTINGS = "settings"
    SAVE_AS = "save_as"
    MODELS = "models"


FIX_LABELS = {
    FixAction.SETTINGS: "Open Settings…",
    FixAction.SAVE_AS: "Save As…",
    FixAction.MODELS: "Download Models…",
}
# The engine's hint for a catalogue model that is not downloaded yet names this command.
DOWNLOAD_COMMAND = "storyboard models download "
# (background, border, text) on the light theme and on the dark one: the text colour is
# set too, so a message stays readable whichever palette the window has.
COLORS = {
    Severity.ERROR: ("#fdecea", "#c0392b", "#3b0d08"),
    Severity.WARNING: ("#fff4e0", "#b9770e", "#3a2600"),
    Severity.INFO: ("#e8f1fb", "#2a6fb0", "#0d2640"),
}
DARK_COLORS = {
    Severity.ERROR: ("#4a1f1c", "#e74c3c", "#fbe3e0"),
    Severity.WARNING: ("#47361a", "#e0a030", "#fff0d6"),
    Severity.INFO: ("#1c3350", "#5a9be0", "#e3efff"),
}


@dataclass(frozen=True)
class UserMessage:
    severity: Severity
    text: str
    hint: str = ""
    action: FixAction | None = None

    @classmethod
    def from_error(cls, error: StoryboardError) -> UserMessage:
        action = FixAction.SAVE_AS if isinstance(error, ProjectReadOnlyError) else None
        return cls(Severity.ERROR, error.message, error.hint, action)

    @classmethod
    def from_engine(cls, error: ErrorInfo) -> UserMessage:
        action = {
            ErrorKind.MODEL: FixAction.SETTINGS,
            ErrorKind.OUT_OF_MEMORY: FixAction.SETTINGS,
            ErrorKind.DEVICE: FixAction.SETTINGS,
        }.get(error.kind)
        if DOWNLOAD_COMMAND in error.hint:
            action = FixAction.MODELS
        return cls(Severity.ERROR, error.message, error.hint, action)


class MessageBar(QFrame):
    actionRequested = Signal(str)  # a FixAction

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.action_button = QPushButton()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        layout = QHBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.close_button.clicked.connect(self.hide)
        self.action_button.clicked.connect(self._on_action)
        self.current: UserMessage | None = None
        self.hide()

    def show_message(self, message: UserMessage) -> None:
        self.current = message
        self._colour(message.severity)
        hint = f"<br>{_escape(message.hint)}" if message.hint else ""
        self.text.setText(f"<b>{_escape(message.text)}</b>{hint}")
        self.action_button.setVisible(message.action is not None)
        if message.action is not None:
            self.action_button.setText(FIX_LABELS[message.action])
        self.show()

    def recolour(self) -> None:
        """The theme changed: colour the shown message for the new palette."""
        if self.current is not None:
            self._colour(self.current.severity)

    def _colour(self, severity: Severity) -> None:
        background, accent, text = (DARK_COLORS if is_dark() else COLORS)[severity]
        style = (
            f"#messageBar {{ background: {background}; border: 1px solid {accent};"
            f" border-radius: 4px; }} #messageBar QLabel {{ color: {text}; }}"
        )
        if style != self.styleSheet():
            self.setStyleSheet(style)

    def withdraw(self, message: UserMessage) -> None:
        """The condition ``message`` was about is gone: stop showing it."""
        if self.current == message:
            self.current = None
            self.hide()

    def _on_action(self) -> None:
        if self.current is not None and self.current.action is not None:
            self.actionRequested.emit(str(self.current.action))


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )
