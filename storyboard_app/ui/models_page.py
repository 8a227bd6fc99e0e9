"""Settings > Models: what Storyboard can use, what is on this computer, and getting it.

The page shows the catalogue by job (size, licence, what it enables, present
or missing) and everything on disk a model can come from: the Hugging Face
cache and the folders and files the artist added. Download runs on a worker
thread (:class:`ModelDownload`) with progress, speed, time left and Cancel;
a gated licence shows a link to accept it and a token field that writes the
hub's own token file, never the project. Everything here belongs to the
computer, not a project, so the window opens without one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from storyboard_app.project.errors import StoryboardError
from storyboard_app.ui.app_settings import AppSettings
from storyboard_app.worker.model_library import (
    DownloadProgress,
    ModelDownload,
    ModelListing,
    ModelListingTask,
    ModelProblem,
    ModelRow,
    remove_model,
    save_token,
)

TOKENS_PAGE = "https://huggingface.co/settings/tokens"
CATALOGUE_COLUMNS = ("Name", "State", "Size", "Licence", "Enables")
DISK_COLUMNS = ("Where", "Model", "Size", "Files", "Catalogue")
NAME_ROLE = Qt.ItemDataRole.UserRole
_DOWNLOAD_COMMAND = re.compile(r"storyboard models download ([\w .\-]+)")


def names_to_download(text: str) -> list[str]:
    """The catalogue names a message's ``storyboard models download A B`` command names."""
    names: list[str] = []
    for match in _DOWNLOAD_COMMAND.finditer(text):
        names.extend(name for name in match.group(1).split() if name not in names)
    return names


class ModelsPage(QWidget):
    """The catalogue, the disk, downloads and the token; refreshes itself after each change."""

    listingChanged = Signal()  # a new listing is shown
    # "finished" with the names, "failed" with a ModelProblem, "cancelled" with the name
    downloadEnded = Signal(str, object)

    def __init__(self, app_settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._app_settings = app_settings
        self.listing: ModelListing | None = None
        self.download: ModelDownload | None = None
        self.last_progress: DownloadProgress | None = None
        self._listing_task: ModelListingTask | None = None
        self._waiting_names: list[str] = []
        self.confirm: Callable[[str], bool] = self._ask
        self.cache_label = QLabel("Reading the model cache…")
        self.cache_label.setWordWrap(True)
        self.catalogue = _tree(CATALOGUE_COLUMNS)
        self.catalogue.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.disk = _tree(DISK_COLUMNS)
        self.download_button = QPushButton("Download")
        self.remove_button = QPushButton("Remove")
        self.add_folder_button = QPushButton("Add Folder…")
        self.add_file_button = QPushButton("Add File…")
        self.forget_button = QPushButton("Forget")
        self.forget_button.setToolTip("Take the folder or file off this list (nothing is deleted).")
        self.progress = QProgressBar()
        self.progress_text = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.problem = _rich_label()
        self.problem.setStyleSheet("color: #c0392b")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("hf_… (a read token)")
        self.save_token_button = QPushButton("Save Token")
        self.token_status = _rich_label()
        self._build()
        self._connect()
        self._show_progress(False)
        self.refresh()

    def refresh(self) -> ModelListingTask:
        """Read the catalogue and the disk again in the background."""
        # No parent: the window may close (and be deleted) while the pool thread still
        # reads; the task outlives it and its answer goes nowhere.
        task = ModelListingTask(self._app_settings.model_paths())
        task.listed.connect(self.show_listing)
        task.failed.connect(self._show_problem_text)
        self._listing_task = task
        task.start()
        return task

    def show_listing(self, listing: ModelListing) -> None:
        self.listing = listing
        self.cache_label.setText(f"Hugging Face cache: {listing.cache}")
        self._fill_catalogue(listing)
        self._fill_disk(listing)
        self._show_token_status(listing)
        self._update_buttons()
        if self._waiting_names:
            names, self._waiting_names = self._waiting_names, []
            self.start_download(names)
        self.listingChanged.emit()

    def select(self, names: Sequence[str]) -> None:
        """Select the catalogue entries called ``names`` (the others are unselected)."""
        for item in self._entry_items():
            item.setSelected(item.data(0, NAME_ROLE) in names)

    def selected_names(self) -> list[str]:
        return [
            item.data(0, NAME_ROLE)
            for item in self.catalogue.selectedItems()
            if item.data(0, NAME_ROLE)
        ]

    def download_when_listed(self, names: Sequence[str]) -> None:
        """Select ``names`` and download the missing ones once the listing is read."""
        if self.listing is None:
            self._waiting_names = list(names)
        else:
            self.start_download(names)

    def start_download(self, names: Sequence[str] | None = None) -> ModelDownload | None:
        """Download the given (else the selected) entries that are missing, one after another."""
        wanted = list(names) if names is not None else self.selected_names()
        self.select(wanted)
        listing = self.listing
        missing = [n for n in wanted if listing and (row := listing.row(n)) and not row.present]
        if not missing or self.download is not None:
            return None
        self.problem.clear()
        self.note.clear()
        download = ModelDownload(missing)  # no parent: it outlives a closed window, like the task
        download.progressed.connect(self._show_download_progress)
        download.finished.connect(self._download_finished)
        download.failed.connect(self._download_failed)
        download.cancelled.connect(self._download_cancelled)
        self.download = download
        self._show_progress(True)
        self.progress_text.setText(f"Starting {', '.join(missing)}…")
        self.progress.setRange(0, 0)
        self._update_buttons()
        download.start()
        return download

    def cancel_download(self) -> None:
        if self.download is not None:
            self.progress_text.setText(f"Cancelling {self.download.current}…")
            self.cancel_button.setEnabled(False)
            self.download.cancel()

    def remove_selected(self) -> None:
        """Delete the selected entries' repositories from the cache, after asking."""
        for name in self.selected_names():
            row = self.listing.row(name) if self.listing else None
            if row is None or not row.size_on_disk:
                continue
            question = f"Delete {row.repo_id} ({_size(row.size_on_disk)}) from the cache?"
            if not self.confirm(question):
                continue
            try:
                _, others = remove_model(name)
            except (OSError, StoryboardError) as error:
                self._show_problem_text(f"{row.repo_id} could not be removed: {error}")
                continue
            also = f", with {', '.join(others)} (same repository)" if others else ""
            self.note.setText(f"Removed {name}{also}.")
        self.refresh()

    def save_token_now(self) -> None:
        try:
            path = save_token(self.token.text())
        except OSError as error:
            self._show_problem_text(f"The token could not be saved: {error}")
            return
        self.token.clear()
        self.token_status.setText(f"Saved in {html.escape(str(path))} (the hub's token file).")
        self.refresh()

    def add_paths(self, paths: Sequence[Path]) -> None:
        """Add model folders or files to the list shown under "On this computer"."""
        self._app_settings.set_model_paths([*self._app_settings.model_paths(), *paths])
        self.refresh()

    def forget_selected_paths(self) -> None:
        chosen = {item.text(1) for item in self.disk.selectedItems() if item.data(0, NAME_ROLE)}
        kept = [p for p in self._app_settings.model_paths() if str(p) not in chosen]
        self._app_settings.set_model_paths(kept)
        self.refresh()

    def _fill_catalogue(self, listing: ModelListing) -> None:
        selected = set(self.selected_names())
        self.catalogue.clear()
        for job in listing.jobs:
            rows = [r for r in listing.catalogue if r.job == job]
            if not rows:
                continue
            group = QTreeWidgetItem(self.catalogue, [job.capitalize()])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            for row in rows:
                item = QTreeWidgetItem(group, _catalogue_cells(row))
                item.setData(0, NAME_ROLE, row.name)
                item.setToolTip(0, f"{row.repo_id}\n{row.page}\n{row.download_command}")
                item.setToolTip(4, row.enables)
                item.setSelected(row.name in selected)
        self.catalogue.expandAll()

    def _fill_disk(self, listing: ModelListing) -> None:
        self.disk.clear()
        for disk in listing.on_disk:
            size = _size(disk.size_on_disk) if disk.exists else "missing"
            cells = [disk.kind, disk.name, size, str(disk.files), ", ".join(disk.entries) or "-"]
            item = QTreeWidgetItem(self.disk, cells)
            item.setData(0, NAME_ROLE, "" if disk.kind == "hub cache" else disk.name)

    def _show_token_status(self, listing: ModelListing) -> None:
        where = html.escape(listing.token_file)
        if listing.has_token:
            text = f"A token is set (HF_TOKEN or {where}); gated models use it."
        else:
            text = (
                f"No token. Gated models need one: create a read token at "
                f'<a href="{TOKENS_PAGE}">{TOKENS_PAGE}</a> and save it here ({where}).'
            )
        self.token_status.setText(text)

    def _show_download_progress(self, progress: DownloadProgress) -> None:
        if self.download is None:
            return
        self.last_progress = progress
        total = max(progress.total, progress.done, 1)
        scale = 1_000 if total > 2**31 - 1 else 1
        self.progress.setRange(0, total // scale)
        self.progress.setValue(progress.done // scale)
        self.progress_text.setText(progress.describe())

    def _download_finished(self, names: list[str]) -> None:
        self._end_download(f"Downloaded {', '.join(names)}.")
        self.downloadEnded.emit("finished", names)

    def _download_failed(self, problem: ModelProblem) -> None:
        self._end_download("")
        self.downloadEnded.emit("failed", problem)
        text = f"<b>{html.escape(problem.message)}</b><br>{html.escape(problem.hint)}"
        if problem.gated:
            text += (
                f'<br>Accept the licence at <a href="{problem.page}">{problem.page}</a>, save a '
                "token below, then press Download again."
            )
        self.problem.setText(text)

    def _download_cancelled(self, name: str) -> None:
        self._end_download(
            f"Download of {name} cancelled: files already complete are kept, and the next "
            "download fetches only the rest."
        )
        self.downloadEnded.emit("cancelled", name)

    def _end_download(self, text: str) -> None:
        self.download = None
        self._show_progress(False)
        self.note.setText(text)
        self._update_buttons()
        self.refresh()

    def _show_problem_text(self, text: str) -> None:
        self.problem.setText(html.escape(text))

    def _show_progress(self, visible: bool) -> None:
        self.progress.setVisible(visible)
        self.cancel_button.setVisible(visible)
        self.cancel_button.setEnabled(visible)
        self.progress_text.setVisible(visible)

    def _update_buttons(self) -> None:
        rows = [self.listing.row(n) for n in self.selected_names()] if self.listing else []
        idle = self.download is None
        self.download_button.setEnabled(idle and any(r and not r.present for r in rows))
        self.remove_button.setEnabled(idle and any(r and r.size_on_disk for r in rows))
        added = [i for i in self.disk.selectedItems() if i.data(0, NAME_ROLE)]
        self.forget_button.setEnabled(bool(added))

    def _entry_items(self) -> list[QTreeWidgetItem]:
        groups = [self.catalogue.topLevelItem(i) for i in range(self.catalogue.topLevelItemCount())]
        return [group.child(i) for group in groups for i in range(group.childCount())]

    def _connect(self) -> None:
        self.catalogue.itemSelectionChanged.connect(self._update_buttons)
        self.disk.itemSelectionChanged.connect(self._update_buttons)
        self.download_button.clicked.connect(lambda: self.start_download())
        self.remove_button.clicked.connect(self.remove_selected)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.save_token_button.clicked.connect(self.save_token_now)
        self.token.returnPressed.connect(self.save_token_now)
        self.add_folder_button.clicked.connect(self._pick_folder)
        self.add_file_button.clicked.connect(self._pick_file)
        self.forget_button.clicked.connect(self.forget_selected_paths)

    def _build(self) -> None:
        actions = QHBoxLayout()
        actions.addWidget(self.download_button)
        actions.addWidget(self.remove_button)
        actions.addStretch(1)
        progress = QHBoxLayout()
        progress.addWidget(self.progress, 1)
        progress.addWidget(self.cancel_button)
        catalogue = QVBoxLayout()
        catalogue.addWidget(self.catalogue, 1)
        catalogue.addLayout(actions)
        catalogue.addLayout(progress)
        catalogue.addWidget(self.progress_text)
        catalogue.addWidget(self.note)
        catalogue.addWidget(self.problem)
        token = QHBoxLayout()
        token.addWidget(self.token, 1)
        token.addWidget(self.save_token_button)
        token_box = QVBoxLayout()
        token_box.addLayout(token)
        token_box.addWidget(self.token_status)
        disk_buttons = QHBoxLayout()
        for button in (self.add_folder_button, self.add_file_button, self.forget_button):
            disk_buttons.addWidget(button)
        disk_buttons.addStretch(1)
        disk = QVBoxLayout()
        disk.addWidget(self.disk, 1)
        disk.addLayout(disk_buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.cache_label)
        layout.addWidget(_group("What Storyboard can use", catalogue), 3)
        layout.addWidget(_group("Hugging Face token (this computer)", token_box))
        layout.addWidget(_group("On this computer", disk), 2)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Model folder (diffusers)")
        if path:
            self.add_paths([Path(path)])

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Model file", "", "Safetensors checkpoints (*.safetensors)"
        )
        if path:
            self.add_paths([Path(path)])

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Remove model", question)
        return answer == QMessageBox.StandardButton.Yes


class ModelsDialog(QDialog):
    """The Models page in a window of its own; a running download is cancelled on close."""

    def __init__(self, app_settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.page = ModelsPage(app_settings, self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.page, 1)
        layout.addWidget(buttons)
        self.resize(900, 640)

    def done(self, result: int) -> None:
        self.page.cancel_download()
        super().done(result)


def _catalogue_cells(row: ModelRow) -> list[str]:
    if row.present:
        state = "present"
    elif row.size_on_disk:
        state = f"partial ({len(row.missing)} missing)"
    else:
        state = "missing"
    return [row.name, state, f"~{row.size_gb:.1f} GB", row.licence, row.enables]


def _tree(columns: Sequence[str]) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setColumnCount(len(columns))
    tree.setHeaderLabels(list(columns))
    tree.setRootIsDecorated(True)
    tree.setUniformRowHeights(True)
    header = tree.header()
    header.setStretchLastSection(True)
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return tree


def _rich_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setOpenExternalLinks(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    return label


def _group(title: str, layout: QVBoxLayout) -> QGroupBox:
    box = QGroupBox(title)
    box.setLayout(layout)
    return box


def _size(size: int) -> str:
    if size >= 10**8:
        return f"{size / 10**9:.2f} GB"
    return f"{size / 10**6:.1f} MB" if size >= 10**6 else f"{size / 10**3:.0f} kB"
