"""Light and dark themes: Qt's Fusion style with a dark palette, or a light one.

Storyboard follows the system's colour scheme by default (Qt 6.5's
``QStyleHints.colorScheme()``, which also says when it changes): on a dark
system Fusion with the dark palette, on a light one the platform's own look.
The artist can fix it to light or dark under View > Theme or in Settings,
stored in the app's settings on this computer; both then use Fusion, which
draws the same on every platform and takes the palette whole. Where the
system's scheme is unknown, it counts as light.
"""

from __future__ import annotations

import enum

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

Role = QPalette.ColorRole
Group = QPalette.ColorGroup


class ThemeChoice(enum.StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"


THEME_LABELS = {
    ThemeChoice.SYSTEM: "Follow the system",
    ThemeChoice.LIGHT: "Light",
    ThemeChoice.DARK: "Dark",
}
# The dark palette: grey surfaces that keep pictures the brightest thing on screen.
DARK_COLORS: dict[QPalette.ColorRole, str] = {
    Role.Window: "#2b2b2e",
    Role.WindowText: "#e6e6e6",
    Role.Base: "#1f1f22",
    Role.AlternateBase: "#28282b",
    Role.ToolTipBase: "#3a3a3e",
    Role.ToolTipText: "#f0f0f0",
    Role.PlaceholderText: "#8c8c90",
    Role.Text: "#e6e6e6",
    Role.Button: "#353538",
    Role.ButtonText: "#e6e6e6",
    Role.BrightText: "#ff6b6b",
    Role.Light: "#4a4a4e",
    Role.Midlight: "#3e3e42",
    Role.Mid: "#2f2f33",
    Role.Dark: "#19191b",
    Role.Shadow: "#0d0d0e",
    Role.Highlight: "#3d7fd9",
    Role.HighlightedText: "#ffffff",
    Role.Link: "#6aa8ff",
    Role.LinkVisited: "#b48cff",
}
DARK_DISABLED: dict[QPalette.ColorRole, str] = {
    Role.WindowText: "#7a7a7e",
    Role.Text: "#7a7a7e",
    Role.ButtonText: "#7a7a7e",
    Role.Highlight: "#4a4a4e",
    Role.HighlightedText: "#9a9a9e",
}


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in DARK_COLORS.items():
        palette.setColor(role, QColor(color))
    for role, color in DARK_DISABLED.items():
        palette.setColor(Group.Disabled, role, QColor(color))
    return palette


def light_palette() -> QPalette:
    """Fusion's own light palette."""
    return QStyleFactory.create("Fusion").standardPalette()


def system_is_dark() -> bool:
    """Whether the system asks for a dark scheme (False where it says nothing)."""
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def resolve(choice: ThemeChoice) -> ThemeChoice:
    """LIGHT or DARK: what ``choice`` means now."""
    if choice is ThemeChoice.SYSTEM:
        return ThemeChoice.DARK if system_is_dark() else ThemeChoice.LIGHT
    return choice


def is_dark(palette: QPalette | None = None) -> bool:
    """Whether ``palette`` (the application's by default) draws light text on dark."""
    palette = palette if palette is not None else QGuiApplication.palette()
    return palette.color(Role.Window).lightness() < palette.color(Role.WindowText).lightness()


class ThemeManager(QObject):
    """Applies the chosen theme to the application, and again when the system's changes.

    ``applied`` tells widgets that colour themselves (beyond the palette) to redo it.
    """

    applied = Signal(str)  # the ThemeChoice shown now: light or dark

    def __init__(
        self,
        app: QApplication,
        choice: ThemeChoice = ThemeChoice.SYSTEM,
        parent: QObject | None = None,
        *,
        apply_now: bool = True,
    ) -> None:
        """``apply_now`` False: leave the application as it is until :meth:`apply`."""
        super().__init__(parent if parent is not None else app)
        self._app = app
        self.choice = choice
        self._applied = False
        # The platform's own look, kept for "follow the system" on a light system.
        self._native_style = app.style().name()
        self._native_palette = QPalette(app.palette())
        app.styleHints().colorSchemeChanged.connect(self._on_system_changed)
        if apply_now:
            self.apply(choice)

    def apply(self, choice: ThemeChoice) -> ThemeChoice:
        """Use ``choice`` from now on; returns what it resolved to (light or dark)."""
        self.choice = choice
        self._applied = True
        shown = resolve(choice)
        if shown is ThemeChoice.DARK:
            self._app.setStyle("Fusion")
            self._app.setPalette(dark_palette())
        elif choice is ThemeChoice.SYSTEM:
            self._app.setStyle(self._native_style)
            self._app.setPalette(self._native_palette)
        else:
            self._app.setStyle("Fusion")
            self._app.setPalette(light_palette())
        self.applied.emit(str(shown))
        return shown

    def _on_system_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self._applied and self.choice is ThemeChoice.SYSTEM:
            self.apply(self.choice)
