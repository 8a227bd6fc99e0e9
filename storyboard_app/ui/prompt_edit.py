"""Prompt editors: ``[Name]`` tags highlighted in each character's colour, edits committed in steps.

The editor commits its text when it loses focus or after a short pause in
typing, so every edit reaches the database without a Save, and a burst of
typing becomes one undo step rather than one per key.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor, QFocusEvent, QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from storyboard_app.project.tags import NO_CHARACTER_TAG, TAG_PATTERN

COMMIT_PAUSE_MS = 800


class TagHighlighter(QSyntaxHighlighter):
    """Known characters in their colour, ``[NC]`` greyed, unknown names underlined in red."""

    def __init__(self, parent: QPlainTextEdit) -> None:
        super().__init__(parent.document())
        self._colors: dict[str, str] = {}

    def set_characters(self, colors: Mapping[str, str]) -> None:
        if dict(colors) != self._colors:
            self._colors = dict(colors)
            self.rehighlight()

    def tag_format(self, name: str) -> QTextCharFormat:
        fmt = QTextCharFormat()
        if name == NO_CHARACTER_TAG:
            fmt.setForeground(QColor("#8a8a8a"))
            fmt.setFontItalic(True)
        elif name in self._colors:
            color = QColor(self._colors[name])
            fmt.setForeground(color.darker(140))
            fmt.setBackground(color.lighter(185))
            fmt.setFontWeight(QFont.Weight.Bold)
        else:
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(QColor("#c0392b"))
            fmt.setToolTip(f"There is no character called {name}.")
        return fmt

    def highlightBlock(self, text: str) -> None:
        for match in TAG_PATTERN.finditer(text):
            name = match.group(1).strip()
            self.setFormat(match.start(), match.end() - match.start(), self.tag_format(name))


class CommittingTextEdit(QPlainTextEdit):
    """A plain text editor that reports ``committed(text)`` on focus-out and typing pauses."""

    committed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, lines: int = 3) -> None:
        super().__init__(parent)
        self.setTabChangesFocus(True)
        self._baseline = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COMMIT_PAUSE_MS)
        self._timer.timeout.connect(self.commit)
        self.textChanged.connect(self._on_text_changed)
        line_height = self.fontMetrics().lineSpacing()
        self.setFixedHeight(line_height * lines + 14)

    def set_text(self, text: str) -> None:
        """Show ``text`` from the project without reporting it back as an edit.

        While the artist is typing, a refresh that brings the same project text
        (a render finished, another field changed) leaves the typing alone.
        """
        if text == self._baseline and self.has_pending_edit():
            return
        self._timer.stop()
        self._baseline = text
        if self.toPlainText() != text:
            self.blockSignals(True)
            self.setPlainText(text)
            self.blockSignals(False)
            self.document().setModified(False)

    def has_pending_edit(self) -> bool:
        return self.toPlainText() != self._baseline

    def commit(self) -> None:
        self._timer.stop()
        text = self.toPlainText()
        if text != self._baseline:
            self._baseline = text
            self.committed.emit(text)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.commit()
        super().focusOutEvent(event)

    def _on_text_changed(self) -> None:
        self._timer.start()


class PromptEdit(CommittingTextEdit):
    """A prompt editor with character tags highlighted."""

    def __init__(self, parent: QWidget | None = None, *, lines: int = 3) -> None:
        super().__init__(parent, lines=lines)
        self.highlighter = TagHighlighter(self)

    def set_characters(self, colors: Mapping[str, str]) -> None:
        self.highlighter.set_characters(colors)
