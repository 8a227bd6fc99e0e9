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

from PySide6.QtCore import QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import QRegularExpressionValidator, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError, ValidationError
from storyboard_app.project.frame_sizes import ASPECT_LABELS, ASPECT_RATIOS, describe_size
from storyboard_app.project.records import LoraRecord
from storyboard_app.project.settings import AUTO_SIZE, ProjectSettings, auto_size
from storyboard_app.project.styles import style_names
from storyboard_app.ui.lora_list import LoraListEditor
from storyboard_app.ui.settings_fields import (
    ExplainedForm,
    combo,
    decimal,
    gigabytes,
    rate,
    size_spin,
    spin,
)
from storyboard_app.ui.theme import THEME_LABELS, ThemeChoice
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


SCHEDULERS = (
    ("Euler", "euler"),
    ("Euler ancestral", "euler_a"),
    ("DPM++ 2M", "dpmpp_2m"),
    ("DPM++ 2M Karras", "dpmpp_2m_karras"),
    ("DPM++ 2M SDE", "dpmpp_2m_sde"),
    ("DDIM", "ddim"),
    ("UniPC", "unipc"),
)
SCHEDULER_HINT = "How noise becomes a picture: Euler is steady; ancestral and SDE vary more."
DIALOG_WIDTH = 640


@dataclass(frozen=True)
class SettingsChoice:
    project: ProjectSettings
    engine: EngineOptions
    title: str = ""
    theme: ThemeChoice = ThemeChoice.SYSTEM


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
    """Every project setting and this computer's engine options, each explained in a line.

    Accepting applies what changed as one undoable edit (see ``MainWindow``).
    """

    def __init__(
        self,
        host: EngineHost,
        project: ProjectSettings,
        engine: EngineOptions,
        parent: QWidget | None = None,
        *,
        loras: Sequence[LoraRecord] = (),
        characters: Sequence[str] = (),
        title: str = "",
        theme: ThemeChoice = ThemeChoice.SYSTEM,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._host = host
        self._project = project
        self._title = title
        self.title = QLineEdit(title)
        self.model = ModelSourceField(host, project.model_source)
        self.device = combo(DEVICES, engine.device or "")
        self.precision = combo(PRECISIONS, engine.dtype or "")
        self.low_vram = combo(VRAM_PRESETS, engine.low_vram or "")
        self.theme = combo(tuple((THEME_LABELS[c], str(c)) for c in ThemeChoice), str(theme))
        self.detected = QLabel("Detecting the GPU…")
        self.detected.setWordWrap(True)
        self._build_picture(project)
        self._build_consistency(project)
        self.frame_rate = spin(1, 120, project.frame_rate)
        self._build_steering(project, loras, characters)
        self.error = QLabel()
        self.error.setStyleSheet("color: #e74c3c")
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
            share_between_panels=self.share_between_panels.isChecked(),
            blocks=parse_blocks(self.blocks.text()),
        )
        project = dataclasses.replace(
            self._project,
            model_source=self.model.source(),
            aspect_ratio=self.aspect.currentData(),
            width=self.width_box.value(),
            height=self.height_box.value(),
            steps=self.steps.value(),
            guidance=self.guidance.value(),
            scheduler=self.scheduler.currentData(),
            style=self.style.currentData(),
            style_preset=self.style_words.text().strip(),
            base_seed=parse_seed(self.seed.text()),
            freeu="on" if self.freeu.isChecked() else "off",
            frame_rate=self.frame_rate.value(),
            identity_cache_precision=self.cache_precision.currentData(),
            identity_cache_budget_gb=self.cache_budget.value(),
            consistency=consistency,
            shot_in_prompt=self.shot_in_prompt.isChecked(),
        )
        engine = EngineOptions(
            device=self.device.currentData() or None,
            dtype=self.precision.currentData() or None,
            low_vram=self.low_vram.currentData() or None,
        )
        title = self.title.text().strip() or self._title
        return SettingsChoice(project, engine, title, ThemeChoice(self.theme.currentData()))

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

    def title_changed(self) -> bool:
        return self.choice().title != self._title

    def detect_gpu(self) -> asyncio.Task[None]:
        if self._detect_task is not None and not self._detect_task.done():
            self._detect_task.cancel()
        self._detect_task = asyncio.ensure_future(self._detect(self.device.currentData() or None))
        return self._detect_task

    def accept(self) -> None:
        if self.lora_list.is_busy():
            self.error.setText("A LoRA file is still being checked; OK is back once it is done.")
            return
        try:
            self.choice()
        except StoryboardError as exc:
            self.error.setText(str(exc))
            self.fit_to_contents()
            return
        super().accept()

    def done(self, result: int) -> None:
        self.model.cancel()
        self.lora_list.stop()
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

    def _build_picture(self, project: ProjectSettings) -> None:
        """Shape and size, and what each picture is made with."""
        self.aspect = combo(aspect_choices(project.aspect_ratio), project.aspect_ratio)
        self.width_box = size_spin(project.width)
        self.height_box = size_spin(project.height)
        self.fit_button = QPushButton("Fit to the model")
        self.fit_button.setToolTip("Both sides auto: the aspect ratio at the model's size.")
        self.size_summary = QLabel()
        self.size_summary.setWordWrap(True)
        self.steps = spin(1, 200, project.steps)
        self.guidance = decimal(project.guidance, 0.0, 50.0, 0.5, decimals=1)
        self.scheduler = combo(SCHEDULERS, project.scheduler)
        self.style_words = QLineEdit(project.style_preset)
        self.style_words.setPlaceholderText("e.g. pencil sketch, monochrome")
        self.seed = QLineEdit(str(project.base_seed))
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{1,19}")))
        self.freeu = QCheckBox("FreeU")
        self.freeu.setChecked(project.freeu == "on")
        self.aspect.currentIndexChanged.connect(lambda _row: self.fit_size_to_model())
        self.fit_button.clicked.connect(self.fit_size_to_model)
        for box in (self.width_box, self.height_box):
            box.valueChanged.connect(lambda _value: self._show_size())
        self._show_size()

    def fit_size_to_model(self) -> None:
        """Both sides auto, so the size follows the aspect ratio and the model."""
        self.width_box.setValue(AUTO_SIZE)
        self.height_box.setValue(AUTO_SIZE)
        self._show_size()

    def _show_size(self) -> None:
        width, height, aspect = self.width_box.value(), self.height_box.value(), self.aspect
        sizes = [
            f"{name} {describe_size(*auto_size(width, height, aspect.currentData(), arch))}"
            for name, arch in (("SDXL", "sdxl"), ("SD 1.5", "sd15"))
        ]
        self.size_summary.setText("Renders " + "; ".join(sizes) + ".")

    def _build_consistency(self, project: ProjectSettings) -> None:
        consistency = project.consistency
        self.sampling_rate = rate(consistency.sampling_rate)
        self.sampling_rate_high_res = rate(consistency.sampling_rate_high_res)
        self.window_size = spin(1, 64, consistency.window_size)
        self.identity_images = spin(1, 8, consistency.identity_images)
        self.share_between_panels = QCheckBox("Panels see each other")
        self.share_between_panels.setChecked(consistency.share_between_panels)
        self.blocks = QLineEdit(", ".join(consistency.blocks))
        self.cache_precision = combo(CACHE_PRECISIONS, project.identity_cache_precision)
        self.cache_budget = gigabytes(project.identity_cache_budget_gb)

    def _build_steering(
        self, project: ProjectSettings, loras: Sequence[LoraRecord], characters: Sequence[str]
    ) -> None:
        """The style chooser (the shipped styles) and the LoRA list."""
        self.style = combo(tuple((name, name) for name in style_names()), project.style)
        self.shot_in_prompt = QCheckBox("Start each panel's prompt with its shot type")
        self.shot_in_prompt.setChecked(project.shot_in_prompt)
        self.lora_list = LoraListEditor(loras, characters)

    def _build(self) -> None:
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.lora_list.busy_changed.connect(ok.setDisabled)
        self.ok_button = ok
        content = QWidget()
        fields = QVBoxLayout(content)
        fields.setContentsMargins(0, 0, 0, 0)
        fields.addWidget(_group("Project", self._project_form()))
        fields.addWidget(_group("Picture (this project)", self._picture_form()))
        fields.addWidget(_group("Consistency (this project)", self._consistency_form()))
        fields.addWidget(_group("Animatic (this project)", self._animatic_form()))
        fields.addWidget(_group("LoRAs (this project)", self.lora_list))
        fields.addWidget(_group("This computer", self._computer_form()))
        fields.addWidget(self.error)
        fields.addStretch(1)
        self._scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(buttons)
        self.resize(max(self.width(), DIALOG_WIDTH), self.height())

    def _project_form(self) -> ExplainedForm:
        form = ExplainedForm()
        form.add("Title", self.title, "The story's name: on the start page, the window, exports.")
        form.add(
            "Model",
            self.model,
            "A hub id already downloaded, a diffusers folder or an SDXL / SD 1.5 .safetensors "
            "file; tiny is a random test model.",
        )
        return form

    def _picture_form(self) -> ExplainedForm:
        form = ExplainedForm()
        form.add("Aspect ratio", self.aspect, "The frame's shape; an auto size is fitted to it.")
        size = QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        size.addWidget(self.fit_button)
        size.addStretch(1)
        form.add(
            "Size",
            size,
            "auto fits the shape to the model (SDXL about 1 MP, SD 1.5 about 0.26 MP); "
            "fixed sides are multiples of 8.",
        )
        form.addRow("", self.size_summary)
        form.add("Steps", self.steps, "Denoising steps per picture: more is finer and slower.")
        form.add(
            "Guidance",
            self.guidance,
            "How strictly pictures follow the prompt: 5-8 suits SDXL; too high looks harsh.",
        )
        form.add("Scheduler", self.scheduler, SCHEDULER_HINT)
        form.add("Style", self.style, "A named template around every prompt, with a negative.")
        form.add("Style words", self.style_words, "Words added to every panel and identity.")
        form.add(
            "Shot type",
            self.shot_in_prompt,
            'A close-up panel renders "close-up shot, …" (its shot type leads its prompt).',
        )
        form.add(
            "Seed", self.seed, "The story's base seed: which tokens panels share is drawn from it."
        )
        form.add("Detail", self.freeu, "FreeU re-weights the UNet for richer detail (off: as is).")
        return form

    def _consistency_form(self) -> ExplainedForm:
        form = ExplainedForm()
        form.add(
            "Sampling rate",
            self.sampling_rate,
            "Share of the other images' tokens a picture sees: more alike, less free (0.3-0.7).",
        )
        form.add(
            "Sampling rate (high-res)",
            self.sampling_rate_high_res,
            "The same at the UNet's finer level, which carries faces and clothes.",
        )
        form.add(
            "Window (panels)",
            self.window_size,
            "Panels denoised in one batch on a GPU (with sharing on: the panels that meet).",
        )
        form.add(
            "Identity images",
            self.identity_images,
            "Portraits per character built together into its identity (2 is the paper's).",
        )
        form.add(
            "Share between panels",
            self.share_between_panels,
            "Panels naming the same characters also see each other (a panel then depends "
            "on its window).",
        )
        form.add(
            "Consistent blocks",
            self.blocks,
            "UNet blocks whose self-attention is shared, comma-separated (up_blocks: all up).",
        )
        form.add(
            "Identity cache storage",
            self.cache_precision,
            "How saved identities are stored: 8-bit halves the disk at ~2% error.",
        )
        form.add(
            "Identity cache disk budget",
            self.cache_budget,
            "Older identity caches are deleted beyond this, least recently used first.",
        )
        return form

    def _animatic_form(self) -> ExplainedForm:
        form = ExplainedForm()
        form.add("Frame rate", self.frame_rate, "Frames per second of the animatic and videos.")
        return form

    def _computer_form(self) -> ExplainedForm:
        form = ExplainedForm()
        form.add("Device", self.device, "Where renders run: automatic picks CUDA, MPS, or CPU.")
        form.add("Precision", self.precision, "Number format on the device: fp16 halves memory.")
        form.add(
            "Low-VRAM preset",
            self.low_vram,
            "Trades speed for GPU memory; automatic follows the detected GPU.",
        )
        form.addRow("", self.detected)
        form.add("Theme", self.theme, "Light, dark, or as the system is set (also View > Theme).")
        return form


def aspect_choices(current: str) -> tuple[tuple[str, str], ...]:
    """The usual shapes, and the project's own when it is another."""
    choices = tuple((ASPECT_LABELS[ratio], ratio) for ratio in ASPECT_RATIOS)
    if current not in ASPECT_RATIOS:
        choices += ((f"{current} (this project's)", current),)
    return choices


def parse_seed(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationError(
            f"Seed {text.strip()!r} is not a number.", "Use a whole number, e.g. 1234."
        ) from None


def parse_blocks(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


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
