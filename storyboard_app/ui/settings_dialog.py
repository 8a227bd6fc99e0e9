"""The settings dialog: the project's model and render settings, and this machine's engine options.

The model source is checked in the background as it is typed or picked (the
engine's check reads only configs and file headers, never weights), so a bad
path is explained before any render. The low-VRAM preset defaults to the one
that fits the detected GPU (low up to 8 GB, medium up to 16 GB, high above).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.records import LoraRecord
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.styles import style_names
from storyboard_app.ui.lora_list import LoraListEditor
from storyboard_app.ui.wheel_guard import guard_wheel_in
from storyboard_app.worker.engine_api import JobError
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.jobs import DeviceInfo, EngineOptions, ModelCheck

T = TypeVar("T")
CHECK_DELAY_MS = 400
DEVICES = (("Automatic", ""), ("CPU", "cpu"), ("NVIDIA CUDA", "cuda"), ("Apple MPS", "mps"))
PRECISIONS = (("Automatic", ""), ("fp32", "fp32"), ("fp16", "fp16"), ("bf16", "bf16"))
CACHE_PRECISIONS = (("16-bit", "fp16"), ("8-bit, half the disk", "fp8"))
VRAM_PRESETS = (
    ("Automatic (from GPU memory)", ""),
    ("Low: CPU offload, VAE slicing and tiling", "low"),
    ("Medium: VAE slicing and tiling", "medium"),
    ("High: everything on the GPU", "high"),
)


@dataclass(frozen=True)
class SettingsChoice:
    project: ProjectSettings
    engine: EngineOptions


class ModelSourceField(QWidget):
    """A model source with file and folder pickers and a live check of what it points at."""

    checked = Signal()  # the status line shows a new answer

    def __init__(self, host: EngineHost, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self.edit = QLineEdit(source)
        self.edit.setPlaceholderText("hub id, diffusers folder, .safetensors file, or 'tiny'")
        self.file_button = QPushButton("File…")
        self.folder_button = QPushButton("Folder…")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.last_check: ModelCheck | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHECK_DELAY_MS)
        self._timer.timeout.connect(self.check_now)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.file_button)
        row.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.edit.textChanged.connect(lambda _text: self._timer.start())
        self.file_button.clicked.connect(self._pick_file)
        self.folder_button.clicked.connect(self._pick_folder)

    def source(self) -> str:
        return self.edit.text().strip()

    def check_now(self) -> asyncio.Task[None]:
        """Check the current source in the background; the status line shows the answer."""
        self._timer.stop()
        self.cancel()
        self.status.setText("Checking…")
        self._task = asyncio.ensure_future(self._check(self.source()))
        return self._task

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _check(self, source: str) -> None:
        if not source:
            self.last_check = None
            self.status.setText(
                "No model: everything but rendering works. Choose a model to render panels."
            )
            self.checked.emit()
            return
        check = await self._host.check_model(source)
        self.last_check = check
        if check.ok:
            self.status.setText(f"✓ {check.summary}")
        else:
            assert check.error is not None
            self.status.setText(f"✗ {check.error.message} {check.error.hint}")
        self.checked.emit()

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Model checkpoint", "", "Safetensors checkpoints (*.safetensors)"
        )
        if path:
            self.edit.setText(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Diffusers model folder")
        if path:
            self.edit.setText(path)


class SettingsDialog(QDialog):
    def __init__(
        self,
        host: EngineHost,
        project: ProjectSettings,
        engine: EngineOptions,
        parent: QWidget | None = None,
        *,
        loras: Sequence[LoraRecord] = (),
        characters: Sequence[str] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._host = host
        self._project = project
        self.model = ModelSourceField(host, project.model_source)
        self.device = _combo(DEVICES, engine.device or "")
        self.precision = _combo(PRECISIONS, engine.dtype or "")
        self.low_vram = _combo(VRAM_PRESETS, engine.low_vram or "")
        self.detected = QLabel("Detecting the GPU…")
        self.detected.setWordWrap(True)
        self.width_box = _size_spin(project.width)
        self.height_box = _size_spin(project.height)
        self.steps = _spin(1, 200, project.steps)
        consistency = project.consistency
        self.sampling_rate = _rate(consistency.sampling_rate)
        self.sampling_rate_high_res = _rate(consistency.sampling_rate_high_res)
        self.window_size = _spin(1, 64, consistency.window_size)
        self.identity_images = _spin(1, 8, consistency.identity_images)
        self.cache_precision = _combo(CACHE_PRECISIONS, project.identity_cache_precision)
        self.cache_budget = _gigabytes(project.identity_cache_budget_gb)
        self._build_steering(project, loras, characters)
        self.error = QLabel()
        self.error.setStyleSheet("color: #c0392b")
        self.error.setWordWrap(True)
        self._detect_task: asyncio.Task[None] | None = None
        # Long messages wrap to the dialog's width and the form scrolls when the screen
        # is too short for it, so messages never clip or squash the fields.
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._build()
        guard_wheel_in(self)
        self.device.currentIndexChanged.connect(lambda _row: self.detect_gpu())
        self.model.checked.connect(self.fit_to_contents)
        self.model.check_now()
        self.detect_gpu()

    def choice(self) -> SettingsChoice:
        """The settings as chosen; raises ValidationError for values that cannot render."""
        consistency = dataclasses.replace(
            self._project.consistency,
            sampling_rate=self.sampling_rate.value(),
            sampling_rate_high_res=self.sampling_rate_high_res.value(),
            window_size=self.window_size.value(),
            identity_images=self.identity_images.value(),
        )
        project = dataclasses.replace(
            self._project,
            model_source=self.model.source(),
            width=self.width_box.value(),
            height=self.height_box.value(),
            steps=self.steps.value(),
            identity_cache_precision=self.cache_precision.currentData(),
            identity_cache_budget_gb=self.cache_budget.value(),
            consistency=consistency,
            style=self.style.currentData(),
        )
        engine = EngineOptions(
            device=self.device.currentData() or None,
            dtype=self.precision.currentData() or None,
            low_vram=self.low_vram.currentData() or None,
        )
        return SettingsChoice(project, engine)

    def chosen_loras(self) -> list[LoraRecord]:
        """The project's LoRAs as edited in the LoRA list."""
        return self.lora_list.loras()

    def applied_to(self, current: ProjectSettings) -> ProjectSettings:
        """``current`` with only the settings changed in this dialog changed.

        Another program (the command line) may have changed other settings while
        the dialog was open; those are kept rather than put back to what the
        dialog was opened with.
        """
        return changed_onto(self._project, self.choice().project, current)

    def detect_gpu(self) -> asyncio.Task[None]:
        if self._detect_task is not None and not self._detect_task.done():
            self._detect_task.cancel()
        self._detect_task = asyncio.ensure_future(self._detect(self.device.currentData() or None))
        return self._detect_task

    def accept(self) -> None:
        try:
            self.choice()
        except StoryboardError as exc:
            self.error.setText(str(exc))
            self.fit_to_contents()
            return
        super().accept()

    def done(self, result: int) -> None:
        self.model.cancel()
        if self._detect_task is not None:
            self._detect_task.cancel()
        super().done(result)

    async def _detect(self, device: str | None) -> None:
        try:
            info = await self._host.device_info(device)
        except JobError as exc:
            self.detected.setText(f"Could not use this device: {exc.info.message}")
            return
        self.detected.setText(describe_device(info))
        self.fit_to_contents()

    def fit_to_contents(self) -> None:
        """Grow to show every field and a longer message whole, up to the screen's height;
        beyond that the content scrolls, and nothing is clipped or squashed."""
        content = self._scroll.widget()
        content.layout().activate()
        width = self._scroll.viewport().width()
        needed = content.minimumSizeHint().height()
        if content.hasHeightForWidth():
            needed = max(needed, content.heightForWidth(width))
        target = needed + self.height() - self._scroll.viewport().height()
        screen = self.screen()
        if screen is not None:
            target = min(target, screen.availableGeometry().height())
        if target > self.height():
            self.resize(self.width(), target)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.fit_to_contents()

    def _build_steering(
        self, project: ProjectSettings, loras: Sequence[LoraRecord], characters: Sequence[str]
    ) -> None:
        """The style chooser (the shipped styles) and the LoRA list."""
        self.style = _combo(tuple((name, name) for name in style_names()), project.style)
        self.lora_list = LoraListEditor(loras, characters)

    def _build(self) -> None:
        engine = QFormLayout()
        engine.addRow("Device", self.device)
        engine.addRow("Precision", self.precision)
        engine.addRow("Low-VRAM preset", self.low_vram)
        engine.addRow("", self.detected)
        render = QFormLayout()
        size = QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        render.addRow("Default size", size)
        render.addRow("Steps", self.steps)
        render.addRow("Style", self.style)
        consistency = QFormLayout()
        consistency.addRow("Sampling rate", self.sampling_rate)
        consistency.addRow("Sampling rate (high-res)", self.sampling_rate_high_res)
        consistency.addRow("Window (panels)", self.window_size)
        consistency.addRow("Identity images", self.identity_images)
        consistency.addRow("Identity cache storage", self.cache_precision)
        consistency.addRow("Identity cache disk budget", self.cache_budget)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        content = QWidget()
        fields = QVBoxLayout(content)
        fields.setContentsMargins(0, 0, 0, 0)
        fields.addWidget(_group("Model (this project)", self.model))
        fields.addWidget(_group("Engine (this computer)", engine))
        fields.addWidget(_group("Rendering (this project)", render))
        fields.addWidget(_group("Consistency (this project)", consistency))
        fields.addWidget(_group("LoRAs (this project)", self.lora_list))
        fields.addWidget(self.error)
        fields.addStretch(1)
        self._scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(buttons)


def changed_onto(start: T, chosen: T, current: T) -> T:
    """``current`` with each field that differs between ``start`` and ``chosen`` taken
    from ``chosen`` (nested settings field by field)."""
    changes: dict[str, object] = {}
    for field in dataclasses.fields(start):
        before, after = getattr(start, field.name), getattr(chosen, field.name)
        if before == after:
            continue
        if dataclasses.is_dataclass(after):
            after = changed_onto(before, after, getattr(current, field.name))
        changes[field.name] = after
    return dataclasses.replace(current, **changes)


def describe_device(info: DeviceInfo) -> str:
    if info.gpu_memory_gb is None:
        return f"Rendering on {info.device}: no GPU memory to save, presets do not apply."
    return (
        f"Detected {info.device} with {info.gpu_memory_gb:.1f} GB: "
        f"the automatic preset is “{info.suggested_preset}”."
    )


def _group(title: str, content: QWidget | QFormLayout) -> QGroupBox:
    box = QGroupBox(title)
    if isinstance(content, QWidget):
        layout = QVBoxLayout(box)
        layout.addWidget(content)
    else:
        box.setLayout(content)
    return box


def _combo(choices: tuple[tuple[str, str], ...], current: str) -> QComboBox:
    combo = QComboBox()
    for label, value in choices:
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


def _spin(low: int, high: int, value: int, *, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _size_spin(value: int) -> QSpinBox:
    """A side in pixels; its lowest value, 0, reads "auto" (the model's native size)."""
    box = _spin(0, 4096, value, step=8)
    box.setSpecialValueText("auto")
    return box


def _gigabytes(value: float) -> QDoubleSpinBox:
    """The project's identity-cache disk budget; least recently used caches go beyond it."""
    box = QDoubleSpinBox()
    box.setRange(0.5, 100_000.0)
    box.setDecimals(1)
    box.setSingleStep(5.0)
    box.setSuffix(" GB")
    box.setValue(value)
    return box


def _rate(value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 1.0)
    box.setSingleStep(0.05)
    box.setValue(value)
    return box
