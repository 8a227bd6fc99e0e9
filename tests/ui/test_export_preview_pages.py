"""The Export dialog pages through the whole document, and its paper follows the locale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QLocale
from support import png_bytes

from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.export_dialog import ExportDialog


@pytest.fixture
def project(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "tale") as store:
        store.characters.add("Mara", "a woman in a green raincoat")
        for number in range(3):
            scene = store.scenes.add(f"[Mara] step {number}", caption=f"Step {number}.")
            image = png_bytes(("teal", "orange", "purple")[number], (64, 48))
            store.takes.add(scene.id, image, TakeParams(width=64, height=48))
        return store.folder


def shown(dialog: ExportDialog) -> Any:
    return dialog.preview.pixmap().toImage()


def test_the_preview_pages_through_every_page(qtbot: Any, project: Path) -> None:
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.pdf_form.layout_box.setCurrentText("single")  # a title page and three panels
    qtbot.waitUntil(lambda: dialog.preview_count == 4, timeout=10_000)
    assert dialog.page_label.text() == "Page 1 of 4"
    assert not dialog.previous_page.isEnabled() and dialog.next_page.isEnabled()
    cover = shown(dialog)
    dialog.next_page.click()
    qtbot.waitUntil(lambda: dialog.page_label.text() == "Page 2 of 4", timeout=10_000)
    qtbot.waitUntil(lambda: shown(dialog) != cover, timeout=10_000)
    second = shown(dialog)
    dialog.show_page(99)
    assert dialog.page_label.text() == "Page 4 of 4" and not dialog.next_page.isEnabled()
    qtbot.waitUntil(lambda: shown(dialog) not in (cover, second), timeout=10_000)
    dialog.kind_box.setCurrentIndex(dialog.kind_box.findData("mp4"))
    assert not dialog.page_label.isVisibleTo(dialog)


@pytest.mark.parametrize(
    ("locale", "paper"),
    [
        (QLocale(QLocale.Language.English, QLocale.Country.UnitedStates), "letter"),
        (QLocale(QLocale.Language.German, QLocale.Country.Germany), "a4"),
    ],
)
def test_the_paper_defaults_from_the_locale(
    qtbot: Any, project: Path, locale: QLocale, paper: str
) -> None:
    before = QLocale()
    QLocale.setDefault(locale)
    try:
        dialog = ExportDialog(project)
        qtbot.addWidget(dialog)
        assert dialog.pdf_form.page_box.currentText() == paper
    finally:
        QLocale.setDefault(before)
