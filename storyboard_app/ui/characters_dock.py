"""The characters dock: the cast with thumbnails, and an editor for the selected character.

Every change goes through an undo command as soon as a field is finished
(Enter, leaving the field, picking a colour or picture).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.characters import check_identity_framings, identity_framings
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.ip_adapters import IP_ADAPTER_KINDS, MAX_IP_ADAPTER_SCALE
from storyboard_app.project.records import CharacterRecord
from storyboard_app.ui.character_model import ICON_SIZE, CharacterListModel
from storyboard_app.ui.commands.characters import (
    AddCharacterCommand,
    DeleteCharacterCommand,
    EditCharacterCommand,
    MoveCharacterCommand,
)
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.prompt_edit import CommittingTextEdit
from storyboard_app.ui.wheel_guard import guard_wheel_in

UNTAG = "untag"
KEEP = "keep"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
ADAPTER_FILTER = "IP-Adapters (*.safetensors)"
NO_ADAPTER = "None"


class NewCharacterDialog(QDialog):
    """Name and look of a new character (both are needed: the look is its identity prompt)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New character")
        self.name = QLineEdit()
        self.name.setPlaceholderText("Mara")
        self.description = CommittingTextEdit(lines=3)
        self.description.setPlaceholderText("a young woman with short red hair, green raincoat")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Look", self.description)
        form.addRow(buttons)

    def values(self) -> tuple[str, str]:
        return self.name.text(), self.description.toPlainText()


class CharacterEditor(QWidget):
    """Fields of one character; each finished field becomes an EditCharacterCommand."""

    def __init__(self, session: ProjectSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._character: CharacterRecord | None = None
        self.name = QLineEdit()
        self.description = CommittingTextEdit(lines=3)
        self.negative_prompt = CommittingTextEdit(lines=2)
        self.framings = CommittingTextEdit(lines=4)
        self.framings.setToolTip(
            "What the identity images show besides the look, one per line. The identity "
            "comes from these, never from a panel: editing a panel leaves it alone."
        )
        self.seed = QLineEdit()
        self.seed.setValidator(QRegularExpressionValidator(r"\d{1,18}"))
        self.color = QPushButton()
        self.reference = QLabel("none")
        self.choose_reference = QPushButton("Choose…")
        self.clear_reference = QPushButton("Clear")
        self.reference_strength = _spin(
            0.0,
            1.0,
            "How much of the picture's features the "
            "identity shares: 0 ignores it, 1 shares all of it.",
        )
        self.ip_adapter = QComboBox()
        self.ip_adapter.setToolTip(
            "An IP-Adapter that also reads the reference picture (its weights downloaded with "
            "`storyboard models download ip-adapter-…`), or a local .safetensors file."
        )
        self.choose_ip_adapter = QPushButton("File…")
        self.ip_adapter_scale = _spin(
            0.0, MAX_IP_ADAPTER_SCALE, "How strongly the IP-Adapter steers: 0 is off."
        )
        self._connect()
        self._layout()
        guard_wheel_in(self)
        self.show_character(None)

    def show_character(self, character: CharacterRecord | None) -> None:
        if self._character is not None and (
            character is None or character.id != self._character.id
        ):
            self.description.commit()
            self.negative_prompt.commit()
            self.framings.commit()
        self._character = character
        self.setEnabled(character is not None)
        if character is None:
            # Nothing (or a character just deleted) is current: show no stale fields.
            self.name.clear()
            self.description.set_text("")
            self.negative_prompt.set_text("")
            self.framings.set_text("")
            self.seed.clear()
            self.color.setStyleSheet("")
            self.reference.setText("none")
            self.clear_reference.setEnabled(False)
            self._show_ip_adapter("")
            return
        if not self.name.hasFocus():
            self.name.setText(character.name)
        self.description.set_text(character.description)
        self.negative_prompt.set_text(character.negative_prompt)
        self.framings.set_text("\n".join(identity_framings(character)))
        if not self.seed.hasFocus():
            self.seed.setText(str(character.seed))
        self.color.setStyleSheet(f"background: {character.color}; min-width: 3em;")
        self.reference.setText("picture set" if character.reference_media else "none")
        self.clear_reference.setEnabled(character.reference_media is not None)
        if not self.reference_strength.hasFocus():
            self.reference_strength.setValue(character.reference_strength)
        if not self.ip_adapter_scale.hasFocus():
            self.ip_adapter_scale.setValue(character.ip_adapter_scale)
        self._show_ip_adapter(character.ip_adapter)

    def _show_ip_adapter(self, adapter: str) -> None:
        """The kinds, and the character's local file when it names one."""
        self.ip_adapter.clear()
        self.ip_adapter.addItem(NO_ADAPTER, "")
        for kind in IP_ADAPTER_KINDS:
            self.ip_adapter.addItem(kind.name, kind.name)
        if adapter and self.ip_adapter.findData(adapter) < 0:
            self.ip_adapter.addItem(Path(adapter).name, adapter)
            self.ip_adapter.setItemData(
                self.ip_adapter.count() - 1, adapter, Qt.ItemDataRole.ToolTipRole
            )
        self.ip_adapter.setCurrentIndex(max(0, self.ip_adapter.findData(adapter)))

    def edit(self, **changes: object) -> bool:
        """Apply the fields that differ as one undoable edit; False if it was refused."""
        if self._character is None:
            return False
        current = {k: v for k, v in changes.items() if getattr(self._character, k, ...) != v}
        if not current:
            return True
        return self._session.execute(
            EditCharacterCommand(self._session, self._character.id, **current)
        )

    def _connect(self) -> None:
        self.name.editingFinished.connect(lambda: self.edit(name=self.name.text()))
        self.description.committed.connect(lambda text: self.edit(description=text))
        self.negative_prompt.committed.connect(lambda text: self.edit(negative_prompt=text))
        self.framings.committed.connect(self._commit_framings)
        self.seed.editingFinished.connect(self._commit_seed)
        self.color.clicked.connect(self._pick_color)
        self.choose_reference.clicked.connect(self._pick_reference)
        self.clear_reference.clicked.connect(self._clear_reference)
        self.reference_strength.editingFinished.connect(
            lambda: self.edit(reference_strength=self.reference_strength.value())
        )
        self.ip_adapter.activated.connect(
            lambda _row: self._edit_adapter(self.ip_adapter.currentData())
        )
        self.choose_ip_adapter.clicked.connect(self._pick_ip_adapter)
        self.ip_adapter_scale.editingFinished.connect(
            lambda: self.edit(ip_adapter_scale=self.ip_adapter_scale.value())
        )

    def _layout(self) -> None:
        reference = QHBoxLayout()
        reference.addWidget(self.reference, 1)
        reference.addWidget(self.choose_reference)
        reference.addWidget(self.clear_reference)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Name", self.name)
        form.addRow("Look", self.description)
        form.addRow("Avoid", self.negative_prompt)
        form.addRow("Portraits", self.framings)
        form.addRow("Seed", self.seed)
        form.addRow("Colour", self.color)
        form.addRow("Reference", reference)
        form.addRow("Reference strength", self.reference_strength)
        adapter = QHBoxLayout()
        adapter.addWidget(self.ip_adapter, 1)
        adapter.addWidget(self.choose_ip_adapter)
        form.addRow("IP-Adapter", adapter)
        form.addRow("IP-Adapter scale", self.ip_adapter_scale)

    def _commit_framings(self, text: str) -> None:
        """One framing per line; the default ones (or none) store as the default."""
        if self._character is None:
            return
        try:
            framings = check_identity_framings(text, self._character.name)
        except ValidationError as error:
            QMessageBox.warning(self, "Portraits", f"{error.message}\n{error.hint}")
            self.framings.set_text("\n".join(identity_framings(self._character)))
            return
        self.edit(identity_framings=framings)

    def _commit_seed(self) -> None:
        if self.seed.text():
            self.edit(seed=int(self.seed.text()))

    def _pick_color(self) -> None:
        if self._character is None:
            return
        color = QColorDialog.getColor(QColor(self._character.color), self, "Character colour")
        if color.isValid():
            self.edit(color=color.name())

    def _pick_reference(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference picture", "", IMAGE_FILTER)
        if path and self._character is not None:
            self._session.execute(
                EditCharacterCommand(self._session, self._character.id, reference_image=Path(path))
            )

    def _pick_ip_adapter(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "IP-Adapter", "", ADAPTER_FILTER)
        if path:
            self._edit_adapter(path)

    def _edit_adapter(self, adapter: str) -> None:
        """A refused file (not an adapter) is reported by the session; the combo goes back."""
        if not self.edit(ip_adapter=adapter):
            self.show_character(self._character)

    def _clear_reference(self) -> None:
        if self._character is not None:
            self._session.execute(
                EditCharacterCommand(self._session, self._character.id, reference_image=None)
            )


class CharactersPanel(QWidget):
    """The dock's content: the list, add/delete/reorder buttons and the editor."""

    currentCharacterChanged = Signal(object)  # character id or None

    def __init__(
        self, session: ProjectSession, model: CharacterListModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self.model = model
        self.list = QListView()
        self.list.setModel(model)
        self.list.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.list.setAccessibleName("Characters")
        self.editor = CharacterEditor(session)
        self.add_button = QPushButton("Add…")
        self.delete_button = QPushButton("Delete")
        self.up_button = QToolButton()
        self.up_button.setText("▲")
        self.down_button = QToolButton()
        self.down_button.setText("▼")
        self.up_button.setToolTip("Move up")
        self.down_button.setToolTip("Move down")
        self._layout()
        guard_wheel_in(self)
        self.add_button.clicked.connect(self.ask_new_character)
        self.delete_button.clicked.connect(self.delete_current)
        self.up_button.clicked.connect(lambda: self.move_current(-1))
        self.down_button.clicked.connect(lambda: self.move_current(+1))
        self.list.selectionModel().currentChanged.connect(self._on_current)
        model.modelAboutToBeReset.connect(self._remember_current)
        model.modelReset.connect(self._restore_current)
        self._kept: int | None = None
        self._restore_current()

    def current_character(self) -> CharacterRecord | None:
        index = self.list.currentIndex()
        return self.model.character(index.row()) if index.isValid() else None

    def select_character(self, character_id: int) -> None:
        row = self.model.row_of(character_id)
        if row is not None:
            self.list.setCurrentIndex(self.model.index(row))

    def add_character(self, name: str, description: str) -> int | None:
        command = AddCharacterCommand(self._session, name, description)
        if not self._session.execute(command) or command.character_id is None:
            return None
        self.select_character(command.character_id)
        return command.character_id

    def ask_new_character(self) -> None:
        dialog = NewCharacterDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.add_character(*dialog.values())

    def delete_current(self) -> None:
        """Delete the current character; when panels use it, ask what becomes of their tags."""
        character = self.current_character()
        if character is None:
            return
        users = self._session.store.characters.panels_using(character.id)
        untag_panels = False
        if users:
            choice = self._ask_about_panels(character.name, len(users))
            if choice is None:
                return
            untag_panels = choice == UNTAG
        self._session.execute(
            DeleteCharacterCommand(self._session, character.id, untag_panels=untag_panels)
        )

    def _ask_about_panels(self, name: str, count: int) -> str | None:
        """UNTAG, KEEP, or None to cancel."""
        panels = f"{count} panel{'s' if count != 1 else ''}"
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(f"Delete {name}")
        box.setText(f"{name} is used by {panels}.")
        box.setInformativeText(
            f"Remove the tag: [{name}] becomes plain text “{name}” in those prompts. "
            f"Keep the text: the prompts keep [{name}], shown as an unknown character."
        )
        untag_button = box.addButton("Remove the tag", QMessageBox.ButtonRole.AcceptRole)
        untag_button.setObjectName("untagButton")
        keep_button = box.addButton("Keep the text", QMessageBox.ButtonRole.AcceptRole)
        keep_button.setObjectName("keepButton")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(untag_button)
        box.exec()
        clicked = box.clickedButton()
        box.deleteLater()
        if clicked is untag_button:
            return UNTAG
        if clicked is keep_button:
            return KEEP
        return None

    def move_current(self, offset: int) -> None:
        character = self.current_character()
        if character is None:
            return
        target = character.position + offset
        if 0 <= target < self.model.rowCount():
            self._session.execute(MoveCharacterCommand(self._session, character.id, target))
            self.select_character(character.id)

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.add_button, self.delete_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.editor)

    def _on_current(self) -> None:
        character = self.current_character()
        self.editor.show_character(character)
        self.delete_button.setEnabled(character is not None)
        self.up_button.setEnabled(character is not None and character.position > 0)
        self.down_button.setEnabled(
            character is not None and character.position < self.model.rowCount() - 1
        )
        self.currentCharacterChanged.emit(character.id if character else None)

    def _remember_current(self) -> None:
        character = self.current_character()
        self._kept = character.id if character else None

    def _restore_current(self) -> None:
        if self._kept is not None:
            self.select_character(self._kept)
        elif self.model.rowCount():
            self.list.setCurrentIndex(self.model.index(0))
        self._on_current()


def _spin(low: float, high: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(0.05)
    spin.setDecimals(2)
    spin.setToolTip(tip)
    return spin
