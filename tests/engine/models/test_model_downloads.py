"""``storyboard models`` against a hub on 127.0.0.1: only the entry's files, clear failures.

The fake hub (``fake_hub_server``) serves a tiny SD 1.5 pipeline under the
catalogue's real ``sd15`` repository, next to decoys (pickles, fp32 copies)
that a whole-repository download would fetch. No test reaches the real hub.
"""

from __future__ import annotations

import errno
import json
import threading
from pathlib import Path

import pytest
from fake_hub_server import DECOYS, SD15_REPO, Breakage, FakeHub
from huggingface_hub import constants as hub_constants

from storyboard_app.cli import main
from storyboard_app.cli.models import speed_and_eta
from storyboard_app.engine.errors import DownloadCancelledError, ModelDownloadError
from storyboard_app.engine.loading import load_text_to_image_pipeline
from storyboard_app.engine.models.catalogue import find_entry
from storyboard_app.engine.models.hub import hub_cache_dir
from storyboard_app.engine.models.manager import catalogue_status, download_entry

UNET = "unet/diffusion_pytorch_model.fp16.safetensors"


def models_json(capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def sd15_entry(listing: dict) -> dict:
    return next(e for e in listing["catalogue"] if e["name"] == "sd15")


def test_download_fetches_only_the_entry_files_and_the_model_then_loads(
    fake_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hub_cache_dir() == tmp_path / "hf_home" / "hub"
    assert sd15_entry(models_json(capsys))["present"] is False

    assert main(["models", "download", "sd15"]) == 0
    out, err = capsys.readouterr()
    assert "sd15 is ready in" in out and "downloading sd15" in err and " MB/s, " in err

    fetched = {path for method, path, _ in fake_hub.requests if method == "GET"}
    assert f"/{SD15_REPO}/resolve/{fake_hub.commit(SD15_REPO)}/{UNET}" in fetched
    assert not any(path.endswith(decoy) for path in fetched for decoy in DECOYS)
    listing = models_json(capsys)
    assert sd15_entry(listing)["present"] is True
    assert [r["repo_id"] for r in listing["on_disk"]] == [SD15_REPO]
    assert listing["on_disk"][0]["entries"] == ["sd15"]

    loaded = load_text_to_image_pipeline(SD15_REPO, device="cpu")
    assert loaded.architecture == "sd15"


def test_a_gated_repository_says_where_to_accept_the_licence_and_how_to_log_in(
    fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.gated.add(SD15_REPO)
    assert main(["models", "download", "sd15"]) == 1
    err = capsys.readouterr().err
    assert f"{SD15_REPO} is gated" in err and "Traceback" not in err
    assert f"https://huggingface.co/{SD15_REPO}" in err
    assert "huggingface-cli login" in err and "HF_TOKEN" in err


def test_a_repository_the_hub_does_not_have_is_a_404_message(
    fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "download", "motion-adapter"]) == 1
    err = capsys.readouterr().err
    assert "guoyww/animatediff-motion-adapter-v1-5-3 was not found" in err and "404" in err


def test_no_network_says_so_and_that_the_download_resumes(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    assert main(["models", "download", "sd15"]) == 1
    err = capsys.readouterr().err
    assert "Could not reach http://127.0.0.1:9" in err and "internet connection" in err


def test_a_connection_dropped_midway_is_resumed_from_where_it_stopped(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hub client keeps what it received in whole chunks (10 MB); the tiny UNet is smaller.
    monkeypatch.setattr(hub_constants, "DOWNLOAD_CHUNK_SIZE", 1000)
    fake_hub.breakage = Breakage(UNET, after=2500)
    status = download_entry(find_entry("sd15"), lambda done, total: None, threading.Event())
    assert status.present
    assert fake_hub.gets(UNET) == ["", "bytes=2000-"]
    served = fake_hub.repos[SD15_REPO][UNET]
    assert (status.folder / UNET).read_bytes() == served


def test_a_hub_that_goes_down_midway_fails_clearly_and_the_rerun_completes(
    fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.breakage = Breakage(UNET, after=1000, forever=True)
    assert main(["models", "download", "sd15"]) == 1
    err = capsys.readouterr().err
    assert "answered HTTP 500" in err and "storyboard models download sd15" in err
    kept = catalogue_status([find_entry("sd15")])[0]
    assert not kept.present and UNET in kept.missing

    fake_hub.heal()
    fake_hub.requests.clear()
    assert main(["models", "download", "sd15"]) == 0
    assert catalogue_status([find_entry("sd15")])[0].present
    fetched_again = [p for m, p, _ in fake_hub.requests if m == "GET" and "/resolve/" in p]
    assert len(fetched_again) == len(kept.missing)


def test_cancel_stops_the_download_and_leaves_no_partial_file(fake_hub: FakeHub) -> None:
    cancel = threading.Event()
    with pytest.raises(DownloadCancelledError):
        download_entry(find_entry("sd15"), lambda done, total: cancel.set(), cancel)
    assert not list(hub_cache_dir().rglob("*.incomplete"))
    assert not catalogue_status([find_entry("sd15")])[0].present


def test_a_full_disk_is_reported_with_the_free_space(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import file_download

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_download, "http_get", no_space)
    with pytest.raises(Exception) as raised:
        download_entry(find_entry("sd15"), lambda done, total: None, threading.Event())
    assert "is full" in raised.value.message and "MB free" in raised.value.message


def test_downloads_are_refused_plainly_in_offline_mode(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelDownloadError) as raised:
        download_entry(find_entry("sd15"), lambda done, total: None, threading.Event())
    assert "HF_HUB_OFFLINE" in raised.value.hint


def test_remove_deletes_the_repository_and_loading_then_names_the_download(
    fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "download", "sd15"]) == 0
    capsys.readouterr()
    assert main(["models", "remove", "sd15"]) == 0
    assert "Removed stable-diffusion-v1-5/stable-diffusion-v1-5" in capsys.readouterr().out
    assert models_json(capsys)["on_disk"] == []
    with pytest.raises(Exception) as raised:
        load_text_to_image_pipeline(SD15_REPO, device="cpu")
    assert "storyboard models download sd15" in raised.value.hint


def test_an_unknown_name_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "download", "sd3"]) == 1
    err = capsys.readouterr().err
    assert "sd3 is not in the model catalogue" in err and "sdxl-base" in err


def test_several_names_are_all_checked_before_anything_is_downloaded(
    fake_hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "download", "sd15", "sd3"]) == 1
    assert "sd3 is not in the model catalogue" in capsys.readouterr().err
    assert fake_hub.requests == []


def test_speed_and_time_left_are_told_once_there_is_a_rate() -> None:
    assert speed_and_eta(0, 100, 1.0) == ""
    assert speed_and_eta(25 * 10**6, 100 * 10**6, 2.0) == "12.5 MB/s, 6 s left"


def test_a_hub_that_stalls_midway_is_a_time_out_message(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import file_download

    monkeypatch.setattr(hub_constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.2)
    monkeypatch.setattr(file_download.time, "sleep", lambda seconds: None)  # the client's retries
    fake_hub.breakage = Breakage(UNET, after=1000, stall=True)  # every attempt hangs
    with pytest.raises(ModelDownloadError) as raised:
        download_entry(find_entry("sd15"), lambda done, total: None, threading.Event())
    assert "stopped answering while downloading sd15" in raised.value.message
    assert "HF_HUB_DOWNLOAD_TIMEOUT" in raised.value.hint


def test_a_gated_repository_opens_with_the_token_in_the_hub_token_file(
    fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storyboard_app.engine.models.hub import hub_token, hub_token_path, save_hub_token

    fake_hub.gated.add(SD15_REPO)
    fake_hub.tokens.add("hf_reader")
    assert hub_token() is None
    assert save_hub_token(" hf_reader\n") == tmp_path / "hf_home" / "token" == hub_token_path()
    assert main(["models", "download", "sd15"]) == 0
    monkeypatch.setenv("HF_TOKEN", "hf_from_the_environment")
    assert hub_token() == "hf_from_the_environment"  # the environment wins, as in the hub client
    save_hub_token("")
    assert not hub_token_path().exists()
