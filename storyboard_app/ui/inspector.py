"""The panel inspector: every field of the current panel, its picture, Render/Reroll and takes.

Fields commit through undo commands when they are finished; the picture shows
the live step preview while the panel renders, else its active take.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.records import SceneRecord
from storyboard_app.project.settings import SHOT_TYPES
from storyboard_app.project.staleness import describe_reasons
from storyboard_app.ui.character_model import CharacterListModel, PanelCastModel
from storyboard_app.ui.commands.scenes import EditSceneCommand
from storyboard_app.ui.commands.takes import DeleteTakeCommand, SetActiveTakeCommand
from storyboard_app.ui.images import ThumbnailCache
from storyboard_app.ui.project_session import ProjectSession
from storyboard_app.ui.prompt_budget import PromptBudget
from storyboard_app.ui.prompt_edit import CommittingTextEdit, PromptEdit
from storyboard_app.ui.render_status import RenderStatusBook
from storyboard_app.ui.take_strip import TakeListModel, TakeStrip
from storyboard_app.ui.wheel_guard import guard_wheel_in

PREVIEW_SIZE = QSize(380, 280)
ACTION_HINT = "Describe what the picture shows, e.g. [Mara] opens the door, rain outside"


class PanelFields(QWidget):
    """The editable fields of one panel; each finished field becomes an EditSceneCommand."""

    def __init__(
        self, session: ProjectSession, characters: CharacterListModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._characters = characters
        self._scene: SceneRecord | None = None
        self.prompt = PromptEdit(lines=4)
        self.prompt.setPlaceholderText(ACTION_HINT)
        self.token_meter = QLabel()
        self.budget = PromptBudget(self.prompt, self.token_meter, self)
        self.negative_prompt = PromptEdit(lines=2)
        self.cast = PanelCastModel(characters, self)
        self.cast_view = QListView()
        self.cast_view.setModel(self.cast)
        self.cast_view.setFixedHeight(84)
        self.dialogue = CommittingTextEdit(lines=2)
        self.dialogue.setPlaceholderText("Mara: Who is there?  (one speech balloon a line)")
        self.caption = CommittingTextEdit(lines=2)
        self.caption.setPlaceholderText("Narration, drawn in a caption box")
        self.notes = CommittingTextEdit(lines=2)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.04, 3600)
        self.duration.setSuffix(" s")
        self.duration.setKeyboardTracking(False)
        self.shot_type = QComboBox()
        self.shot_type.addItems([shot or "(none)" for shot in SHOT_TYPES])
        self.seed = QLineEdit()
        self.seed.setValidator(QRegularExpressionValidator(r"\d{1,18}"))
        self.seed_locked = QCheckBox("Lock")
        self.seed_locked.setToolTip("A locked seed is kept by Reroll.")
        self._connect()
        self._layout()

    def show_scene(self, scene: SceneRecord | None) -> None:
        if self._scene is not None and (scene is None or scene.id != self._scene.id):
            self.commit_pending()
        self._scene = scene
        self.setEnabled(scene is not None)
        self.cast.set_scene(scene)
        colors = self._characters.colors()
        self.prompt.set_characters(colors)
        self.negative_prompt.set_characters(colors)
        if scene is None:
            for editor in self._text_editors():
                editor.set_text("")
            self.budget.set_context(None, {}, self._session.records.settings(), ())
            return
        self.prompt.set_text(scene.prompt)
        self._measure_prompt(scene)
        self.negative_prompt.set_text(scene.negative_prompt)
        self.dialogue.set_text(scene.dialogue)
        self.caption.set_text(scene.caption)
        self.notes.set_text(scene.notes)
        _quietly(self.duration, lambda: self.duration.setValue(scene.duration))
        _quietly(
            self.shot_type,
            lambda: self.shot_type.setCurrentIndex(SHOT_TYPES.index(scene.shot_type)),
        )
        _quietly(self.seed_locked, lambda: self.seed_locked.setChecked(scene.seed_locked))
        if not self.seed.hasFocus():
            self.seed.setText(str(scene.seed))

    def _measure_prompt(self, scene: SceneRecord) -> None:
        """The token count of the prompt as the render will send it (as the project holds
        them after the last change: the cast, the settings and the LoRAs all add words)."""
        records = self._session.records
        characters = {c.name: c for c in records.characters()}
        self.budget.set_context(scene, characters, records.settings(), records.loras())

    def commit_pending(self) -> None:
        """Save what is typed but not yet committed, to the panel it was typed for."""
        for editor in self._text_editors():
            editor.commit()

    def _text_editors(self) -> tuple[CommittingTextEdit, ...]:
        return (self.prompt, self.negative_prompt, self.dialogue, self.caption, self.notes)

    def edit(self, **changes: object) -> None:
        if self._scene is None:
            return
        current = {k: v for k, v in changes.items() if getattr(self._scene, k, ...) != v}
        if current:
            self._session.execute(EditSceneCommand(self._session, self._scene.id, **current))
        else:
            # Back to what the panel holds: a refusal of this edit is moot.
            self._session.resolve(EditSceneCommand.key_for(self._scene.id, changes))

    def _connect(self) -> None:
        self.prompt.committed.connect(lambda text: self.edit(prompt=text))
        self.negative_prompt.committed.connect(lambda text: self.edit(negative_prompt=text))
        self.dialogue.committed.connect(lambda text: self.edit(dialogue=text))
        self.caption.committed.connect(lambda text: self.edit(caption=text))
        self.notes.committed.connect(lambda text: self.edit(notes=text))
        self.duration.valueChanged.connect(lambda value: self.edit(duration=value))
        self.shot_type.activated.connect(lambda row: self.edit(shot_type=SHOT_TYPES[row]))
        self.seed.editingFinished.connect(self._commit_seed)
        self.seed_locked.toggled.connect(lambda locked: self.edit(seed_locked=locked))
        self.cast.castChanged.connect(self._commit_cast)

    def _layout(self) -> None:
        seed = QHBoxLayout()
        seed.addWidget(self.seed, 1)
        seed.addWidget(self.seed_locked)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        action = QVBoxLayout()
        action.setSpacing(2)
        action.addWidget(self.prompt)
        action.addWidget(self.token_meter)
        form.addRow("Action", action)
        form.addRow("Avoid", self.negative_prompt)
        form.addRow("Characters", self.cast_view)
        form.addRow("Dialogue", self.dialogue)
        form.addRow("Narration", self.caption)
        form.addRow("Notes", self.notes)
        form.addRow("Duration", self.duration)
        form.addRow("Shot", self.shot_type)
        form.addRow("Seed", seed)

    def _commit_seed(self) -> None:
        if self.seed.text():
            self.edit(seed=int(self.seed.text()))

    def _commit_cast(self, names: list[str]) -> None:
        if self._scene is not None:
            self.edit(characters=tuple(names))


class PanelInspector(QScrollArea):
    """The inspector dock's content for the current panel."""

    renderRequested = Signal(list, bool)  # scene ids, reroll

    def __init__(
        self,
        session: ProjectSession,
        characters: CharacterListModel,
        thumbnails: ThumbnailCache,
        status: RenderStatusBook,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._thumbnails = thumbnails
        self._status = status
        self._scene_id: int | None = None
        self._scene: SceneRecord | None = None
        self._media: str | None = None
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedHeight(PREVIEW_SIZE.height())
        self.picture.setWordWrap(True)
        self._picture_key: int | None = None  # the cache key of the picture shown
        self.title = QLabel()
        self.stale_note = QLabel()
        self.stale_note.setWordWrap(True)
        self.stale_note.setStyleSheet("color: #b36b00")
        self.stale_note.hide()
        self.fields = PanelFields(session, characters)
        self.render_button = QPushButton("Render")
        self.reroll_button = QPushButton("Reroll")
        self.reroll_button.setToolTip("Render again with a new seed (unless the seed is locked).")
        self.takes = TakeStrip(TakeListModel(session, thumbnails, self))
        self._build()
        guard_wheel_in(self)
        self.render_button.clicked.connect(lambda: self._request(reroll=False))
        self.reroll_button.clicked.connect(lambda: self._request(reroll=True))
        self.takes.activateRequested.connect(self._activate_take)
        self.takes.deleteRequested.connect(self._delete_take)
        session.scenesChanged.connect(self.refresh)
        session.charactersChanged.connect(self.refresh)
        session.settingsChanged.connect(self.refresh)
        session.sceneChanged.connect(self._on_scene_changed)
        status.changed.connect(self._on_status)
        thumbnails.ready.connect(self._on_media)
        thumbnails.missing.connect(self._on_media)
        self.show_scene(None)

    def show_scene(self, scene_id: int | None) -> None:
        self._scene_id = scene_id
        self.takes.model.set_scene(scene_id)
        self.refresh()

    def scene_id(self) -> int | None:
        return self._scene_id

    def focus_prompt(self) -> None:
        """Put the cursor in the panel's Action field: a new panel is described first."""
        self.fields.prompt.setFocus(Qt.FocusReason.OtherFocusReason)
        self.ensureWidgetVisible(self.fields.prompt)

    def refresh(self) -> None:
        """Read the panel again (after an edit or a render); progress updates do not."""
        scene = self._read_scene()
        self._scene = scene
        self._media = self._active_media(scene)
        self.fields.show_scene(scene)
        self.render_button.setEnabled(scene is not None)
        self.reroll_button.setEnabled(scene is not None)
        self.title.setText(f"<b>Panel {scene.number}</b>" if scene else "No panel selected")
        self._show_stale(scene)
        self._show_picture()

    def _build(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.render_button)
        buttons.addWidget(self.reroll_button)
        buttons.addStretch(1)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addWidget(self.title)
        layout.addWidget(self.stale_note)
        layout.addWidget(self.picture)
        layout.addWidget(self.fields)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Takes"))
        layout.addWidget(self.takes)
        layout.addStretch(1)
        self.setWidget(content)
        self.setWidgetResizable(True)

    def _read_scene(self) -> SceneRecord | None:
        if self._scene_id is None:
            return None
        try:
            return self._session.records.scene(self._scene_id)
        except StoryboardError:
            return None

    def _show_stale(self, scene: SceneRecord | None) -> None:
        """Say why the picture no longer matches the panel ("prompt changed", ...)."""
        try:
            reasons = self._session.records.stale_reasons(scene) if scene else []
        except StoryboardError:
            reasons = []
        self.stale_note.setText(
            f"Out of date: {describe_reasons(reasons)}. Render the panel to bring it up to date."
        )
        self.stale_note.setVisible(bool(reasons))

    def _active_media(self, scene: SceneRecord | None) -> str | None:
        if scene is None or scene.active_take_id is None:
            return None
        try:
            return self._session.records.active_media(scene)
        except StoryboardError:
            return None  # damaged: the storyboard names it

    def _show_picture(self) -> None:
        """The live preview while the panel renders, else its active take (no database reads)."""
        preview = self._status.preview(self._scene_id) if self._scene_id is not None else None
        if preview is not None:
            self._set_picture(preview)
            return
        media = self._media
        if media is None:
            self.picture.setPixmap(QPixmap())
            self.picture.setText("Not rendered yet: press Render." if self._scene else "")
            return
        if self._thumbnails.is_missing(media):
            self.picture.setPixmap(QPixmap())
            self.picture.setText(
                "The picture of this take is missing from the project's media folder. "
                "Restore the folder from a backup, or render the panel again."
            )
            return
        pixmap = self._thumbnails.pixmap(media)
        if pixmap is not None:
            self._set_picture(pixmap)

    def _set_picture(self, image: QPixmap | QImage) -> None:
        """Show ``image`` scaled to the preview; the same picture again (a panel refreshed
        after an edit of its words) is not scaled again."""
        if image.cacheKey() == self._picture_key and not self.picture.pixmap().isNull():
            return
        self._picture_key = image.cacheKey()
        pixmap = QPixmap.fromImage(image) if isinstance(image, QImage) else image
        self.picture.setPixmap(
            pixmap.scaled(
                PREVIEW_SIZE,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def _request(self, reroll: bool) -> None:
        if self._scene_id is not None:
            self.renderRequested.emit([self._scene_id], reroll)

    def _activate_take(self, take_id: int) -> None:
        if self._scene_id is not None:
            self._session.execute(SetActiveTakeCommand(self._session, self._scene_id, take_id))

    def _delete_take(self, take_id: int) -> None:
        self._session.execute(DeleteTakeCommand(self._session, take_id))

    def _on_scene_changed(self, scene_id: int) -> None:
        if scene_id == self._scene_id:
            self.refresh()

    def _on_media(self, media: str) -> None:
        self._show_picture()

    def _on_status(self, scene_ids: tuple[int, ...]) -> None:
        if self._scene_id in scene_ids:
            self._show_picture()


def _quietly(widget: QWidget, change: Callable[[], None]) -> None:
    """Set a widget's value from the project without it reporting an edit."""
    widget.blockSignals(True)
    try:
        change()
    finally:
        widget.blockSignals(False)
