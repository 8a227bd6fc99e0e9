"""Fixtures for tests that download: a fake hub on 127.0.0.1 serving a tiny SD 1.5 pipeline.

The pipeline is served under the catalogue's real ``sd15`` repository, laid out
like the real one (fp16-named weights) next to decoys a whole-repository
download would fetch. Import the fixtures into a conftest or test module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub_server import DECOYS, SD15_REPO, FakeHub, running
from huggingface_hub import constants as hub_constants

from storyboard_app.engine.tiny_models import build_tiny_sd15_pipeline


@pytest.fixture(scope="session")
def tiny_sd15_repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every file of a tiny SD 1.5 repo laid out like the real one (fp16-named weights)."""
    folder = tmp_path_factory.mktemp("tiny_sd15_repo")
    build_tiny_sd15_pipeline().save_pretrained(folder, safe_serialization=True, variant="fp16")
    (folder / "feature_extractor").mkdir()
    (folder / "feature_extractor" / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "CLIPImageProcessor"})
    )
    files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    return {name: path.read_bytes() for name, path in files.items()} | DECOYS


@pytest.fixture
def fake_hub(
    tiny_sd15_repo: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeHub]:
    """The hub on 127.0.0.1 with HF_ENDPOINT at it, downloads allowed, HF_HOME in tmp."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_TOKEN_PATH", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    # huggingface_hub reads HF_HUB_OFFLINE once on import; the test session sets it.
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    with running(FakeHub(repos={SD15_REPO: dict(tiny_sd15_repo)})) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield hub
