"""Settings > Models against a hub on 127.0.0.1: listing, download with progress, cancel, errors.

The fake hub serves a tiny SD 1.5 pipeline under the catalogue's real ``sd15``
repository (``hub_fixtures``); no test reaches the real hub.
"""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fake_hub_server import DECOYS, SD15_REPO, Breakage, FakeHub
from hub_fixtures import fake_hub, tiny_sd15_repo
from huggingface_hub import constants as hub_constants
from PySide6.QtCore import Qt

from storyboard_app.engine.models.hub import hub_cache_dir
from storyboard_app.ui.message_bar import FixAction, UserMessage
from storyboard_app.ui.models_page import ModelsDialog, ModelsPage, names_to_download
from storyboard_app.worker import model_library
from storyboard_app.worker.jobs import ErrorInfo, ErrorKind
from storyboard_app.worker.model_library import CANCEL_WAIT_S, ModelDownload, read_listing

__all__ = ["fake_hub", "tiny_sd15_repo"]
UNET = "unet/diffusion_pytorch_model.fp16.safetensors"
WAIT_MS = 30_000


def listed_page(qtbot: Any, app_settings: Any) -> ModelsPage:
    page = ModelsPage(app_settings)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.listingChanged, timeout=WAIT_MS):
        pass
    return page


def relisted(qtbot: Any, page: ModelsPage, outcome: str) -> Any:
    """Wait for the running download to end with ``outcome``, then for the listing after it.

    The page's own signal is waited for, not the download's: a download that
    fails at once may have signalled before a waiter could connect to it.
    """
    with (
        qtbot.waitSignal(page.listingChanged, timeout=WAIT_MS),
        qtbot.waitSignal(page.downloadEnded, timeout=WAIT_MS) as blocker,
    ):
        pass
    ended, payload = blocker.args
    assert ended == outcome, payload
    return payload


def entry_cells(page: ModelsPage, name: str) -> list[str]:
    for group in range(page.catalogue.topLevelItemCount()):
        parent = page.catalogue.topLevelItem(group)
        for index in range(parent.childCount()):
            item = parent.child(index)
            if item.text(0) == name:
                return [item.text(column) for column in range(item.columnCount())]
    raise AssertionError(f"{name} is not listed")


def test_the_page_lists_the_catalogue_by_job_and_what_is_on_disk(
    qtbot: Any, app_settings: Any, fake_hub: FakeHub, tmp_path: Path
) -> None:
    folder = tmp_path / "my-model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "weights.safetensors").write_bytes(b"x" * 5000)
    app_settings.set_model_paths([folder, tmp_path / "gone.safetensors"])
    page = listed_page(qtbot, app_settings)

    count = page.catalogue.topLevelItemCount()
    groups = [page.catalogue.topLevelItem(i).text(0) for i in range(count)]
    assert groups == ["Panels", "Transitions", "Reference pictures"]
    _, state, size, licence, enables = entry_cells(page, "sd15")
    assert (state, size, licence) == ("missing", "~2.1 GB", "CreativeML Open RAIL-M")
    assert "base of every generated transition" in enables
    assert entry_cells(page, "motion-adapter")[3] == "Apache-2.0"
    assert str(tmp_path / "hf_home" / "hub") in page.cache_label.text()
    disk = [[page.disk.topLevelItem(i).text(c) for c in range(5)] for i in range(2)]
    assert disk[0] == ["folder", str(folder), "5 kB", "1", "-"]
    assert disk[1][0:3] == ["file", str(tmp_path / "gone.safetensors"), "missing"]
    assert "No token" in page.token_status.text()
    assert not page.download_button.isEnabled() and not page.remove_button.isEnabled()


def test_download_shows_progress_then_the_model_is_present_and_removable(
    qtbot: Any, app_settings: Any, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_constants, "DOWNLOAD_CHUNK_SIZE", 1000)
    page = listed_page(qtbot, app_settings)
    page.select(["sd15"])
    assert page.download_button.isEnabled()
    download = page.start_download()
    assert isinstance(download, ModelDownload)
    assert page.cancel_button.isVisible() or not page.isVisible()
    assert not page.download_button.isEnabled()
    assert relisted(qtbot, page, "finished") == ["sd15"]

    last = page.last_progress
    assert last is not None and last.name == "sd15" and last.done == last.total > 0
    assert entry_cells(page, "sd15")[1] == "present"
    assert page.note.text() == "Downloaded sd15."
    fetched = {path for method, path, _ in fake_hub.requests if method == "GET"}
    assert not any(path.endswith(decoy) for path in fetched for decoy in DECOYS)
    cached = page.disk.topLevelItem(0)
    assert [cached.text(0), cached.text(1), cached.text(4)] == ["hub cache", SD15_REPO, "sd15"]

    page.confirm = lambda question: SD15_REPO in question
    page.select(["sd15"])
    assert page.remove_button.isEnabled()
    with qtbot.waitSignal(page.listingChanged, timeout=WAIT_MS):
        page.remove_selected()
    assert entry_cells(page, "sd15")[1] == "missing"
    assert page.note.text() == "Removed sd15."


def test_progress_tells_speed_and_time_left() -> None:
    from storyboard_app.worker.model_library import DownloadProgress

    progress = DownloadProgress("sd15", 50_000_000, 2_050_000_000, 4.0)
    assert progress.describe() == "sd15: 50 of 2050 MB, 12.5 MB/s, 2 min 40 s left"
    assert DownloadProgress("sd15", 0, 100, 0.0).describe() == "sd15: 0 of 0 MB"


def snapshot_files(cache: Path) -> set[str]:
    """The files the cache holds complete, by their path in the repository."""
    snapshots = list(cache.glob("models--*/snapshots/*"))
    return {p.relative_to(s).as_posix() for s in snapshots for p in s.rglob("*") if p.is_file()}


def test_cancel_midway_stops_the_download_and_the_next_one_keeps_the_finished_files(
    qtbot: Any, app_settings: Any, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import file_download

    monkeypatch.setattr(hub_constants, "DOWNLOAD_CHUNK_SIZE", 1000)
    monkeypatch.setattr(hub_constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.5)
    monkeypatch.setattr(file_download.time, "sleep", lambda seconds: None)  # the client's retries
    fake_hub.breakage = Breakage(UNET, after=3000, stall=True)  # hangs until the client retries
    cache = hub_cache_dir()
    page = listed_page(qtbot, app_settings)
    download = page.start_download(["sd15"])
    assert download is not None
    qtbot.waitUntil(lambda: bool(fake_hub.gets(UNET) and snapshot_files(cache)), timeout=WAIT_MS)
    page.cancel_download()
    assert page.progress_text.text() == "Cancelling sd15…"
    assert relisted(qtbot, page, "cancelled") == "sd15"
    assert download.wait(5), "the download thread did not stop at its next chunk"
    assert "cancelled" in page.note.text() and "files already complete" in page.note.text()
    assert page.download is None and page.download_button.isEnabled()
    assert entry_cells(page, "sd15")[1].startswith("partial")
    kept = snapshot_files(cache)

    fake_hub.heal()
    fake_hub.requests.clear()
    again = page.start_download(["sd15"])
    assert again is not None
    assert relisted(qtbot, page, "finished") == ["sd15"]
    assert entry_cells(page, "sd15")[1] == "present"
    fetched = {p.split("/resolve/")[-1].split("/", 1)[-1] for m, p, _ in fake_hub.requests}
    assert kept and not kept & fetched  # the finished files were not fetched again


def test_cancel_on_a_stalled_connection_answers_within_seconds(
    qtbot: Any, app_settings: Any, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_constants, "DOWNLOAD_CHUNK_SIZE", 1000)
    fake_hub.breakage = Breakage(UNET, after=3000, stall=True)  # no time-out before 10 s
    page = listed_page(qtbot, app_settings)
    download = page.start_download(["sd15"])
    assert download is not None
    qtbot.waitUntil(lambda: bool(fake_hub.gets(UNET)), timeout=WAIT_MS)
    asked = time.monotonic()
    page.cancel_download()
    assert relisted(qtbot, page, "cancelled") == "sd15"
    assert time.monotonic() - asked < CANCEL_WAIT_S + 1.5
    assert page.download is None and page.download_button.isEnabled()


def test_a_download_thread_that_never_stops_is_given_up_on_and_its_late_end_dropped(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard_app.engine.models import manager

    release = threading.Event()

    def stuck(entry: Any, report: Any, cancel: Any) -> None:
        release.wait(10)  # a socket that ignores the cancel flag

    monkeypatch.setattr(manager, "download_entry", stuck)
    monkeypatch.setattr(model_library, "CANCEL_WAIT_S", 0.2)
    download = ModelDownload(["sd15"])
    ended: list[str] = []
    download.finished.connect(lambda names: ended.append("finished"))
    download.start()
    with qtbot.waitSignal(download.cancelled, timeout=WAIT_MS) as blocker:
        download.cancel()
    assert blocker.args == ["sd15"] and download.is_done()
    release.set()
    assert download.wait(5)
    qtbot.wait(50)
    assert ended == []


def test_a_gated_model_links_its_licence_and_a_saved_token_opens_it(
    qtbot: Any, app_settings: Any, fake_hub: FakeHub, tmp_path: Path, settings_file: Any
) -> None:
    fake_hub.gated.add(SD15_REPO)
    fake_hub.tokens.add("hf_open_sesame")
    page = listed_page(qtbot, app_settings)
    download = page.start_download(["sd15"])
    assert download is not None
    problem = relisted(qtbot, page, "failed")
    assert problem.gated and problem.page == f"https://huggingface.co/{SD15_REPO}"
    text = page.problem.text()
    assert f'<a href="https://huggingface.co/{SD15_REPO}">' in text and "is gated" in text

    page.token.setText("hf_open_sesame")
    with qtbot.waitSignal(page.listingChanged, timeout=WAIT_MS):
        page.save_token_button.click()
    token_file = tmp_path / "hf_home" / "token"
    assert token_file.read_text() == "hf_open_sesame"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert page.token.text() == "" and "A token is set" in page.token_status.text()
    settings_file.sync()
    others = [p for p in tmp_path.rglob("*") if p.is_file() and p != token_file]
    assert not [p for p in others if b"hf_open_sesame" in p.read_bytes()]

    again = page.start_download(["sd15"])
    assert again is not None
    assert relisted(qtbot, page, "finished") == ["sd15"]
    assert read_listing().row("sd15").present


def test_a_model_the_hub_does_not_have_and_no_network_are_messages(
    qtbot: Any, app_settings: Any, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = listed_page(qtbot, app_settings)
    download = page.start_download(["motion-adapter"])
    assert download is not None
    relisted(qtbot, page, "failed")
    assert "animatediff-motion-adapter-v1-5-3 was not found" in page.problem.text()

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    download = page.start_download(["sd15"])
    assert download is not None
    relisted(qtbot, page, "failed")
    assert "Could not reach http://127.0.0.1:9" in page.problem.text()
    assert page.download_button.isEnabled()


def test_a_missing_catalogue_model_is_one_click_from_its_download() -> None:
    hint = "Download them with `storyboard models download sd15 motion-adapter`."
    message = UserMessage.from_engine(ErrorInfo(ErrorKind.MODEL, "Not in the cache.", hint))
    assert message.action == FixAction.MODELS
    assert names_to_download(hint) == ["sd15", "motion-adapter"]
    plain = UserMessage.from_engine(ErrorInfo(ErrorKind.MODEL, "Bad file.", "Use another."))
    assert plain.action == FixAction.SETTINGS


def test_the_models_window_opens_without_a_project_and_downloads_what_it_is_given(
    qtbot: Any, make_window: Any, fake_host: Any, fake_hub: FakeHub
) -> None:
    window = make_window(fake_host)
    assert window.workspace is None and window.actions.models.isEnabled()
    dialog = window.open_models(["sd15"])
    assert isinstance(dialog, ModelsDialog)
    ended: list[tuple[str, Any]] = []
    dialog.page.downloadEnded.connect(lambda outcome, payload: ended.append((outcome, payload)))
    qtbot.waitUntil(lambda: bool(ended), timeout=WAIT_MS)
    assert ended == [("finished", ["sd15"])]
    assert dialog.page.selected_names() == ["sd15"]
    dialog.close()


def test_closing_the_window_mid_download_cancels_it_and_nothing_is_left_signalling(
    qtbot: Any, app_settings: Any, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_constants, "DOWNLOAD_CHUNK_SIZE", 1000)
    monkeypatch.setattr(model_library, "CANCEL_WAIT_S", 0.2)
    fake_hub.breakage = Breakage(UNET, after=3000, stall=True)
    dialog = ModelsDialog(app_settings)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.page.download_when_listed(["sd15"])
    dialog.show()
    qtbot.waitUntil(lambda: bool(fake_hub.gets(UNET)), timeout=WAIT_MS)
    download = dialog.page.download
    assert download is not None
    dialog.close()
    qtbot.waitUntil(download.is_done, timeout=WAIT_MS)
    qtbot.wait(300)  # a late answer from the thread would raise in the Qt loop here
