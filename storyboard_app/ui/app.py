"""``storyboard-app [PROJECT]``: the desktop editor.

Starts Qt with qasync (Qt's event loop is the asyncio loop, so UI code can
``await`` engine jobs), starts the engine thread, opens PROJECT or shows the
start page, and on exit shuts the engine down cleanly before Qt goes away.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import qasync
from PySide6.QtWidgets import QApplication

from storyboard_app import __version__
from storyboard_app.logging_setup import configure_logging, user_log_file
from storyboard_app.ui.app_settings import APPLICATION, ORGANIZATION, AppSettings
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.theme import ThemeManager
from storyboard_app.worker.host import TORCH_WARM_UP, EngineHost, engine_by_name
from storyboard_app.worker.qt_compat import install_signal_refcount_fix

SHUTDOWN_TIMEOUT_MS = 30_000


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="storyboard-app", description="The Storyboard desktop editor."
    )
    parser.add_argument("project", nargs="?", type=Path, help="a NAME.storyboard folder to open")
    parser.add_argument("--version", action="version", version=f"storyboard-app {__version__}")
    parser.add_argument("--verbose", action="store_true", help="log debug messages too")
    return parser.parse_args(list(argv))


def build_window(
    project: Path | None,
    host: EngineHost,
    app_settings: AppSettings,
    theme: ThemeManager | None = None,
) -> MainWindow:
    window = MainWindow(host, app_settings, theme)
    if project is not None:
        window.open_project(project)
    return window


def launch_window(
    project: Path | None,
    host: EngineHost,
    app_settings: AppSettings,
    theme: ThemeManager | None = None,
) -> MainWindow:
    """The window, shown (on ``project`` when given), as the app starts.

    The engine thread starts importing torch as the host is made; its imports are held
    back until the event loop first waits for events, so the window (and a thousand-panel project
    in it) comes up first: see :mod:`storyboard_app.worker.warm_up`.
    """
    host.hold_foreground_until_idle()
    window = build_window(project, host, app_settings, theme)
    window.show()
    return window


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    # Before the engine thread imports the libraries; the log file keeps what the
    # terminal (if any) is spared: our information and the libraries' warnings.
    configure_logging(
        "verbose" if args.verbose else "normal",
        log_file=user_log_file(APPLICATION, ORGANIZATION),
        console_level=logging.WARNING,
    )
    install_signal_refcount_fix()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    app_settings = AppSettings.for_user()
    # Fusion with a light or dark palette, following the system unless the artist chose.
    theme = ThemeManager(app, app_settings.theme())
    host = EngineHost(engine_by_name(), warm_up=TORCH_WARM_UP)
    window = launch_window(args.project, host, app_settings, theme)
    try:
        with loop:
            loop.run_forever()
    finally:
        window.close()
        host.shutdown(SHUTDOWN_TIMEOUT_MS)
    return 0
