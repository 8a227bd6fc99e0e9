"""The README's pictures of the zoomed storyboard grid and of the take comparison.

Opens the real main window on a copy of the bundled lighthouse example, renders
every panel with the tiny random model (hence the noise), rerolls panel 2 three
times so it has four takes, zooms the grid to four cards a row and saves the
window, then opens Compare Takes four up and saves that.

Usage: ``python benchmarks/grid_screenshots.py [--steps 4] [--size 256] [--out docs]``
(offscreen unless ``QT_QPA_PLATFORM`` says otherwise). The last lines name the
two pictures written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication
from ui_latency import make_project  # the same example project the latency figures use

from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost, engine_by_name
from storyboard_app.worker.qt_compat import install_signal_refcount_fix


async def settle(seconds: float = 1.0) -> None:
    """Let thumbnails decode on their pool thread and the views repaint."""
    await asyncio.sleep(seconds)


def save(picture: QPixmap, path: Path) -> None:
    if not picture.save(str(path)):
        sys.exit(f"Could not write {path}.")


async def shoot(window: MainWindow, out: Path) -> None:
    workspace = window.workspace
    assert workspace is not None
    task = workspace.render_all()
    if task is None or (await task).error is not None:
        sys.exit("The render did not finish.")
    second = workspace.storyboard_model.scene_ids()[1]
    workspace.storyboard.select_scenes([second])
    for _ in range(3):
        reroll = workspace.render_selected(reroll=True)
        if reroll is not None:
            await reroll
    workspace.storyboard.set_columns(4)
    await settle()
    grid = out / "storyboard-grid.png"
    save(window.grab(), grid)
    dialog = workspace.compare_takes()
    if dialog is None:
        sys.exit("Panel 2 has fewer than two takes to compare.")
    dialog.resize(1200, 800)
    dialog.set_count(4)
    await settle(2.0)
    compare = out / "take-compare.png"
    save(dialog.grab(), compare)
    dialog.close()
    print(f"grid: {grid}")
    print(f"comparison: {compare}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    install_signal_refcount_fix()
    app = QApplication.instance() or QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.setdefault("STORYBOARD_CACHE_DIR", str(folder / "cache"))
        host = EngineHost(engine_by_name())
        settings = AppSettings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(host, settings)
        window.resize(1600, 1000)
        window.show()
        if not window.open_project(make_project(folder, args.steps, args.size)):
            sys.exit("The example project did not open.")
        try:
            with loop:
                loop.run_until_complete(shoot(window, args.out))
        finally:
            window.projects.close()
            host.shutdown(30_000)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
