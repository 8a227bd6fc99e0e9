"""The Action field's token budget: a count against the text encoder's limit, and the cut marked.

The count is taken over the prompt as it will be sent (shot type, descriptions
in place of tags, style), not over the field's own text, because that is what
the encoder reads; the part of the field past the limit is struck through in
red while the artist types. The tokenizer loads in the background
(:mod:`storyboard_app.worker.prompt_tokens`); until then, or if it cannot load,
the count is an estimate and the label says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QTextEdit

from storyboard_app.project.prompts import SentPrompt, compose_panel_prompt
from storyboard_app.project.records import CharacterRecord, LoraRecord, SceneRecord
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.tags import find_tags
from storyboard_app.ui.prompt_edit import PromptEdit
from storyboard_app.worker.prompt_tokens import (
    ClipTokenCounter,
    TokenCount,
    TokenCounterLoader,
    estimate_tokens,
)

RECOUNT_PAUSE_MS = 120
OVER_COLOR = "#c0392b"


class PromptBudget(QObject):
    """Keeps ``meter`` and the cut mark of ``editor`` in step with what is typed."""

    def __init__(self, editor: PromptEdit, meter: QLabel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.meter = meter
        self.counter: ClipTokenCounter | None = None
        self.last: TokenCount | None = None
        self._source: str | None = None
        self._scene: SceneRecord | None = None
        self._characters: Mapping[str, CharacterRecord] = {}
        self._settings = ProjectSettings()
        self._loras: Sequence[LoraRecord] = ()
        self._loader = TokenCounterLoader(self)
        self._loader.ready.connect(self._on_counter)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RECOUNT_PAUSE_MS)
        self._timer.timeout.connect(self.recount)
        editor.textChanged.connect(self._timer.start)

    def set_context(
        self,
        scene: SceneRecord | None,
        characters: Mapping[str, CharacterRecord],
        settings: ProjectSettings,
        loras: Sequence[LoraRecord],
    ) -> None:
        """What the prompt is composed with besides the Action: read again on every refresh."""
        self._scene, self._characters, self._settings, self._loras = (
            scene,
            characters,
            settings,
            loras,
        )
        if settings.model_source != self._source:
            self._source = settings.model_source
            self._loader.load(settings.model_source)
        self.recount()

    def sent_prompt(self) -> SentPrompt | None:
        """The prompt a render would send with the Action as typed now."""
        if self._scene is None:
            return None
        action = self.editor.toPlainText()
        names = list(dict.fromkeys([*self._scene.character_names, *find_tags(action)]))
        known = [name for name in names if name in self._characters]
        return compose_panel_prompt(
            action, known, self._scene.shot_type, self._characters, self._settings, self._loras
        )

    def recount(self) -> TokenCount | None:
        self._timer.stop()
        sent = self.sent_prompt()
        if sent is None:
            self.last = None
            self.meter.clear()
            self.editor.setExtraSelections([])
            return None
        count = self.counter.count(sent.text) if self.counter else estimate_tokens(sent.text)
        self.last = count
        cut_at = sent.action_offset(count.kept_chars) if count.kept_chars is not None else None
        self._mark_cut(cut_at)
        self._show(count, sent, cut_at)
        return count

    def _on_counter(self, counter: ClipTokenCounter | None) -> None:
        self.counter = counter
        self.recount()

    def _show(self, count: TokenCount, sent: SentPrompt, cut_at: int | None) -> None:
        text = f"{count.tokens} / {count.limit} tokens"
        if not count.exact:
            text += " (estimate)"
        if count.over:
            cut = "the struck-through words" if cut_at is not None else "the style's last words"
            text += f": {cut} are cut"
        self.meter.setText(text)
        style = f"color: {OVER_COLOR}" if count.over else ""
        if self.meter.styleSheet() != style:  # setting one re-polishes the label, same or not
            self.meter.setStyleSheet(style)
        how = (
            "counted with the model's CLIP tokenizer"
            if count.exact
            else "estimated (no CLIP tokenizer could be loaded)"
        )
        self.meter.setToolTip(
            f"The text encoder reads {count.limit} tokens, start and end included; "
            f"{how} over the prompt as sent:\n{sent.text}"
        )

    def _mark_cut(self, start: int | None) -> None:
        if start is None or start >= len(self.editor.toPlainText()):
            self.editor.setExtraSelections([])
            return
        cut = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.editor.document())
        cursor.setPosition(start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cut.cursor = cursor  # type: ignore[attr-defined]
        fmt = QTextCharFormat()
        fmt.setFontStrikeOut(True)
        fmt.setForeground(QColor(OVER_COLOR))
        cut.format = fmt  # type: ignore[attr-defined]
        self.editor.setExtraSelections([cut])
