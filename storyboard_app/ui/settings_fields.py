"""The settings dialog's building blocks: value widgets, and form rows that explain themselves.

Every setting shows a one-line explanation under its field (and as its
tooltip), so the dialog can be read without the manual.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLayout,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

HINT_SCALE = 0.9


class ExplainedForm(QFormLayout):
    """A form whose rows each carry a short explanation below the field."""

    def __init__(self) -> None:
        super().__init__()
        self.hints: dict[str, QLabel] = {}
        self.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)

    def add(self, label: str, field: QWidget | QLayout, explanation: str) -> QLabel:
        """Add ``field`` under ``label`` with ``explanation``; returns the hint label."""
        column = QVBoxLayout()
        column.setSpacing(1)
        column.setContentsMargins(0, 0, 0, 4)
        if isinstance(field, QWidget):
            column.addWidget(field)
            field.setToolTip(explanation)
        else:
            column.addLayout(field)
            for index in range(field.count()):
                widget = field.itemAt(index).widget()
                if widget is not None and not widget.toolTip():
                    widget.setToolTip(explanation)
        hint = hint_label(explanation)
        column.addWidget(hint)
        self.addRow(label, column)
        self.hints[label] = hint
        return hint


def hint_label(text: str) -> QLabel:
    """Small, dimmed, wrapping text: readable on the light and the dark theme."""
    hint = QLabel(text)
    hint.setObjectName("settingHint")
    hint.setWordWrap(True)
    hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    font = QFont(hint.font())
    font.setPointSizeF(max(6.0, font.pointSizeF() * HINT_SCALE))
    hint.setFont(font)
    return hint


def combo(choices: tuple[tuple[str, str], ...], current: str) -> QComboBox:
    box = QComboBox()
    for label, value in choices:
        box.addItem(label, value)
    box.setCurrentIndex(max(0, box.findData(current)))
    return box


def spin(low: int, high: int, value: int, *, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def size_spin(value: int) -> QSpinBox:
    """A side in pixels; its lowest value, 0, reads "auto" (fitted to the model)."""
    box = spin(0, 4096, value, step=8)
    box.setSpecialValueText("auto")
    return box


def decimal(
    value: float, low: float, high: float, step: float, decimals: int = 2
) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def gigabytes(value: float) -> QDoubleSpinBox:
    """The project's identity-cache disk budget; least recently used caches go beyond it."""
    box = decimal(value, 0.5, 100_000.0, 5.0, decimals=1)
    box.setSuffix(" GB")
    return box


def rate(value: float) -> QDoubleSpinBox:
    return decimal(value, 0.0, 1.0, 0.05)
