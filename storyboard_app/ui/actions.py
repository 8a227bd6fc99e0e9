"""The window's actions with their standard shortcuts, and the menus that hold them."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

from storyboard_app.ui.theme import THEME_LABELS, ThemeChoice

Key = QKeySequence.StandardKey


class WindowActions:
    """Every menu command of the window; the window connects them to what they do."""

    def __init__(self, parent: QWidget, undo_group: QUndoGroup) -> None:
        self._parent = parent
        self.new = self._action("&New Project…", Key.New)
        self.new_from_story = self._action("New from &Story…", shortcut="Ctrl+Alt+N")
        self.open = self._action("&Open Project…", Key.Open)
        self.recent = QMenu("Open &Recent", parent)
        self.save_as = self._action("Save &As…", Key.SaveAs, "Ctrl+Shift+S")
        self.close = self._action("&Close Project", Key.Close, "Ctrl+W")
        self.import_story = self._action("Import Story &Script…", shortcut="Ctrl+I")
        self.import_images = self._action("Import &Images into Panels…", shortcut="Ctrl+Shift+I")
        self.export = self._action("&Export…", shortcut="Ctrl+Shift+E")
        self.quit = self._action("&Quit", Key.Quit, "Ctrl+Q")
        self.undo = undo_group.createUndoAction(parent, "&Undo")
        self.undo.setShortcuts(QKeySequence.keyBindings(Key.Undo))
        self.redo = undo_group.createRedoAction(parent, "&Redo")
        self.redo.setShortcuts(QKeySequence.keyBindings(Key.Redo))
        self.add_panel = self._action("&New Panel", shortcut="Ctrl+Shift+N")
        self.add_panel.setToolTip("Insert a panel after the current one and describe its action.")
        self.duplicate = self._action("D&uplicate Panels", shortcut="Ctrl+D")
        self.move_left = self._action("Move Panels &Left", shortcut="Ctrl+Left")
        self.move_right = self._action("Move Panels Ri&ght", shortcut="Ctrl+Right")
        self.add_character = self._action("Add C&haracter…", shortcut="Ctrl+Shift+K")
        self.delete = self._action("&Delete Panels", Key.Delete, "Del")
        self.settings = self._action("&Settings…", Key.Preferences, "Ctrl+,")
        self.models = self._action("&Models…")
        self.models.setToolTip("The models Storyboard can use, which are here, and downloads.")
        self.render_selected = self._action("&Render Selected Panels", shortcut="Ctrl+R")
        self.render_all = self._action("Render &All Panels", shortcut="Ctrl+Shift+R")
        self.render_all.setToolTip(
            "Render the panels that have no picture yet or whose picture is out of date."
        )
        self.rerender_all = self._action("Re-render &Every Panel…")
        self.rerender_all.setToolTip(
            "Render every panel again; asks whether takes you picked by hand stay active."
        )
        self.compare_takes = self._action("&Compare Takes…", shortcut="Ctrl+T")
        self.render_stale = self._action("Render &Stale Panels", shortcut="Ctrl+Alt+R")
        self.render_stale.setToolTip(
            "Render the panels whose picture is out of date (prompt, cast, seed, a "
            "character's look or the settings changed since)."
        )
        self.reroll = self._action("Re&roll Selected Panels", shortcut="Ctrl+E")
        self.build_identities = self._action("Build Character &Identities")
        self.cancel = self._action("&Cancel Render", shortcut="Ctrl+.")
        self.reset_layout = self._action("Reset &Layout")
        self.reset_layout.setToolTip("Put the panels back where they start out.")
        self.playback = QMenu("&Playback", parent)
        self.playback.setEnabled(False)
        self.theme_menu = QMenu("&Theme", parent)
        self.theme_group = QActionGroup(parent)
        self.themes: dict[ThemeChoice, QAction] = {}
        for choice in ThemeChoice:
            action = self.theme_group.addAction(THEME_LABELS[choice])
            action.setCheckable(True)
            action.setData(str(choice))
            self.themes[choice] = action
        self.theme_menu.addActions(list(self.themes.values()))
        self.project_actions = [
            self.save_as,
            self.close,
            self.import_story,
            self.import_images,
            self.export,
            self.add_panel,
            self.duplicate,
            self.move_left,
            self.move_right,
            self.add_character,
            self.delete,
            self.settings,
            self.render_selected,
            self.render_all,
            self.render_stale,
            self.rerender_all,
            self.reroll,
            self.compare_takes,
            self.build_identities,
        ]

    def set_project_open(self, is_open: bool) -> None:
        for action in self.project_actions:
            action.setEnabled(is_open)

    def show_playback(self, actions: list[QAction]) -> None:
        """List the open project's playback keys (Space, J, K, L) so they can be found.

        The timeline's own actions are listed, not copies: a second action with the
        same shortcut would make Qt find the key ambiguous and do nothing.
        """
        self.playback.clear()
        self.playback.addActions(actions)
        self.playback.setEnabled(bool(actions))

    def fill_menus(self, bar: QMenuBar) -> None:
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new, self.new_from_story, self.open])
        file_menu.addMenu(self.recent)
        file_menu.addActions([self.save_as, self.close])
        file_menu.addSeparator()
        file_menu.addActions([self.import_story, self.import_images])
        file_menu.addAction(self.export)
        file_menu.addSeparator()
        file_menu.addAction(self.quit)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo, self.redo])
        edit_menu.addSeparator()
        edit_menu.addActions([self.add_panel, self.duplicate, self.delete])
        edit_menu.addActions([self.move_left, self.move_right, self.add_character])
        edit_menu.addSeparator()
        edit_menu.addActions([self.settings, self.models])
        render_menu = bar.addMenu("&Render")
        render_menu.addActions(
            [self.render_selected, self.render_all, self.render_stale, self.reroll]
        )
        render_menu.addActions([self.rerender_all, self.compare_takes])
        render_menu.addActions([self.build_identities, self.cancel])
        bar.addMenu(self.playback)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.reset_layout)
        view_menu.addMenu(self.theme_menu)

    def _action(
        self, text: str, standard: Key | None = None, shortcut: str | None = None
    ) -> QAction:
        """An action with the platform's standard shortcut, or ``shortcut`` where it has none."""
        action = QAction(text, self._parent)
        keys = QKeySequence.keyBindings(standard) if standard is not None else []
        if keys:
            action.setShortcuts(keys)
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
        return action
