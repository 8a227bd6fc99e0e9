"""File > New from Story…: the panels a screenplay or prose story proposes, in tables to edit.

The parsers make a first draft; the artist fixes names, descriptions, prompts and
captions here before anything is written. The edited draft is checked with the
same rules as a script file, so a mistake is one message under the tables and
the dialog stays open: nothing is created until the story is valid.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
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

CHARACTER_COLUMNS = ("Name", "Description")
PANEL_COLUMNS = ("Prompt", "Characters", "Caption (dialogue)")


class StoryDraftDialog(QDialog):
    """Built from the draft it shows; :meth:`edited_script` reads the tables back."""

    def __init__(self, draft: StoryScript, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.draft = draft
        self.setWindowTitle(f"New from story: {draft.title}")
        self.characters = _table(
            CHARACTER_COLUMNS, [(c.name, c.description) for c in draft.characters]
        )
        self.panels = _table(
            PANEL_COLUMNS, [(s.prompt, ", ".join(s.characters), s.caption) for s in draft.scenes]
        )
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
        names = undescribed(draft.characters)
        hint = f" Describe {', '.join(names)}: their description is only the name." if names else ""
        layout.addWidget(QLabel(f"Characters.{hint}"))
        layout.addWidget(self.characters)
        layout.addWidget(QLabel("Panels: write [Name] in a prompt to put a character in it."))
        layout.addWidget(self.panels, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(900, 600)

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
            caption = _cell(self.panels, row, 2)
            scenes.append(replace(spec, prompt=prompt, characters=names, caption=caption))
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


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> QTableWidget:
    table = QTableWidget(len(rows), len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    for row, values in enumerate(rows):
        for column, value in enumerate(values):
            table.setItem(row, column, QTableWidgetItem(value))
    table.horizontalHeader().setStretchLastSection(True)
    table.resizeColumnsToContents()
    return table


def _renamed_tags(prompt: str, renamed: dict[str, str]) -> str:
    return TAG_PATTERN.sub(
        lambda m: f"[{renamed.get(m.group(1).strip(), m.group(1).strip())}]", prompt
    )


def _cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text().strip() if item is not None else ""
