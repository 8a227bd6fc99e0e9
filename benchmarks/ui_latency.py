"""UI responsiveness while the engine renders: the worst wait of a timer in the UI thread.

Opens the real main window on a copy of the bundled example story
(``projects_example/lighthouse_keeper.toml``, nine panels), renders every panel
with the tiny random model on the engine thread, and meanwhile runs a 5 ms
QTimer in the UI thread. Each tick measures how late it fired; the worst
lateness is how long the window was unresponsive (target: 50 ms or less).

Two renders are measured: the first (engine start: importing torch, building
and loading the model, identity cache) and a warm one (model loaded, as in
everyday use). Panel cards, the inspector, previews and the status bar all
update live during both.

With ``--panels N`` the project is N panels instead (each with a picture as its
active take, as ``ui_scale.py`` makes them): the app is started on it as
``storyboard-app STORY`` starts (the engine thread starting beside the window),
timed until the event loop is idle; a warm render of six panels is measured as above, and then
one panel change (the median of inspector edits through the undo command and
finished renders, each until the event loop is idle, the project watcher's next
look included); last, the story is closed and opened again with the engine made.
The last lines are then ``worst UI latency during a warm
render, N panels: X ms`` (target 50), ``one panel change, N panels: X ms``
(target 16) and ``open N-panel project to interactive: X s`` (target 1.0).

Usage: ``python benchmarks/ui_latency.py [--panels N] [--steps 20] [--size 256] [--screenshot PATH]
[--mid-render] [--start-page PATH] [--theme light|dark|system]
[--timeline-screenshot PATH] [--camera-screenshot PATH]``
(``--screenshot docs/screenshot.png`` also rerolls panel 2 and saves the README's picture;
``--theme dark --mid-render --screenshot docs/screenshot-dark.png --start-page
docs/start-page-dark.png`` the dark ones: the window three quarters into the reroll, and the
start page listing the project with its thumbnail;
``--timeline-screenshot docs/timeline.png`` and ``--camera-screenshot docs/camera_move.png``
give panel 3 a camera move and save the timeline dock and the camera move dialog)
(offscreen unless ``QT_QPA_PLATFORM`` says otherwise; the tiny model is built in
a temporary cache unless ``STORYBOARD_CACHE_DIR`` is set). The last line is
``worst UI latency during a warm render: X ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import qasync
from PySide6.QtCore import QElapsedTimer, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication
from ui_scale import make_project as make_panels  # the panels the scale figures use
from ui_scale import png

from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.app import launch_window
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.ui.camera_dialog import camera_dialog_for, set_camera_move
from storyboard_app.ui.commands.scenes import EditSceneCommand
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.project_files import create_from_script, examples_folder
from storyboard_app.ui.theme import ThemeChoice, ThemeManager
from storyboard_app.worker.host import TORCH_WARM_UP, EngineHost, engine_by_name
from storyboard_app.worker.jobs import JobStatus
from storyboard_app.worker.qt_compat import install_signal_refcount_fix

TICK_MS = 5
TARGET_MS = 50.0
CHANGE_TARGET_MS = 16.0
OPEN_TARGET_S = 1.0
RENDERED_PANELS = 6  # the warm render of a large story: six panels, as a reroll of a page
CHANGES = 7  # panel changes of each kind measured (edits, finished renders); the median counts


@dataclass
class LatencyProbe:
    """A repeating UI-thread timer that records how late each tick fires."""

    interval_ms: int = TICK_MS
    lateness_ms: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(self.interval_ms)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()

    def start(self) -> None:
        self.lateness_ms.clear()
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        elapsed = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        self.lateness_ms.append(max(0.0, elapsed - self.interval_ms))

    def summary(self) -> str:
        values = sorted(self.lateness_ms)
        p99 = values[int(0.99 * (len(values) - 1))] if values else 0.0
        median = statistics.median(values) if values else 0.0
        return (
            f"worst {max(values, default=0.0):.1f} ms, p99 {p99:.1f} ms, "
            f"median {median:.1f} ms over {len(values)} ticks"
        )

    def worst(self) -> float:
        return max(self.lateness_ms, default=0.0)


def make_project(folder: Path, steps: int, size: int) -> Path:
    examples = examples_folder()
    if examples is None:
        sys.exit("The bundled examples (projects_example/) are not next to the package.")
    store = create_from_script(examples / "lighthouse_keeper.toml", folder / "lighthouse")
    store.update_settings(model_source="tiny", steps=steps, width=size, height=size)
    store.close()
    return folder / "lighthouse.storyboard"


def make_large_project(folder: Path, panels: int, steps: int, size: int) -> Path:
    """``panels`` panels, each with a picture as its active take (as ``ui_scale.py``
    makes them, in one transaction per panel as the app writes them), on the tiny model."""
    path = make_panels(folder / f"{panels}-panels.storyboard", panels)
    with ProjectStore.open(path) as store:
        store.update_settings(model_source="tiny", steps=steps, width=size, height=size)
    return path


async def measure_render(
    window: MainWindow, probe: LatencyProbe, label: str, selected: bool = False
) -> float:
    """Render every panel: Render All the first time, Re-render Every Panel after (Render
    All only renders panels without an up-to-date picture); ``selected``: render the
    selected panels both times."""
    workspace = window.workspace
    assert workspace is not None
    started = time.perf_counter()
    probe.start()
    if selected:
        task = workspace.render_selected()
    else:
        task = workspace.render_all() if label == "first" else workspace.rerender_all()
    assert task is not None
    outcome = await task
    probe.stop()
    seconds = time.perf_counter() - started
    if outcome.status is not JobStatus.FINISHED:
        sys.exit(f"The {label} render did not finish: {outcome.error}")
    print(f"{label} render ({len(outcome.take_ids)} panels, {seconds:.1f} s): {probe.summary()}")
    return probe.worst()


async def run(args: argparse.Namespace, window: MainWindow) -> float:
    probe = LatencyProbe()
    window.workspace.storyboard.select_scenes([window.workspace.storyboard_model.scene_ids()[1]])
    await measure_render(window, probe, "first")
    worst = await measure_render(window, probe, "warm")
    if args.screenshot:
        await take_screenshot(window, args.screenshot, args.mid_render)
    if args.timeline_screenshot or args.camera_screenshot:
        await take_timeline_screenshots(window, args.timeline_screenshot, args.camera_screenshot)
    if args.start_page:
        window.projects.close()
        await asyncio.sleep(0.5)
        window.grab().save(str(args.start_page))
        print(f"start page: {args.start_page}")
    return worst


async def run_large(window: MainWindow) -> float:
    """The first and the warm render of six panels near the top of a large story."""
    probe = LatencyProbe()
    workspace = window.workspace
    assert workspace is not None
    workspace.storyboard.select_scenes(
        workspace.storyboard_model.scene_ids()[1 : 1 + RENDERED_PANELS]
    )
    await measure_render(window, probe, "first", selected=True)
    return await measure_render(window, probe, "warm", selected=True)


def settle(app: QApplication) -> None:
    """Run the event loop until the deferred redraws (zero-interval timers) have run."""
    for _ in range(3):
        app.processEvents()


def timed(app: QApplication, action: object) -> float:
    """Milliseconds of ``action()`` and the redraws it triggers, until the loop is idle."""
    started = time.perf_counter()
    action()  # type: ignore[operator]
    settle(app)
    return (time.perf_counter() - started) * 1000


def panel_change_ms(app: QApplication, window: MainWindow) -> float:
    """The median of inspector edits (through the undo command) and finished renders (a
    new active take announced as the render controller does) of the middle panel, selected
    as when the artist edits it (the inspector and its takes show it), each with the
    project watcher's next look."""
    workspace = window.workspace
    assert workspace is not None
    session = workspace.session
    ids = workspace.storyboard_model.scene_ids()
    middle = ids[len(ids) // 2]
    image = png((200, 80, 40))
    workspace.storyboard.select_scenes([middle])

    def edit(number: int) -> None:
        session.execute(EditSceneCommand(session, middle, caption=f"take {number}"))
        workspace.watcher.poll()

    def finish_render(number: int) -> None:
        params = TakeParams(width=64, height=36, seed=1000 + number)
        session.store.takes.add(middle, image, params)
        session.changed(scene_ids=[middle])
        workspace.watcher.poll()

    settle(app)
    edits = [timed(app, lambda n=n: edit(n)) for n in range(CHANGES)]
    renders = [timed(app, lambda n=n: finish_render(n)) for n in range(CHANGES)]
    print(
        f"panel change at {len(ids)} panels (the panel selected): inspector edit median"
        f" {statistics.median(edits):.1f} ms (worst {max(edits):.1f}), finished render"
        f" median {statistics.median(renders):.1f} ms (worst {max(renders):.1f})"
    )
    return statistics.median(edits + renders)


async def take_screenshot(window: MainWindow, path: Path, mid_render: bool = False) -> None:
    """Reroll the selected panel once, so the take strip shows a choice, then grab the window;
    ``mid_render``: grab it three quarters into the reroll (live preview, status bar
    wording, time left)."""
    workspace = window.workspace
    assert workspace is not None
    reroll = workspace.render_selected(reroll=True)
    if mid_render:
        progress = window.job_status.progress
        while progress.value() < progress.maximum() * 3 // 4 and not (reroll and reroll.done()):
            await asyncio.sleep(0.05)
        window.grab().save(str(path))
    if reroll is not None:
        await reroll
    if not mid_render:
        await asyncio.sleep(1.0)
        window.grab().save(str(path))
    print(f"screenshot: {path}")


CAMERA_MOVE = CameraMove(Framing(0.5, 0.5, 1.0), Framing(0.62, 0.4, 2.2), "ease_in_out")


async def take_timeline_screenshots(
    window: MainWindow, timeline: Path | None, camera: Path | None
) -> None:
    """Give panel 3 a push-in, then grab the timeline dock and the camera move dialog."""
    workspace = window.workspace
    panel = window.timeline_dock.panel
    assert workspace is not None and panel is not None
    scene_id = workspace.storyboard_model.scene_ids()[2]
    set_camera_move(workspace.session, scene_id, CAMERA_MOVE)
    panel.player.seek(panel.player.frame_count // 3)
    await asyncio.sleep(1.0)
    if timeline is not None:
        window.timeline_dock.grab().save(str(timeline))
        print(f"screenshot: {timeline}")
    if camera is None:
        return
    dialog = camera_dialog_for(workspace.session, scene_id, window, workspace.thumbnails)
    dialog.resize(1000, 560)
    dialog.show()
    for _ in range(50):
        if dialog.canvas.has_picture():
            break
        await asyncio.sleep(0.1)
    dialog.preview.show_at(0.6)
    await asyncio.sleep(0.05)
    dialog.grab().save(str(camera))
    dialog.done(0)
    print(f"screenshot: {camera}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, help="a story of this many panels instead")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=256, help="panel size in pixels (square)")
    parser.add_argument("--screenshot", type=Path, help="save the window after the renders")
    parser.add_argument("--mid-render", action="store_true", help="grab during the reroll")
    parser.add_argument("--start-page", type=Path, help="then close the project and save that")
    parser.add_argument("--theme", choices=[str(c) for c in ThemeChoice], default="light")
    parser.add_argument("--timeline-screenshot", type=Path, help="save the timeline dock")
    parser.add_argument("--camera-screenshot", type=Path, help="save the camera move dialog")
    args = parser.parse_args()
    install_signal_refcount_fix()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="storyboard-latency-") as temp:
        folder = Path(temp)
        os.environ.setdefault("STORYBOARD_CACHE_DIR", str(folder / "cache"))
        settings = AppSettings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
        theme = ThemeManager(app, ThemeChoice(args.theme))
        if args.panels:
            return run_large_story(app, loop, args, folder, settings, theme)
        host = EngineHost(engine_by_name(), warm_up=TORCH_WARM_UP)
        window = MainWindow(host, settings, theme)
        window.resize(1600, 1000)
        window.show()
        window.open_project(make_project(folder, args.steps, args.size))
        try:
            with loop:
                worst = loop.run_until_complete(run(args, window))
        finally:
            window.close()
            host.shutdown()
    verdict = "within" if worst <= TARGET_MS else "over"
    print(f"worst UI latency during a warm render: {worst:.1f} ms ({verdict} {TARGET_MS:.0f} ms)")
    return 0


def run_large_story(
    app: QApplication,
    loop: qasync.QEventLoop,
    args: argparse.Namespace,
    folder: Path,
    settings: AppSettings,
    theme: ThemeManager,
) -> int:
    """``--panels N``: start the app on the story (as ``storyboard-app STORY`` does, the
    engine thread starting beside it), render six panels twice, change one panel, then
    open the story again with the engine made."""
    panels = args.panels
    path = make_large_project(folder, panels, args.steps, args.size)
    host = EngineHost(engine_by_name(), warm_up=TORCH_WARM_UP)
    window: MainWindow | None = None

    def launch() -> None:
        nonlocal window
        window = launch_window(path, host, settings, theme)
        window.resize(1600, 1000)

    try:
        open_s = timed(app, launch) / 1000
        assert window is not None
        with loop:
            worst = loop.run_until_complete(run_large(window))
        change_ms = panel_change_ms(app, window)
        window.projects.close()
        settle(app)
        reopen_s = timed(app, lambda: window.open_project(path)) / 1000
    finally:
        if window is not None:
            window.close()
        host.shutdown()
    print(f"open {panels}-panel project again, engine made: {reopen_s:.2f} s")
    report_large_story(panels, worst, change_ms, open_s)
    return 0


def report_large_story(panels: int, worst: float, change_ms: float, open_s: float) -> None:
    def verdict(value: float, target: float) -> str:
        return "within" if value <= target else "over"

    print(
        f"worst UI latency during a warm render, {panels} panels: {worst:.1f} ms"
        f" ({verdict(worst, TARGET_MS)} {TARGET_MS:.0f} ms)"
    )
    print(
        f"one panel change, {panels} panels: {change_ms:.1f} ms"
        f" ({verdict(change_ms, CHANGE_TARGET_MS)} {CHANGE_TARGET_MS:.0f} ms)"
    )
    print(
        f"open {panels}-panel project to interactive: {open_s:.2f} s"
        f" ({verdict(open_s, OPEN_TARGET_S)} {OPEN_TARGET_S:.1f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
