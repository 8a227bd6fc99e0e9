"""What one change costs the window as a story grows: time and SQL queries at 10/100/1000 panels.

Opens the real main window (offscreen, fake engine) on a project of N panels,
each with a picture, and measures on the UI thread, until the event loop is
idle again:

- ``open``: opening the project until every view is drawn;
- ``edit``: one inspector edit (a caption, through the undo command);
- ``render``: a finished render (a new take made active, as the render
  controller records it);
- ``add`` and ``undo``: adding a panel after the first one, then undoing it
  (the whole story is read again: panels moved), each with the project
  watcher's next look, which must not reload for the window's own commit.

Queries are counted with a SQLAlchemy ``before_cursor_execute`` event on
every engine. A change should cost a number of
queries that does not grow with the story.

Usage: ``python benchmarks/ui_scale.py [--panels 10 100 1000] [--repeat 5]``. The
last lines are ``UI single panel change at 1000 panels: X ms, N queries`` and
``open 1000-panel project: X ms, N queries``, then the ``add a panel`` and
``undo adding a panel`` lines.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from sqlalchemy import Engine, event

from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.commands.scenes import AddSceneCommand, EditSceneCommand
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineHost


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), color).save(buffer, "PNG")
    return buffer.getvalue()


def make_project(folder: Path, panels: int) -> Path:
    """A project of ``panels`` panels, each with a rendered picture as its active take."""
    picture = png((90, 120, 160))
    with ProjectStore.create(folder, f"{panels} panels") as store:
        for number in range(panels):
            scene = store.scenes.add(f"panel {number + 1}: the keeper climbs the stairs")
            store.takes.add(scene.id, picture, TakeParams(width=64, height=36, seed=number))
    return folder


def settle(app: QApplication) -> None:
    """Run the event loop until the deferred redraws (zero-interval timers) have run."""
    for _ in range(3):
        app.processEvents()


@contextmanager
def counting_queries() -> Iterator[list[int]]:
    """``[n]``: the SQL statements any engine ran inside the block."""
    count = [0]

    def note(*_event: object) -> None:
        count[0] += 1

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield count
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def measure(app: QApplication, action: Callable[[], object]) -> tuple[float, int]:
    """Milliseconds and SQL queries of ``action`` plus the redraws it triggers."""
    with counting_queries() as count:
        start = time.perf_counter()
        action()
        settle(app)
        elapsed = (time.perf_counter() - start) * 1000
    return elapsed, count[0]


def median_of(runs: list[tuple[float, int]]) -> tuple[float, int]:
    return statistics.median(r[0] for r in runs), round(statistics.median(r[1] for r in runs))


def one_size(
    app: QApplication, host: EngineHost, panels: int, repeat: int
) -> dict[str, tuple[float, int]]:
    """Open, edit and render-finished costs for a story of ``panels`` panels."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_project(Path(tmp) / "story", panels)
        settings = AppSettings(QSettings(str(Path(tmp) / "app.ini"), QSettings.Format.IniFormat))
        window = MainWindow(host, settings)
        window.show()
        results = {"open": measure(app, lambda: window.open_project(folder))}
        workspace = window.workspace
        assert workspace is not None
        session = workspace.session
        store = session.store
        middle = store.scenes.at(max(1, panels // 2))
        edits = [
            measure(
                app,
                lambda i=i: session.execute(
                    EditSceneCommand(session, middle.id, caption=f"take {i}")
                ),
            )
            for i in range(repeat)
        ]
        results["edit"] = median_of(edits)
        picture = png((200, 80, 40))

        def finish_render(seed: int) -> None:
            store.takes.add(middle.id, picture, TakeParams(width=64, height=36, seed=seed))
            session.changed(scene_ids=[middle.id])

        renders = [measure(app, lambda i=i: finish_render(1000 + i)) for i in range(repeat)]
        results["render"] = median_of(renders)

        def add() -> None:
            session.execute(AddSceneCommand(session, "a gull on the rail", position=1))
            settle(app)
            workspace.watcher.poll()

        def undo() -> None:
            session.undo_stack.undo()
            settle(app)
            workspace.watcher.poll()

        adds, undos = [], []
        for _ in range(repeat):
            adds.append(measure(app, add))
            undos.append(measure(app, undo))
        results["add"], results["undo"] = median_of(adds), median_of(undos)
        window.projects.close()
        window.close()
        settle(app)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv)
    host = EngineHost(lambda: FakeEngine(), preview_interval=0.0)
    table: dict[int, dict[str, tuple[float, int]]] = {}
    try:
        for panels in args.panels:
            table[panels] = one_size(app, host, panels, args.repeat)
    finally:
        host.shutdown(30_000)
    print(
        f"{'panels':>7} {'open ms':>9} {'open q':>7} {'edit ms':>8} {'edit q':>7} "
        f"{'render ms':>10} {'render q':>9} {'add ms':>7} {'add q':>6} {'undo ms':>8} {'undo q':>7}"
    )
    for panels, row in table.items():
        print(
            f"{panels:>7} {row['open'][0]:>9.1f} {row['open'][1]:>7} {row['edit'][0]:>8.1f} "
            f"{row['edit'][1]:>7} {row['render'][0]:>10.1f} {row['render'][1]:>9} "
            f"{row['add'][0]:>7.1f} {row['add'][1]:>6} {row['undo'][0]:>8.1f} {row['undo'][1]:>7}"
        )
    largest = max(table)
    edit_ms, edit_q = table[largest]["edit"]
    open_ms, open_q = table[largest]["open"]
    print(f"UI single panel change at {largest} panels: {edit_ms:.0f} ms, {edit_q} queries")
    print(f"open {largest}-panel project: {open_ms:.0f} ms, {open_q} queries")
    for key, what in (("add", "add a panel"), ("undo", "undo adding a panel")):
        ms, queries = table[largest][key]
        print(f"{what} at {largest} panels: {ms:.0f} ms, {queries} queries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
