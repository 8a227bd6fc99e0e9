"""UI fixtures: an asyncio loop on Qt's (qasync), engine hosts that must shut down, app settings.

Every test gets its own QSettings file, so the user's real settings are never
read or written; QStandardPaths' test mode moves anything Qt stores by itself
(file dialog history) away from the user's folders too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import QSettings, QStandardPaths

from storyboard_app.worker.fake_engine import FakeEngine
from storyboard_app.worker.host import EngineFactory, EngineHost, engine_by_name
from storyboard_app.worker.qt_compat import install_signal_refcount_fix

T = TypeVar("T")
QStandardPaths.setTestModeEnabled(True)
install_signal_refcount_fix()


@pytest.fixture
def async_loop(qapp: Any) -> Iterator[qasync.QEventLoop]:
    """Qt's event loop as the running asyncio loop, as ``storyboard-app`` runs it.

    pytest-qt spins Qt's loop (``waitSignal``, ``waitUntil``), so the asyncio loop
    is only marked as running, the way qasync does it. qasync's own
    ``already_running`` mode would stop by calling ``QApplication.exit()``, which
    makes every later Qt event loop of the test session return at once.
    """
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    yield loop
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def run_async(qtbot: Any, async_loop: qasync.QEventLoop) -> Callable[..., Any]:
    """Run a coroutine (or wait for a task) on the Qt loop; the UI stays live meanwhile."""

    def run(awaitable: Awaitable[T], timeout: int = 10_000) -> T:
        task = asyncio.ensure_future(awaitable, loop=async_loop)
        qtbot.waitUntil(task.done, timeout=timeout)
        return task.result()

    return run


@pytest.fixture
def settings_file(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "storyboard-test.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_host(async_loop: qasync.QEventLoop) -> Iterator[Callable[[EngineFactory], EngineHost]]:
    """Engine hosts for a test; each must shut down cleanly, leaving no thread running."""
    hosts: list[EngineHost] = []

    def make(factory: EngineFactory, **kwargs: Any) -> EngineHost:
        host = EngineHost(factory, **kwargs)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        assert host.shutdown(30_000), "the engine thread did not stop"
        assert not host.is_running()


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def fake_host(make_host: Callable[..., EngineHost], fake_engine: FakeEngine) -> EngineHost:
    return make_host(lambda: fake_engine, preview_interval=0.0)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tiny test models are built into a temporary cache, never the user's."""
    folder = tmp_path_factory.mktemp("storyboard-cache")
    previous = os.environ.get("STORYBOARD_CACHE_DIR")
    os.environ["STORYBOARD_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("STORYBOARD_CACHE_DIR", None)
    else:
        os.environ["STORYBOARD_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def torch_engine(tiny_cache: Path) -> Any:
    """One real engine for the session: torch is imported and the tiny model loaded once."""
    engine = engine_by_name()()
    yield engine
    engine.close()


class KeptWarm:
    """The session's engine as each test's host sees it: a host shutting down leaves it warm."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def close(self) -> None:
        """The session fixture closes the engine once, at the end."""


@pytest.fixture
def tiny_host(make_host: Callable[..., EngineHost], torch_engine: Any) -> EngineHost:
    """A host around the session's real engine, so the tiny model loads once per session."""
    engine = KeptWarm(torch_engine)
    return make_host(lambda: engine, preview_interval=0.0)


@pytest.fixture
def app_settings(settings_file: QSettings) -> Any:
    from storyboard_app.ui.app_settings import AppSettings

    return AppSettings(settings_file)


@pytest.fixture
def make_window(qtbot: Any, app_settings: Any, async_loop: qasync.QEventLoop) -> Iterator[Any]:
    """Main windows over a given host; closed (their project with them) after the test."""
    from storyboard_app.ui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(host: EngineHost) -> MainWindow:
        window = MainWindow(host, app_settings)
        # pytest-qt closes its widgets before this fixture's teardown runs: the project is
        # closed first (its leftover renders cancelled), so closing never asks and waits
        # (a render still running on a loaded machine hung the suite in that question).
        qtbot.addWidget(window, before_close_func=lambda shown: shown.projects.close())
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        # Closing asks before it cancels a running render; a test's leftovers are not asked about.
        window.projects.close()
        window.close()


@pytest.fixture
def opened(make_window: Any, fake_host: EngineHost, story_store: Any) -> Any:
    """A main window on the shared two-character story, rendering with the fake engine."""
    story_store.update_settings(model_source="fake")
    window = make_window(fake_host)
    assert window.open_project(story_store.folder)
    return window
