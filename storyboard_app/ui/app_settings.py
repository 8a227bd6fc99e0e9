"""What the app remembers on this computer: recent projects, window layout, machine settings.

Project settings (model source, size, steps, consistency) live in the project;
what belongs to the machine (device, precision, memory preset) and to the user
(recent projects, where the window was) lives here, in QSettings. The QSettings
object is passed in, so tests use a file of their own and never the user's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from storyboard_app.ui.storyboard_view import DEFAULT_COLUMNS, MAX_COLUMNS
from storyboard_app.ui.theme import ThemeChoice
from storyboard_app.worker.jobs import EngineOptions

MAX_RECENT = 10
ORGANIZATION = "Storyboard"
APPLICATION = "storyboard-app"
LOW_VRAM_CHOICES = ("", "low", "medium", "high")
DEVICE_CHOICES = ("", "cpu", "cuda", "mps")
DTYPE_CHOICES = ("", "fp32", "fp16", "bf16")
LLM_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LlmSettings:
    """The optional local model for New from Story (OpenAI-compatible); unset when url is ""."""

    url: str = ""
    model: str = ""
    timeout_s: float = LLM_TIMEOUT_S

    @property
    def configured(self) -> bool:
        return bool(self.url and self.model)


class AppSettings:
    """Typed access to the app's QSettings; an empty string means "automatic"."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    @classmethod
    def for_user(cls) -> AppSettings:
        return cls(QSettings(ORGANIZATION, APPLICATION))

    def recent_projects(self) -> list[Path]:
        value = self._settings.value("recent/projects", [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [Path(p) for p in paths if p]

    def add_recent_project(self, folder: Path) -> None:
        folder = Path(folder)
        recent = [folder, *(p for p in self.recent_projects() if p != folder)]
        self._settings.setValue("recent/projects", [str(p) for p in recent[:MAX_RECENT]])

    def remove_recent_project(self, folder: Path) -> None:
        kept = [str(p) for p in self.recent_projects() if p != Path(folder)]
        self._settings.setValue("recent/projects", kept)

    def engine_options(self) -> EngineOptions:
        return EngineOptions(
            device=self._choice("engine/device") or None,
            dtype=self._choice("engine/dtype") or None,
            low_vram=self._choice("engine/low_vram") or None,
        )

    def set_engine_options(self, options: EngineOptions) -> None:
        self._settings.setValue("engine/device", options.device or "")
        self._settings.setValue("engine/dtype", options.dtype or "")
        self._settings.setValue("engine/low_vram", options.low_vram or "")

    def llm_settings(self) -> LlmSettings:
        """The story model's URL and name, a machine setting (the server runs on this computer)."""
        try:
            timeout = float(self._settings.value("story_llm/timeout_s", LLM_TIMEOUT_S))
        except (TypeError, ValueError):
            timeout = LLM_TIMEOUT_S
        timeout = timeout if timeout > 0 else LLM_TIMEOUT_S
        return LlmSettings(
            self._choice("story_llm/url").strip(), self._choice("story_llm/model").strip(), timeout
        )

    def set_llm_settings(self, llm: LlmSettings) -> None:
        self._settings.setValue("story_llm/url", llm.url.strip())
        self._settings.setValue("story_llm/model", llm.model.strip())
        self._settings.setValue("story_llm/timeout_s", llm.timeout_s)

    def model_paths(self) -> list[Path]:
        """Model folders and single files the artist added in the Models window."""
        value = self._settings.value("models/local_paths", [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [Path(p) for p in paths if p]

    def set_model_paths(self, paths: list[Path]) -> None:
        unique = list(dict.fromkeys(str(p) for p in paths))
        self._settings.setValue("models/local_paths", unique)

    def last_folder(self) -> Path:
        value = self._settings.value("files/last_folder", "")
        return Path(value) if value else Path.home()

    def set_last_folder(self, folder: Path) -> None:
        self._settings.setValue("files/last_folder", str(folder))

    def theme(self) -> ThemeChoice:
        """Light, dark, or following the system (the default, and for unknown values)."""
        value = self._choice("view/theme")
        return ThemeChoice(value) if value in set(ThemeChoice) else ThemeChoice.SYSTEM

    def set_theme(self, choice: ThemeChoice) -> None:
        self._settings.setValue("view/theme", str(choice))

    def grid_columns(self) -> int:
        """Cards per row the grid was last zoomed to, so the artist's zoom survives a
        restart; the default for a missing, non-numeric or out-of-range value."""
        try:
            columns = int(str(self._settings.value("view/grid_columns", DEFAULT_COLUMNS)))
        except ValueError:
            return DEFAULT_COLUMNS
        return columns if 1 <= columns <= MAX_COLUMNS else DEFAULT_COLUMNS

    def set_grid_columns(self, columns: int) -> None:
        self._settings.setValue("view/grid_columns", int(columns))

    def save_window(self, window: QMainWindow) -> None:
        self._settings.setValue("window/geometry", window.saveGeometry())
        self._settings.setValue("window/state", window.saveState())

    def clear_window(self) -> None:
        """Forget the saved window layout: the next start uses the default arrangement."""
        self._settings.remove("window/geometry")
        self._settings.remove("window/state")

    def restore_window(self, window: QMainWindow) -> bool:
        """Put the window and its docks back where they were; False on the first run."""
        geometry = self._settings.value("window/geometry")
        state = self._settings.value("window/state")
        restored = False
        if isinstance(geometry, QByteArray):
            restored = window.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            restored = window.restoreState(state) and restored
        return restored

    def sync(self) -> None:
        self._settings.sync()

    def _choice(self, key: str) -> str:
        return str(self._settings.value(key, "") or "")
