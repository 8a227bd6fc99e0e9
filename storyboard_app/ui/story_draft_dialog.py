"""File > New from Story…: the panels a screenplay or prose story proposes, in tables to edit.

The parsers make a first draft; the artist fixes names, descriptions, prompts and
captions here before anything is written. The edited draft is checked with the
same rules as a script file, so a mistake is one message under the tables and
the dialog stays open: nothing is created until the story is valid.

For prose, an optional local language model (its URL and name are app settings)
can cut the story instead: the rules' draft shows at once, the model is asked on a
pool thread (the dialog stays usable and can cancel), and its panels replace the
tables when they come; when the model fails the rules' draft stays and a ``Note:``
says why.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import ScriptError
from storyboard_app.project.scripts.io import validate_story
from storyboard_app.project.scripts.model import StoryScript
from storyboard_app.project.scripts.names import undescribed
from storyboard_app.project.tags import NO_CHARACTER_TAG, TAG_PATTERN, find_tags
from storyboard_app.ui.app_settings import AppSettings, LlmSettings
from storyboard_app.worker.story_drafts import ModelDraft, ModelDraftTask

CHARACTER_COLUMNS = ("Name", "Description")
PANEL_COLUMNS = ("Action (prompt)", "Characters", "Dialogue", "Narration")


class ModelDraftBox(QGroupBox):
    """The local model's URL and name, Ask/Cancel, and what the model said or why not.

    Only the latest request counts: Cancel (or asking again) stops listening to the
    one running, whose thread ends by itself within the timeout.
    """

    drafted = Signal(object)

    def __init__(self, story: Path, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__("Local language model (optional, OpenAI-compatible)", parent)
        self._story = story
        self._settings = settings
        llm = settings.llm_settings()
        self._timeout_s = llm.timeout_s
        self.url = QLineEdit(llm.url)
        self.url.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.model = QLineEdit(llm.model)
        self.ask = QPushButton("Ask the Model")
        self.cancel = QPushButton("Cancel Request")
        self.cancel.setEnabled(False)
        self.status = QLabel("The panels below were cut by the rules.")
        self.status.setWordWrap(True)
        self._task: ModelDraftTask | None = None
        self.ask.clicked.connect(self.start)
        self.cancel.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(self.ask)
        row.addWidget(self.cancel)
        form = QFormLayout(self)
        form.addRow("URL", self.url)
        form.addRow("Model", row)
        form.addRow(self.status)

    @property
    def configured(self) -> bool:
        return self._settings.llm_settings().configured

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Save the URL and name as the app's settings and ask the model in the background."""
        llm = LlmSettings(self.url.text().strip(), self.model.text().strip(), self._timeout_s)
        if not llm.configured:
            self.status.setText("Give the server's URL and the model's name to ask it.")
            return
        self._settings.set_llm_settings(llm)
        self._task = ModelDraftTask(self._story, llm.url, llm.model, llm.timeout_s)
        self._task.finished.connect(self._finished)
        self.status.setText(f"Asking {llm.model} at {llm.url}… (up to {llm.timeout_s:g} s)")
        self.ask.setEnabled(False)
        self.cancel.setEnabled(True)
        self._task.start()

    def stop(self) -> None:
        """Stop waiting: the rules' panels stay."""
        if self._task is not None:
            self._task.finished.disconnect(self._finished)
        self._task = None
        self._idle("Note: the request was cancelled; the panels were cut by the rules.")

    @Slot(object)
    def _finished(self, result: ModelDraft) -> None:
        if self.sender() is not self._task:
            return
        self._task = None
        if result.script is None or result.note:
            self._idle(f"Note: {result.note}")
            return
        self._idle(f"The panels below were cut by {self.model.text().strip()}.")
        self.drafted.emit(result.script)

    def _idle(self, text: str) -> None:
        self.status.setText(text)
        self.ask.setEnabled(True)
        self.cancel.setEnabled(False)


class StoryDraftDialog(QDialog):
    """Built from the draft it shows; :meth:`edited_script` reads the tables back.

    With ``story`` (a prose file) and ``settings``, it offers the local model, and
    asks it at once when its URL and name are set.
    """

    def __init__(
        self,
        draft: StoryScript,
        parent: QWidget | None = None,
        story: Path | None = None,
        settings: AppSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.draft = draft
        self.setWindowTitle(f"New from story: {draft.title}")
        self.characters = _table(CHARACTER_COLUMNS, [])
        self.panels = _table(PANEL_COLUMNS, [])
        self.show_draft(draft)
        self.model_box: ModelDraftBox | None = None
        if story is not None and settings is not None:
            self.model_box = ModelDraftBox(story, settings, self)
            self.model_box.drafted.connect(self.show_draft)
        self.result_script: StoryScript | None = None
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create Project…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if self.model_box is not None:
            layout.addWidget(self.model_box)
        names = undescribed(draft.characters)
        hint = f" Describe {', '.join(names)}: their description is only the name." if names else ""
        layout.addWidget(QLabel(f"Characters.{hint}"))
        layout.addWidget(self.characters)
        layout.addWidget(QLabel("Panels: write [Name] in a prompt to put a character in it."))
        layout.addWidget(self.panels, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(900, 600)
        if self.model_box is not None and self.model_box.configured:
            self.model_box.start()

    def show_draft(self, draft: StoryScript) -> None:
        """Put ``draft`` in the tables (the rules' first, the model's when it answers)."""
        self.draft = draft
        _fill(self.characters, [(c.name, c.description) for c in draft.characters])
        _fill(
            self.panels,
            [(s.prompt, ", ".join(s.characters), s.dialogue, s.caption) for s in draft.scenes],
        )

    def edited_script(self) -> StoryScript:
        """The draft with the tables' text; :class:`ScriptError` if it is not a valid story.

        A character renamed in the table is renamed in the prompts and lists too.
        """
        characters = tuple(
            replace(
                spec,
                name=_cell(self.characters, row, 0),
                description=_cell(self.characters, row, 1),
            )
            for row, spec in enumerate(self.draft.characters)
        )
        renamed = {
            old.name: new.name for old, new in zip(self.draft.characters, characters, strict=True)
        }
        scenes = []
        for row, spec in enumerate(self.draft.scenes):
            prompt = _renamed_tags(_cell(self.panels, row, 0), renamed)
            listed = [renamed.get(n, n) for n in _cell(self.panels, row, 1).split(",") if n.strip()]
            names = tuple(dict.fromkeys([*find_tags(prompt), *(n.strip() for n in listed)]))
            names = tuple(n for n in names if n != NO_CHARACTER_TAG)
            speech, caption = _cell(self.panels, row, 2), _cell(self.panels, row, 3)
            changed = replace(spec, prompt=prompt, characters=names, dialogue=speech)
            scenes.append(replace(changed, caption=caption))
        script = replace(self.draft, characters=characters, scenes=tuple(scenes))
        validate_story(script, None)
        return script

    def accept(self) -> None:
        """Close only with a valid story; otherwise say what is wrong and stay open."""
        try:
            self.result_script = self.edited_script()
        except ScriptError as error:
            self.problem.setText(f"{error.problem}. {error.hint}")
            return
        super().accept()

    def done(self, result: int) -> None:
        """Closing stops listening to a running request (its thread ends on its own)."""
        if self.model_box is not None and self.model_box.running:
            self.model_box.stop()
        super().done(result)


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> QTableWidget:
    table = QTableWidget(len(rows), len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.horizontalHeader().setStretchLastSection(True)
    _fill(table, rows)
    return table


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    table.setRowCount(len(rows))
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, QTableWidgetItem(value))
    table.resizeColumnsToContents()


def _renamed_tags(prompt: str, renamed: dict[str, str]) -> str:
    return TAG_PATTERN.sub(
        lambda m: f"[{renamed.get(m.group(1).strip(), m.group(1).strip())}]", prompt
    )


def _cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text().strip() if item is not None else ""
