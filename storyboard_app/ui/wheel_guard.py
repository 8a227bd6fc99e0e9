"""Value widgets take the mouse wheel only when focused, so scrolling a form never edits it.

A spin box, combo box or slider that passes under the cursor while the artist
scrolls a form would otherwise swallow the wheel and change its value. Guarded
widgets get ``Qt.StrongFocus`` (a wheel no longer focuses them) and ignore the
wheel until clicked or tabbed into; the wheel goes to the scroll area around
them instead (handed over here, since Qt passes only the wheel events that come
from the mouse itself on to parents).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QSlider,
    QWidget,
)

GUARDED_TYPES = (QAbstractSpinBox, QComboBox, QSlider)


class WheelGuard(QObject):
    """Event filter: a wheel over an unfocused value widget passes on to its parents."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Wheel
            and isinstance(watched, QWidget)
            and not watched.hasFocus()
        ):
            area = _scroll_area_around(watched)
            if area is None:
                event.ignore()
            else:
                QApplication.sendEvent(area.viewport(), event)
                event.accept()
            return True
        return super().eventFilter(watched, event)


def _scroll_area_around(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


_guard: WheelGuard | None = None


def _shared_guard() -> WheelGuard:
    global _guard
    if _guard is None:
        _guard = WheelGuard()
    return _guard


def guard_wheel(widget: QWidget) -> None:
    """Let ``widget`` take the wheel only while it has focus."""
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_shared_guard())


def guard_wheel_in(root: QWidget) -> None:
    """Guard every spin box, combo box and slider inside ``root`` (and ``root`` itself)."""
    widgets = [root, *root.findChildren(QWidget)]
    for widget in widgets:
        if isinstance(widget, GUARDED_TYPES):
            guard_wheel(widget)
