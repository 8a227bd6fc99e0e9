"""The identity-cache storage and disk budget are chosen in the settings dialog."""

from __future__ import annotations

from typing import Any

from storyboard_app.project.store import ProjectStore
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker.host import EngineHost


def test_cache_storage_and_budget_are_set_in_the_settings_dialog(
    qtbot: Any, run_async: Any, make_window: Any, fake_host: EngineHost, store: ProjectStore
) -> None:
    window: MainWindow = make_window(fake_host)
    assert window.open_project(store.folder)
    dialog = window.open_settings()
    assert dialog is not None
    qtbot.waitExposed(dialog)
    run_async(dialog.detect_gpu())
    assert dialog.cache_precision.currentData() == "fp16"
    assert dialog.cache_budget.value() == 20.0
    dialog.cache_precision.setCurrentIndex(dialog.cache_precision.findData("fp8"))
    dialog.cache_budget.setValue(7.5)
    dialog.accept()
    qtbot.waitUntil(lambda: window.workspace.store.settings().identity_cache_precision == "fp8")
    settings = window.workspace.store.settings()
    assert settings.identity_cache_budget_gb == 7.5
    assert settings.steps == store.settings().steps  # nothing else changed
