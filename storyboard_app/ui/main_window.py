"""MainWindow: assembles the docks, the storyboard, the menus and the status bar.

What the actions do lives elsewhere: opening and saving in
:class:`ProjectController`, edits and renders in the open
:class:`ProjectWorkspace`, engine work in the :class:`EngineHost`. The window
puts a workspace's widgets in place when a project opens and shows the start
page when none is open.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QUndoGroup
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from storyboard_app import __version__
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.scripts.io import FOUNTAIN_SUFFIXES, title_from_path
from storyboard_app.ui import file_dialogs, render_questions
from storyboard_app.ui.actions import WindowActions
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.commands.project import settings_edit
from storyboard_app.ui.export_dialog import ExportDialog
from storyboard_app.ui.job_status import JobStatusBar, PanelNumbers
from storyboard_app.ui.message_bar import FixAction, MessageBar, UserMessage
from storyboard_app.ui.models_page import ModelsDialog, names_to_download
from storyboard_app.ui.new_project_dialog import NewProjectDialog
from storyboard_app.ui.project_controller import ProjectController
from storyboard_app.ui.project_files import (
    example_scripts,
    folder_name_for,
    proposed_copy,
    read_story_draft,
)
from storyboard_app.ui.render_questions import RenderChoice
from storyboard_app.ui.settings_dialog import SettingsDialog
from storyboard_app.ui.start_page import StartPage
from storyboard_app.ui.story_draft_dialog import StoryDraftDialog
from storyboard_app.ui.theme import ThemeChoice, ThemeManager
from storyboard_app.ui.timeline_dock import TimelineDock
from storyboard_app.ui.workspace import ProjectWorkspace
from storyboard_app.worker.host import EngineHost

STATUS_TIMEOUT_MS = 6000
CHARACTERS_DOCK_WIDTH = 280
INSPECTOR_DOCK_WIDTH = 430
# No dock can be squeezed (or restored) narrower than it can be used at.
CHARACTERS_DOCK_MIN_WIDTH = 160
INSPECTOR_DOCK_MIN_WIDTH = 280
TIMELINE_DOCK_MIN_HEIGHT = 120


class MainWindow(QMainWindow):
    def __init__(
        self, host: EngineHost, app_settings: AppSettings, theme: ThemeManager | None = None
    ) -> None:
        """``theme``: the app's (``storyboard-app`` applies it at start); else the window
        makes one that changes the look only when a theme is chosen."""
        super().__init__()
        self.setWindowTitle(f"Storyboard {__version__}")
        self.setObjectName("storyboardMainWindow")
        self.host = host
        self.app_settings = app_settings
        self.theme = theme or ThemeManager(
            QApplication.instance(), app_settings.theme(), self, apply_now=False
        )
        self.projects = ProjectController(host, app_settings, self)
        self.undo_group = QUndoGroup(self)
        self.actions = WindowActions(self, self.undo_group)
        self.messages = MessageBar()
        self.start_page = StartPage()
        self.editor = QWidget()
        self.editor_layout = QVBoxLayout(self.editor)
        self.editor_layout.setContentsMargins(4, 4, 4, 4)
        self.stack = QStackedWidget()
        self.characters_dock = self._dock("Characters", "charactersDock")
        self.characters_dock.setMinimumWidth(CHARACTERS_DOCK_MIN_WIDTH)
        self.inspector_dock = self._dock("Panel", "inspectorDock")
        self.inspector_dock.setMinimumWidth(INSPECTOR_DOCK_MIN_WIDTH)
        self.timeline_dock = TimelineDock(self)
        self.timeline_dock.setMinimumHeight(TIMELINE_DOCK_MIN_HEIGHT)
        self.job_status = JobStatusBar(host)
        self._assemble()
        self._connect_actions()
        self._connect_controllers()
        self._default_state = self.saveState()
        self._layout_restored = app_settings.restore_window(self)
        if not self._layout_restored:
            self.resize(1400, 900)
        # A restored layout shows the docks it saved; the start page has nothing for them.
        self._show_workspace(None)

    @property
    def workspace(self) -> ProjectWorkspace | None:
        return self.projects.workspace

    def open_project(self, path: Path) -> bool:
        return self.projects.open(path)

    def show_message(self, message: UserMessage) -> None:
        self.messages.show_message(message)

    def open_settings(self) -> SettingsDialog | None:
        """Show the settings dialog; the chosen settings apply when it is accepted."""
        workspace = self.workspace
        if workspace is None:
            return None
        store = workspace.store
        dialog = SettingsDialog(
            self.host,
            store.settings(),
            self.app_settings.engine_options(),
            self,
            loras=store.loras.list(),
            characters=[character.name for character in store.characters.list()],
            title=store.name,
            theme=self.theme.choice,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._apply_settings(dialog))
        dialog.open()
        return dialog

    def open_models(self, download: list[str] | None = None) -> ModelsDialog:
        """Show the Models window (no project needed); ``download``: start getting those."""
        dialog = ModelsDialog(self.app_settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if download:
            dialog.page.download_when_listed(download)
        dialog.open()
        return dialog

    def reset_layout(self) -> None:
        """Put the docks back where they start out, and forget the saved arrangement."""
        self.restoreState(self._default_state)
        is_open = self.workspace is not None
        for dock in (self.characters_dock, self.inspector_dock, self.timeline_dock):
            dock.setFloating(False)
            dock.setVisible(is_open)
        self._size_docks()
        self.app_settings.clear_window()

    def _size_docks(self) -> None:
        self.resizeDocks(
            [self.characters_dock, self.inspector_dock],
            [CHARACTERS_DOCK_WIDTH, INSPECTOR_DOCK_WIDTH],
            Qt.Orientation.Horizontal,
        )
        # The timeline is one compact track; the artist can drag it taller.
        compact = self.timeline_dock.sizeHint().height()
        self.resizeDocks([self.timeline_dock], [compact], Qt.Orientation.Vertical)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Close, after asking whether to cancel this project's render if one is running."""
        workspace = self.workspace
        busy = workspace is not None and workspace.renders.busy()
        if busy and not self._may_cancel_render():
            event.ignore()
            return
        self.app_settings.save_window(self)
        self.projects.close()
        super().closeEvent(event)

    def _may_cancel_render(self) -> bool:
        assert self.workspace is not None
        return render_questions.ask_before_closing(self, self.workspace.renders.describe_work())

    def _assemble(self) -> None:
        self.editor_layout.addWidget(self.messages)
        page = QWidget()
        page_layout = QVBoxLayout(page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(self.stack)
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.editor)
        self.setCentralWidget(page)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.characters_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.timeline_dock)
        self.statusBar().addPermanentWidget(self.job_status)
        self.actions.fill_menus(self.menuBar())
        self.start_page.set_examples(example_scripts())

    def _dock(self, title: str, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        return dock

    def _connect_actions(self) -> None:
        actions = self.actions
        actions.new.triggered.connect(self._ask_new_project)
        actions.new_from_story.triggered.connect(self._ask_new_from_story)
        actions.open.triggered.connect(self._ask_open_project)
        actions.save_as.triggered.connect(self._ask_save_as)
        actions.close.triggered.connect(self.projects.close_project)
        actions.quit.triggered.connect(self.close)
        actions.import_story.triggered.connect(self._ask_import_story)
        actions.import_images.triggered.connect(self._ask_import_images)
        actions.export.triggered.connect(self.open_export)
        actions.settings.triggered.connect(self.open_settings)
        actions.models.triggered.connect(lambda: self.open_models())
        actions.add_panel.triggered.connect(self._on_workspace(lambda w: w.add_panel()))
        actions.add_character.triggered.connect(
            self._on_workspace(lambda w: w.characters_panel.ask_new_character())
        )
        actions.delete.triggered.connect(self._on_workspace(lambda w: w.delete_selected()))
        actions.duplicate.triggered.connect(self._on_workspace(lambda w: w.duplicate_selected()))
        actions.move_left.triggered.connect(self._on_workspace(lambda w: w.move_selected(-1)))
        actions.move_right.triggered.connect(self._on_workspace(lambda w: w.move_selected(1)))
        actions.compare_takes.triggered.connect(self._on_workspace(lambda w: w.compare_takes()))
        actions.rerender_all.triggered.connect(self._ask_rerender_all)
        actions.render_selected.triggered.connect(self._on_workspace(lambda w: w.render_selected()))
        actions.render_all.triggered.connect(self._on_workspace(lambda w: w.render_all()))
        actions.render_stale.triggered.connect(self._on_workspace(lambda w: w.render_stale()))
        actions.reroll.triggered.connect(
            self._on_workspace(lambda w: w.render_selected(reroll=True))
        )
        actions.build_identities.triggered.connect(
            self._on_workspace(lambda w: w.renders.build_identities())
        )
        actions.cancel.triggered.connect(self.job_status.cancel_running)
        actions.recent.aboutToShow.connect(self._fill_recent_menu)
        actions.reset_layout.triggered.connect(self.reset_layout)
        actions.themes[self.theme.choice].setChecked(True)
        for choice, action in actions.themes.items():
            action.triggered.connect(lambda _checked=False, c=choice: self.set_theme(c))

    def _connect_controllers(self) -> None:
        self.projects.workspaceChanged.connect(self._show_workspace)
        self.projects.messageRaised.connect(self.show_message)
        self.projects.statusMessage.connect(self._show_status)
        self.projects.ask_about_render = lambda running, action: (
            render_questions.ask_before_replacing(self, running, action)
        )
        self.ask_rerender = lambda panels, picked: render_questions.ask_before_rerendering(
            self, panels, picked
        )
        self.projects.recentChanged.connect(self._refresh_recent)
        self.messages.actionRequested.connect(self._on_fix_action)
        self.theme.applied.connect(lambda _shown: self.messages.recolour())
        self.start_page.newRequested.connect(self._ask_new_project)
        self.start_page.openRequested.connect(self._ask_open_project)
        self.start_page.recentRequested.connect(self.projects.open)
        self.start_page.exampleRequested.connect(self._ask_example_copy)

    def _on_workspace(self, action: Callable[[ProjectWorkspace], object]) -> Callable[[], None]:
        def run() -> None:
            if self.workspace is not None:
                action(self.workspace)

        return run

    def _show_workspace(self, workspace: ProjectWorkspace | None) -> None:
        self.messages.hide()
        self.actions.set_project_open(workspace is not None)
        self.characters_dock.setVisible(workspace is not None)
        self.inspector_dock.setVisible(workspace is not None)
        self.timeline_dock.show_workspace(workspace)
        self._show_playback()
        self.job_status.set_panels(*panel_numbers_of(workspace))
        if workspace is None:
            self.setWindowTitle(f"Storyboard {__version__}")
            self.undo_group.setActiveStack(None)
            self._refresh_recent()
            self.stack.setCurrentWidget(self.start_page)
            return
        self.editor_layout.addWidget(workspace.storyboard_pane, 1)
        self._keep_grid_zoom(workspace)
        self.characters_dock.setWidget(workspace.characters_panel)
        self.inspector_dock.setWidget(workspace.inspector)
        if not self._layout_restored:
            self._layout_restored = True
            self._size_docks()
        self.undo_group.addStack(workspace.session.undo_stack)
        self.undo_group.setActiveStack(workspace.session.undo_stack)
        workspace.messageRaised.connect(self.show_message)
        workspace.messageResolved.connect(self.messages.withdraw)
        workspace.statusMessage.connect(self._show_status)
        workspace.session.settingsChanged.connect(self._show_title)
        self._show_title()
        self.stack.setCurrentWidget(self.editor)
        self._chain_tab_order(workspace)
        workspace.storyboard.setFocus()

    def _show_playback(self) -> None:
        panel = self.timeline_dock.panel
        self.actions.show_playback(panel.playback_actions() if panel is not None else [])

    def _keep_grid_zoom(self, workspace: ProjectWorkspace) -> None:
        """The grid opens at the zoom last chosen (on this computer), and remembers new ones."""
        workspace.storyboard.set_columns(self.app_settings.grid_columns())
        workspace.storyboard.zoomChanged.connect(self.app_settings.set_grid_columns)

    def _show_title(self) -> None:
        if self.workspace is not None:
            self.setWindowTitle(f"{self.workspace.store.name} — Storyboard {__version__}")

    def _chain_tab_order(self, workspace: ProjectWorkspace) -> None:
        """Tab goes the way the screen reads: the grid, then the inspector, then the timeline."""
        regions = [workspace.storyboard_pane, workspace.inspector, self.timeline_dock]
        chain = [widget for region in regions for widget in tab_stops(region)]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _ask_rerender_all(self) -> None:
        """Re-render every panel, after asking whether hand-picked takes stay active."""
        workspace = self.workspace
        if workspace is None:
            return
        panels = workspace.storyboard_model.rowCount()
        choice = self.ask_rerender(panels, workspace.picked_count())
        if choice is not None:
            workspace.rerender_all(keep_picked=choice is not RenderChoice.REPLACE_PICKED)

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    def _refresh_recent(self) -> None:
        self.start_page.set_recent(self.app_settings.recent_projects())

    def _fill_recent_menu(self) -> None:
        menu = self.actions.recent
        menu.clear()
        for folder in self.app_settings.recent_projects():
            action = menu.addAction(str(folder))
            action.triggered.connect(lambda _checked=False, f=folder: self.projects.open(f))

    def _on_fix_action(self, action: str) -> None:
        if action == FixAction.SETTINGS:
            self.open_settings()
        elif action == FixAction.SAVE_AS:
            self._ask_save_as()
        elif action == FixAction.MODELS:
            current = self.messages.current
            self.open_models(names_to_download(current.hint if current else ""))

    def _apply_settings(self, dialog: SettingsDialog) -> None:
        """This computer's choices are kept in the app settings; the project's are one edit."""
        choice = dialog.choice()
        self.app_settings.set_engine_options(choice.engine)
        if choice.theme != self.theme.choice:
            self.set_theme(choice.theme)
        workspace = self.workspace
        if workspace is not None:
            settings = dialog.applied_to(workspace.store.settings())
            title = choice.title if dialog.title_changed() else workspace.store.name
            edit = settings_edit(workspace.session, title, settings, dialog.chosen_loras())
            if edit is not None:
                workspace.session.execute(edit)

    def set_theme(self, choice: ThemeChoice) -> None:
        """Light, dark or the system's, from now on and at the next start."""
        self.app_settings.set_theme(choice)
        self.theme.apply(choice)
        self.actions.themes[choice].setChecked(True)

    def _ask_new_project(self) -> None:
        self.new_project(lambda dialog: dialog.exec() == QDialog.DialogCode.Accepted)

    def new_project(self, confirm: Callable[[NewProjectDialog], bool]) -> bool:
        """Ask for the title and the shape (``confirm`` runs the dialog), then create."""
        dialog = NewProjectDialog(self.app_settings.last_folder(), self)
        if not confirm(dialog):
            return False
        choice = dialog.choice()
        self.app_settings.set_last_folder(choice.folder.parent)
        return self.projects.create(choice.folder, choice.title, choice.settings)

    def _ask_new_from_story(self) -> None:
        story = file_dialogs.ask_story(self, self.app_settings.last_folder())
        if story is not None:
            self.new_from_story(story, lambda dialog: dialog.exec() == QDialog.DialogCode.Accepted)

    def new_from_story(self, story: Path, confirm: Callable[[StoryDraftDialog], bool]) -> bool:
        """Draft ``story``, let the artist edit it (``confirm`` runs the dialog), then create."""
        try:
            draft = read_story_draft(story)
        except StoryboardError as error:
            self.show_message(UserMessage.from_error(error))
            return False
        prose = story if story.suffix.lower() not in FOUNTAIN_SUFFIXES else None
        dialog = StoryDraftDialog(draft, self, prose, self.app_settings)
        if not confirm(dialog) or dialog.result_script is None:
            return False
        folder = story.parent
        path = file_dialogs.ask_new_project(
            self, folder, f"Save the story “{draft.title}” as", folder_name_for(draft.title)
        )
        if path is None:
            return False
        self.app_settings.set_last_folder(path.parent)
        return self.projects.create_from_story(dialog.result_script, path)

    def _ask_open_project(self) -> None:
        path = file_dialogs.ask_project_to_open(self, self.app_settings.last_folder())
        if path is not None:
            self.app_settings.set_last_folder(path.parent)
            self.projects.open(path)

    def _ask_save_as(self) -> None:
        if self.workspace is None:
            return
        store = self.workspace.store
        proposed = proposed_copy(store.name, store.folder.parent)
        path = file_dialogs.ask_new_project(
            self, proposed.parent, "Save a copy of the project as", proposed.stem
        )
        if path is not None:
            self.projects.save_as(path)

    def _ask_example_copy(self, script: Path) -> None:
        folder = self.app_settings.last_folder()
        title = title_from_path(script) or script.stem
        path = file_dialogs.ask_new_project(
            self, folder, f"Save the example “{title}” as", folder_name_for(title)
        )
        if path is not None:
            self.projects.create_from_script(script, path)

    def _ask_import_story(self) -> None:
        if self.workspace is not None:
            path = file_dialogs.ask_story_script(self, self.app_settings.last_folder())
            if path is not None:
                self.workspace.import_story(path)

    def open_export(self) -> ExportDialog | None:
        """The Export dialog for the open project (non-modal: the storyboard stays usable)."""
        if self.workspace is None:
            return None
        dialog = ExportDialog(self.workspace.store.folder, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _ask_import_images(self) -> None:
        if self.workspace is not None:
            paths = file_dialogs.ask_images(self, self.app_settings.last_folder())
            self.workspace.import_images(paths)


def panel_numbers_of(workspace: ProjectWorkspace | None) -> tuple[Path | None, PanelNumbers | None]:
    """The project folder and its panel numbers by scene id, for the status bar's wording."""
    if workspace is None:
        return None, None
    records = workspace.session.records  # the story as the views show it: no read per job
    return workspace.store.folder, lambda: {scene.id: scene.number for scene in records.scenes()}


def tab_stops(region: QWidget) -> list[QWidget]:
    """The widgets Tab stops at inside ``region``, in the order they were laid out."""
    widgets = [region, *region.findChildren(QWidget)]
    return [
        widget
        for widget in widgets
        if widget.window() is region.window()  # not a combo box's popup list
        and widget.focusPolicy() & Qt.FocusPolicy.TabFocus
        and widget.focusProxy() is None
        and not widget.isHidden()
    ]
