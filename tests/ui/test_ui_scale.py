"""What one change costs the window does not grow with the story (counted in SQL queries)."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
from sqlalchemy import Engine, event

from storyboard_app.export.frames import TimelineFrames
from storyboard_app.project.records import TakeParams
from storyboard_app.project.scenes import SceneRepository
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.takes import TakeRepository
from storyboard_app.ui.commands.scenes import AddSceneCommand, EditSceneCommand
from storyboard_app.ui.storyboard_model import PanelRole
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


def process_events_for(seconds: float, until: Callable[[], bool] = lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while not until() and time.monotonic() < deadline:
        QApplication.processEvents()


def open_story(window: Any, folder: Path, panels: int) -> Any:
    """``window`` opened on a new story of ``panels`` panels, drawn, its watcher looking
    only where told (a look landing inside a measured block would count there by chance);
    its workspace."""
    assert window.open_project(make_story(folder, panels))
    first_card = window.workspace.storyboard_model.index(0)
    process_events_for(10, until=lambda: first_card.data(PanelRole.IMAGE) is not None)
    # Its pictures are in; the repaint they asked for comes with a later window update.
    process_events_for(0.05)
    window.workspace.watcher._timer.stop()
    return window.workspace


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


@contextmanager
def counting_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often the views read the whole story, one panel, or decode a player frame."""
    reads: Counter[str] = Counter()

    def counted(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is threading.main_thread():  # not the engine's
                reads[name] += 1
            return original(*args, **kwargs)

        return wrapper

    for owner, attribute, name in (
        (SceneRepository, "list", "story"),
        (SceneRepository, "get", "panel"),
        (TakeRepository, "with_scene", "panel"),  # the panel and its takes, one transaction
        (TakeRepository, "by_scene", "all takes"),
        (TimelineFrames, "frame", "player frame"),
    ):
        monkeypatch.setattr(owner, attribute, counted(name, getattr(owner, attribute)))
    yield reads
    monkeypatch.undo()


def test_adding_or_undoing_a_panel_reads_the_story_once_for_every_view(
    tmp_path: Path,
    make_window: Callable[[EngineHost], Any],
    fake_host: EngineHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window(fake_host)
    workspace = open_story(window, tmp_path / "story", 30)
    session, watcher = workspace.session, workspace.watcher
    for step in ("add", "undo"):
        with counting_reads(monkeypatch) as reads:
            if step == "add":
                assert session.execute(AddSceneCommand(session, "a gull", position=1))
            else:
                session.undo_stack.undo()
            settle()
            assert not watcher.poll()
        # The storyboard, the portraits, the track and the player share one read; the
        # watcher compares stored rows, not records.
        assert reads["story"] == 1, f"{step}: the story was read {reads['story']} times"
        assert reads["all takes"] == 1, f"{step}: every take was read {reads['all takes']} times"
    assert len(window.workspace.storyboard_model.scene_ids()) == 30
    assert len(window.timeline_dock.panel.track.panel_items()) == 30


def test_a_finished_render_reads_its_panel_once_and_the_player_keeps_its_frame(
    tmp_path: Path,
    make_window: Callable[[EngineHost], Any],
    fake_host: EngineHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window(fake_host)
    workspace = open_story(window, tmp_path / "story", 30)
    session = workspace.session
    scene = session.store.scenes.at(20)
    with counting_reads(monkeypatch) as reads:
        session.store.takes.add(scene.id, picture(), TakeParams(width=32, height=18, seed=7))
        session.changed(scene_ids=[scene.id])
        settle()
        assert not workspace.watcher.poll()
    assert dict(reads) == {"panel": 1}, "a view read more than the one panel (or redrew frame 0)"
    take = session.store.scenes.get(scene.id).active_take_id
    assert workspace.storyboard_model.panel(19).take.id == take
    clip = window.timeline_dock.panel.track.panel_item(scene.id).clip
    assert clip.media == session.store.takes.get(take).media


class PaintCounter(QObject):
    """Counts the paint events of a widget."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_panel_change_repaints_only_its_own_card(
    tmp_path: Path, make_window: Callable[[EngineHost], Any], fake_host: EngineHost
) -> None:
    window = make_window(fake_host)
    workspace = open_story(window, tmp_path / "story", 60)
    session, view = workspace.session, workspace.storyboard
    paints = PaintCounter()
    view.viewport().installEventFilter(paints)
    far, near = session.store.scenes.at(55), session.store.scenes.at(1)
    assert not view.viewport().rect().intersects(view.visualRect(view.model().index(54, 0)))
    assert session.execute(EditSceneCommand(session, far.id, caption="Out of sight."))
    settle()
    assert paints.count == 0, "a change to a card out of sight repainted the grid"
    assert session.execute(EditSceneCommand(session, near.id, caption="In sight."))
    settle()
    assert paints.count >= 1, "the changed card in sight was not repainted"
    assert workspace.storyboard_model.index(0, 0).data() == "In sight."


def test_a_render_job_reads_no_whole_story_on_the_ui_thread(
    tmp_path: Path,
    make_window: Callable[[EngineHost], Any],
    fake_host: EngineHost,
    run_async: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The status bar names the job's panels, the render book lists them, each finished
    panel is shown: all from what the views already hold (a read of a thousand panels
    per job step stalled the window for a tenth of a second)."""
    folder = make_story(tmp_path / "story", 30)
    with ProjectStore.open(folder) as store:
        store.update_settings(model_source="fake")
    window = make_window(fake_host)
    assert window.open_project(folder)
    settle()
    workspace = window.workspace
    workspace.watcher._timer.stop()
    ids = workspace.storyboard_model.scene_ids()[3:6]
    workspace.storyboard.select_scenes(ids)
    with counting_reads(monkeypatch) as reads:
        outcome = run_async(workspace.render_selected())
        settle()
    assert len(outcome.take_ids) == 3
    assert reads["story"] == 0, f"the UI thread read the whole story {reads['story']} times"
    rows = [workspace.storyboard_model.panel(row) for row in range(3, 6)]
    assert [row.take.id for row in rows if row.take] == sorted(outcome.take_ids)


def test_adding_a_panel_keeps_the_ruler_and_shows_it_to_the_new_end(
    tmp_path: Path, make_window: Callable[[EngineHost], Any], fake_host: EngineHost
) -> None:
    from PySide6.QtWidgets import QGraphicsSimpleTextItem

    window = make_window(fake_host)
    assert window.open_project(make_story(tmp_path / "story", 40))
    settle()
    session, track = window.workspace.session, window.timeline_dock.panel.track

    def labels() -> list[Any]:
        return [i for i in track.scene().items() if isinstance(i, QGraphicsSimpleTextItem)]

    before = labels()
    before[0].parentItem().setData(0, "drawn before")
    assert session.execute(AddSceneCommand(session, "a gull on a post", position=1))
    settle()
    after = labels()
    assert [label.text() for label in after] == [label.text() for label in before]
    ruler = after[0].parentItem()
    assert ruler.data(0) == "drawn before", "the ruler was laid out again for one more panel"
    assert ruler.rect().width() == pytest.approx(track.x_of_frame(track.timeline.total_frames) + 40)


def test_the_timeline_kept_in_memory_matches_the_stored_one_after_each_change(
    tmp_path: Path,
    make_window: Callable[[EngineHost], Any],
    fake_host: EngineHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A caption or a picture restyles one clip; a new duration lays the story out again;
    either way the track shows what the exports lay out from the store."""
    from storyboard_app.project.camera import CameraMove, Framing
    from storyboard_app.project.timeline import build_timeline
    from storyboard_app.ui import timeline_model

    window = make_window(fake_host)
    assert window.open_project(make_story(tmp_path / "story", 12))
    settle()
    session, model = window.workspace.session, window.timeline_dock.panel.timeline
    first, second, fifth = (session.store.scenes.at(n) for n in (1, 2, 5))
    move = CameraMove(Framing(0.5, 0.5, 1.0), Framing(0.4, 0.4, 2.0), "linear")
    edits = [
        EditSceneCommand(session, fifth.id, caption="The gull lands."),
        EditSceneCommand(session, fifth.id, camera_move=move),
        EditSceneCommand(session, second.id, duration=3.25),  # the panels after it move
        EditSceneCommand(session, first.id, caption="A crossfade follows."),  # re-placed
    ]
    layouts: list[int] = []
    original = timeline_model.layout

    def counted(*args: Any) -> Any:
        layouts.append(1)
        return original(*args)

    monkeypatch.setattr(timeline_model, "layout", counted)
    model.timeline()  # as the track drew it after opening
    for command, laid_out in zip(edits, (0, 0, 1, 1), strict=True):
        layouts.clear()
        assert session.execute(command)
        settle()
        assert model.timeline() == build_timeline(session.store)
        assert len(layouts) == laid_out, f"{command.text()}: laid out {len(layouts)} times"
    session.store.takes.add(fifth.id, picture(), TakeParams(width=32, height=18, seed=5))
    session.changed(scene_ids=[fifth.id])
    settle()
    assert model.timeline() == build_timeline(session.store)
    assert model.panel_clip(fifth.id).media == build_timeline(session.store).panels[4].media


def test_the_views_refresh_while_another_connection_holds_the_write_lock(
    tmp_path: Path,
    make_window: Callable[[EngineHost], Any],
    fake_host: EngineHost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine thread stores takes on its own connection; the window's refresh after a
    finished panel only reads, so it must not wait for that write (it waited up to the
    busy timeout, 10 s, when every read took the write lock)."""
    import sqlite3
    import time

    from storyboard_app.project import store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)  # a wait fails fast, not in 10 s
    folder = make_story(tmp_path / "story", 12)
    window = make_window(fake_host)
    assert window.open_project(folder)
    settle()
    workspace = window.workspace
    session = workspace.session
    workspace.watcher._timer.stop()
    scene = session.store.scenes.at(3)
    session.store.scenes.update(scene.id, caption="Written, then announced.")
    writer = sqlite3.connect(folder / "project.sqlite", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # as a write in progress on another connection
        started = time.monotonic()
        session.changed(scene_ids=[scene.id])
        settle()
        workspace.watcher.poll()
        elapsed = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert elapsed < 3.0, f"the refresh waited {elapsed:.1f} s for another connection's write"
    assert workspace.storyboard_model.index(2, 0).data() == "Written, then announced."
