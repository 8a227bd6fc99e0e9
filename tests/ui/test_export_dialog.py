"""The Export dialog: live preview, export in the background, errors, cancel."""

from __future__ import annotations

from pathlib import Path

import pypdf
import pytest
from PySide6.QtCore import QThreadPool
from support import png_bytes

from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.export_dialog import ExportDialog, default_target
from storyboard_app.ui.export_jobs import ExportJob, ExportTask


@pytest.fixture
def project(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "tale") as store:
        store.characters.add("Mara", "a woman in a green raincoat")
        first = store.scenes.add("[Mara] climbs the stairs", caption="Up she goes.")
        store.scenes.add("[NC] the sea", caption="The storm.")
        image = png_bytes("teal", (64, 48))
        store.takes.add(first.id, image, TakeParams(width=64, height=48))
        return store.folder


def choose(dialog: ExportDialog, key: str) -> None:
    dialog.kind_box.setCurrentIndex(dialog.kind_box.findData(key))


def test_preview_shows_first_page_and_follows_the_format(qtbot, project: Path) -> None:
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(
        lambda: dialog.preview.pixmap() is not None and not dialog.preview.pixmap().isNull()
    )
    assert dialog.target.text().endswith("tale.pdf")
    first = dialog.preview.pixmap().toImage()
    choose(dialog, "mp4")
    assert dialog.target.text().endswith("tale.mp4")
    qtbot.waitUntil(lambda: dialog.preview.pixmap().toImage() != first, timeout=10_000)


def test_export_pdf_in_the_background(qtbot, project: Path, tmp_path: Path) -> None:
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    target = tmp_path / "out.pdf"
    dialog.target.setText(str(target))
    dialog.pdf_form.layout_box.setCurrentText("worksheet")
    dialog.start_export()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=20_000)
    assert "Wrote" in dialog.message.text() or str(target) in dialog.message.text()
    text = "".join(page.extract_text() for page in pypdf.PdfReader(target).pages)
    assert "Up she goes." in text


def test_bad_target_is_reported_and_nothing_written(qtbot, project: Path, tmp_path: Path) -> None:
    dialog = ExportDialog(project)
    qtbot.addWidget(dialog)
    dialog.target.setText(str(tmp_path / "missing" / "out.pdf"))
    dialog.start_export()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=10_000)
    assert "does not exist" in dialog.message.text()
    assert not (tmp_path / "missing").exists()
    dialog.target.setText("")
    dialog.start_export()
    assert "Choose where to save" in dialog.message.text()


def test_cancelled_export_leaves_no_file(qtbot, project: Path, tmp_path: Path) -> None:
    target = tmp_path / "cancelled.mp4"
    task = ExportTask(ExportJob(project, "mp4", target))
    task.cancel()
    with qtbot.waitSignal(task.signals.cancelled, timeout=10_000):
        QThreadPool.globalInstance().start(task)
    assert not target.exists()
    assert not list(tmp_path.glob(".cancelled*"))


def test_default_targets_sit_beside_the_project(project: Path) -> None:
    assert default_target(project, "edl") == project.parent / "tale.edl"
    assert default_target(project, "frames") == project.parent / "tale_frames"
