"""Issue #11 item 5: closing the window or opening another project mid-render asks first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton
from support_ui import statuses, wait_task

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.render_questions import RenderChoice
from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.jobs import JobStatus

STAY = "stayButton"


@pytest.fixture
def other_project(tmp_path: Path) -> Path:
    with ProjectStore.create(tmp_path / "other") as store:
        store.scenes.add("[NC] another story")
        return store.folder


def answer(monkeypatch: pytest.MonkeyPatch, button: str) -> list[str]:
    """Every question box is answered with ``button`` (an object name); the questions asked."""
    asked: list[str] = []

    def exec_(box: QMessageBox) -> int:
        asked.append(box.text())
        target = box.findChild(QPushButton, button)
        assert target is not None, f"no {button} in {[b.objectName() for b in box.buttons()]}"
        target.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return asked


def start_render(qtbot: Any, window: MainWindow, fake_engine: FakeEngine) -> Any:
    workspace = window.workspace
    assert workspace is not None
    fake_engine.step_delay = 0.2
    task = workspace.render_all()
    qtbot.waitUntil(lambda: "rendering" in statuses(workspace)[0], timeout=10_000)
    return task


def test_closing_without_a_render_asks_nothing(
    opened: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = answer(monkeypatch, STAY)
    assert opened.close()
    assert asked == []


def test_keep_window_open_lets_the_render_finish(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = start_render(qtbot, opened, fake_engine)
    asked = answer(monkeypatch, STAY)
    assert not opened.close()
    assert opened.isVisible() and len(asked) == 1
    assert "Render all panels is still running" in asked[0]
    fake_engine.step_delay = 0
    assert wait_task(qtbot, task).status is JobStatus.FINISHED


def test_cancel_render_and_close_cancels_it(
    qtbot: Any, opened: MainWindow, fake_engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = start_render(qtbot, opened, fake_engine)
    answer(monkeypatch, RenderChoice.CANCEL)
    assert opened.close()
    assert not opened.isVisible() and opened.workspace is None
    assert wait_task(qtbot, task).status is JobStatus.CANCELLED


@pytest.mark.parametrize("button", [RenderChoice.CANCEL, RenderChoice.BACKGROUND])
def test_opening_another_project_now_cancels_or_keeps_the_render(
    qtbot: Any,
    opened: MainWindow,
    fake_engine: FakeEngine,
    monkeypatch: pytest.MonkeyPatch,
    other_project: Path,
    button: RenderChoice,
) -> None:
    assert opened.workspace is not None
    first = opened.workspace.store.folder
    task = start_render(qtbot, opened, fake_engine)
    asked = answer(monkeypatch, button)
    assert opened.open_project(other_project)
    assert len(asked) == 1
    assert opened.workspace is not None and opened.workspace.store.folder == other_project
    fake_engine.step_delay = 0
    status = wait_task(qtbot, task).status
    with ProjectStore.open(first) as store:
        rendered = [scene.take_count for scene in store.scenes.list()]
    if button is RenderChoice.CANCEL:
        assert status is JobStatus.CANCELLED and rendered == [0, 0, 0, 0]
    else:
        assert status is JobStatus.FINISHED and rendered == [1, 1, 1, 1]


def test_wait_for_it_opens_the_other_project_when_the_render_finishes(
    qtbot: Any,
    opened: MainWindow,
    fake_engine: FakeEngine,
    monkeypatch: pytest.MonkeyPatch,
    other_project: Path,
) -> None:
    workspace = opened.workspace
    assert workspace is not None
    task = start_render(qtbot, opened, fake_engine)
    answer(monkeypatch, RenderChoice.WAIT)
    assert not opened.open_project(other_project)
    assert opened.workspace is workspace
    assert "when the render finishes" in opened.statusBar().currentMessage()
    assert wait_task(qtbot, task).status is JobStatus.FINISHED
    qtbot.waitUntil(lambda: opened.workspace is not workspace, timeout=5000)
    assert opened.workspace is not None and opened.workspace.store.folder == other_project


def test_dont_open_keeps_the_project_and_its_render(
    qtbot: Any,
    opened: MainWindow,
    fake_engine: FakeEngine,
    monkeypatch: pytest.MonkeyPatch,
    other_project: Path,
) -> None:
    workspace = opened.workspace
    task = start_render(qtbot, opened, fake_engine)
    answer(monkeypatch, STAY)
    assert not opened.open_project(other_project)
    assert not opened.projects.close_project()
    assert opened.workspace is workspace
    fake_engine.step_delay = 0
    assert wait_task(qtbot, task).status is JobStatus.FINISHED
