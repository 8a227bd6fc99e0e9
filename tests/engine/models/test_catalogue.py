"""The model catalogue: only the files an entry needs, and hints that name them."""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

from storyboard_app.engine.errors import ModelNotFoundError
from storyboard_app.engine.models.catalogue import (
    CATALOGUE,
    JOBS,
    download_hint,
    entries_for,
    find_entry,
)
from storyboard_app.engine.motion.sources import resolve_component
from storyboard_app.engine.transitions.motion_model import MotionSources
from storyboard_app.project.ip_adapters import IP_ADAPTER_KINDS

PICKLES = ("x.bin", "x.ckpt", "x.pt", "x.pth", "x.pkl", "models/image_encoder/pytorch_model.bin")


def test_every_entry_names_files_never_a_whole_repository_or_a_pickle() -> None:
    names = [entry.name for entry in CATALOGUE]
    assert len(names) == len(set(names))
    for entry in CATALOGUE:
        assert entry.job in JOBS and entry.licence and entry.enables and entry.size_gb > 0
        assert entry.allow_patterns and "*" not in entry.allow_patterns
        assert not any(pattern.startswith("*") for pattern in entry.allow_patterns)
        for pattern in entry.allow_patterns:
            assert not any(fnmatch(pickle, pattern) for pickle in PICKLES), pattern


def test_the_default_transition_sources_are_all_in_the_catalogue() -> None:
    sources = MotionSources()
    for source in (
        sources.base,
        sources.motion_adapter,
        sources.sparse_ctrl,
        sources.ip_adapter,
        sources.image_encoder,
    ):
        repo_id = "/".join(source.split("/")[:2])
        inner = "/".join(source.split("/")[2:])
        assert entries_for(repo_id, inner), source


def test_find_entry_by_name_or_repository_and_a_clear_error_otherwise() -> None:
    assert find_entry("sd15").repo_id == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert find_entry("guoyww/animatediff-sparsectrl-rgb").name == "sparsectrl-rgb"
    with pytest.raises(ModelNotFoundError) as error:
        find_entry("sd3")
    assert "sd3" in error.value.message and "sdxl-base" in error.value.hint


def test_the_missing_ip_adapter_hint_names_the_entry_not_the_whole_repository(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFoundError) as error:
        resolve_component("h94/IP-Adapter/models/ip-adapter_sd15.safetensors", "IP-Adapter")
    assert "`storyboard models download ip-adapter-sd15`" in error.value.hint
    assert "hf download h94/IP-Adapter`" not in error.value.hint
    assert download_hint("h94/IP-Adapter", "models/image_encoder") == (
        "Download it with `storyboard models download ip-adapter-sd15`."
    )


def test_every_ip_adapter_kind_downloads_with_its_catalogue_entry() -> None:
    for kind in IP_ADAPTER_KINDS:
        entry = find_entry(kind.catalogue_name)
        assert entry.repo_id == kind.repo_id
        assert kind.weights in entry.allow_patterns
        assert f"{kind.encoder}/config.json" in entry.allow_patterns
        assert f"{kind.encoder}/model.safetensors" in entry.allow_patterns
        assert kind.architecture in kind.name and kind.weights.endswith(".safetensors")
        assert ("plus-face" in kind.name) == ("plus-face" in kind.weights)
