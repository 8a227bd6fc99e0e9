"""What one change costs the window does not grow with the story (counted in SQL queries)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtWidgets import QApplication
from sqlalchemy import Engine, event

from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.commands.scenes import AddSceneCommand, EditSceneCommand
from storyboard_app.worker.host import EngineHost


def picture() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 18), (90, 120, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def make_story(folder: Path, panels: int) -> Path:
    """``panels`` panels, each with a picture, and a crossfade after the first."""
    image = picture()
    with ProjectStore.create(folder, f"{panels} panels") as store:
        ids = [store.scenes.add(f"panel {n + 1} by the sea").id for n in range(panels)]
        for number, scene_id in enumerate(ids):
            store.takes.add(scene_id, image, TakeParams(width=32, height=18, seed=number))
        store.transitions.set(ids[0], ids[1], kind="crossfade")
        return store.folder


@contextmanager
def counting_queries(folder: Path) -> Iterator[list[int]]:
    """``[n]``: the SQL statements run on the project in ``folder`` inside the block."""
    count = [0]

    def note(connection: Any, *_event: object) -> None:
        if Path(str(connection.engine.url.database)).parent == folder:
            count[0] += 1

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield count
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def change_costs(window: Any, folder: Path) -> tuple[int, int, int]:
    """Queries of opening ``folder``, of one inspector edit and of one finished render."""
    with counting_queries(folder) as opened:
        assert window.open_project(folder)
        settle()
    session = window.workspace.session
    watcher = window.workspace.watcher
    # The watcher looks every 500 ms; a look that happened to land inside a block would be
    # counted there by chance (the test failed now and then), so it looks where told to.
    watcher._timer.stop()
    scene = session.store.scenes.at(2)
    with counting_queries(folder) as edit:
        assert session.execute(EditSceneCommand(session, scene.id, caption="A gull."))
        settle()
        assert not watcher.poll(), "the watcher took the window's own edit for another program's"
    with counting_queries(folder) as render:
        session.store.takes.add(scene.id, picture(), TakeParams(width=32, height=18, seed=99))
        session.changed(scene_ids=[scene.id])
        settle()
        watcher.poll()
    return opened[0], edit[0], render[0]


def test_one_panel_change_costs_the_same_queries_at_10_and_200_panels(
    tmp_path: Path, make_window: Callable[[EngineHost], Any], fake_host: EngineHost
) -> None:
    small = change_costs(make_window(fake_host), make_story(tmp_path / "small", 10))
    large = change_costs(make_window(fake_host), make_story(tmp_path / "large", 200))
    assert min(small) > 0, "no query was counted: the counter missed the project"
    assert large[1] == small[1], "an inspector edit reads more of a longer story"
    assert large[2] == small[2], "a finished render reads more of a longer story"
    assert large[0] == small[0], "opening reads each panel on its own"


def structural_costs(window: Any, folder: Path) -> tuple[int, int]:
    """Queries of adding a panel and of undoing it, the watcher's next look included."""
    assert window.open_project(folder)
    settle()
    session = window.workspace.session
    watcher = window.workspace.watcher
    with counting_queries(folder) as added:
        assert session.execute(AddSceneCommand(session, "a gull on a post"))
        settle()
        assert not watcher.poll(), "the watcher took the window's own edit for another program's"
    with counting_queries(folder) as undone:
        session.undo_stack.undo()
        settle()
        assert not watcher.poll(), "the watcher took the window's own undo for another program's"
    return added[0], undone[0]


def test_adding_and_undoing_a_panel_cost_the_same_queries_at_10_and_200_panels(
    tmp_path: Path, make_window: Callable[[EngineHost], Any], fake_host: EngineHost
) -> None:
    small = structural_costs(make_window(fake_host), make_story(tmp_path / "small", 10))
    large = structural_costs(make_window(fake_host), make_story(tmp_path / "large", 200))
    assert min(small) > 0, "no query was counted: the counter missed the project"
    assert large == small, f"adding/undoing a panel reads more of a longer story: {small} {large}"
