"""SDXL projects get SDXL transitions: AnimateDiff SDXL (motion adapter beta) on tiny models.

The tiny parts follow the real ones' layout (a ``MotionAdapter`` with the tiny
SDXL UNet's block widths, an SDXL IP-Adapter keyed like the published file),
so the same code paths run as with ``guoyww/animatediff-motion-adapter-sdxl-beta``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from storyboard_app.engine.errors import ModelNotFoundError, UnsupportedModelError
from storyboard_app.engine.models.catalogue import entries_for
from storyboard_app.engine.tiny_models import save_tiny_pipeline
from storyboard_app.engine.transitions.generated import (
    FrameConditioning,
    MotionSettings,
    denoise,
    encode_prompt,
    end_latents,
    frame_image_tokens,
    generate_motion_frames,
    initial_latents,
    predict_frame_embeddings,
)
from storyboard_app.engine.transitions.job import TransitionOptions, build_transition_request
from storyboard_app.engine.transitions.motion_model import (
    SDXL_IP_ADAPTER,
    SDXL_MOTION_ADAPTER,
    MotionModel,
    MotionSources,
    check_motion_sources,
    load_motion_model,
    sources_for_model,
)
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

SETTINGS = MotionSettings(prompt="a cat", frames=5, width=64, height=64, steps=2, seed=3)


@pytest.fixture(scope="module")
def sdxl_motion() -> MotionModel:
    return load_motion_model(sources_for_model("", base="tiny-sdxl"), device="cpu")


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("panel_models")
    for family in ("sdxl", "sd15"):
        save_tiny_pipeline(root / family, family)
    return {family: root / family for family in ("sdxl", "sd15")}


def panels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return tuple(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(2))


def test_an_sdxl_panel_model_gets_the_sdxl_family_on_that_same_model(
    model_folders: dict[str, Path],
) -> None:
    sdxl = sources_for_model(str(model_folders["sdxl"]))
    assert sdxl.is_sdxl and sdxl.base == str(model_folders["sdxl"])
    assert (sdxl.motion_adapter, sdxl.ip_adapter, sdxl.sparse_ctrl) == (
        SDXL_MOTION_ADAPTER,
        SDXL_IP_ADAPTER,
        "",
    )
    sd15 = sources_for_model(str(model_folders["sd15"]))
    assert not sd15.is_sdxl and sd15.base == str(model_folders["sd15"])
    assert sd15.sparse_ctrl == MotionSources().sparse_ctrl
    for undecided in ("", "tiny", "someone/not-downloaded"):
        assert sources_for_model(undecided) == MotionSources(), undecided
    given = sources_for_model(str(model_folders["sdxl"]), predictor="p.safetensors")
    assert given.is_sdxl and given.predictor == "p.safetensors"
    assert sources_for_model("", base=str(model_folders["sdxl"])).is_sdxl


def test_every_default_sdxl_part_is_in_the_catalogue_and_preflight_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    sources = MotionSources.for_sdxl()
    for source in (sources.base, sources.motion_adapter, sources.ip_adapter, sources.image_encoder):
        parts = source.split("/")
        assert entries_for("/".join(parts[:2]), "/".join(parts[2:])), source
    with pytest.raises(ModelNotFoundError) as raised:
        check_motion_sources(sources)
    assert "SDXL base" in raised.value.message and "SparseCtrl" not in raised.value.message
    assert raised.value.hint == (
        "Download them with `storyboard models download ip-adapter-sdxl motion-adapter-sdxl "
        "sdxl-base`."
    )


def test_sdxl_with_a_sparse_ctrl_model_is_refused_clearly() -> None:
    sources = MotionSources(architecture="sdxl", base="tiny")
    with pytest.raises(UnsupportedModelError) as raised:
        check_motion_sources(sources)
    assert "SD 1.5 only" in raised.value.message


def test_a_tiny_sdxl_transition_renders_deterministically(sdxl_motion: MotionModel) -> None:
    assert sdxl_motion.is_sdxl and not sdxl_motion.holds_ends_with_keyframes
    frames = generate_motion_frames(sdxl_motion, *panels(), SETTINGS)
    assert len(frames) == 5 and frames[0].shape == (64, 64, 3) and frames[0].dtype == np.uint8
    again = generate_motion_frames(sdxl_motion, *panels(), SETTINGS)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))


def test_the_panels_latents_are_the_first_and_last_frames_after_the_last_step(
    sdxl_motion: MotionModel,
) -> None:
    start, end = panels()
    with torch.inference_mode():
        embeddings = predict_frame_embeddings(sdxl_motion, start, end, SETTINGS.frames)
        text, added = encode_prompt(sdxl_motion, SETTINGS)
        assert added is not None and added["time_ids"].tolist()[0] == [64, 64, 0, 0, 64, 64]
        tokens = frame_image_tokens(sdxl_motion, embeddings, SETTINGS.uses_guidance)
        conditioning = FrameConditioning(text, tokens, added)
        conditioning.ends, conditioning.end_noise = end_latents(sdxl_motion, start, end, SETTINGS)
        held = denoise(
            sdxl_motion,
            initial_latents(sdxl_motion, SETTINGS),
            conditioning,
            SETTINGS,
            lambda step, steps: None,
            lambda: False,
        )
        free = denoise(
            sdxl_motion,
            initial_latents(sdxl_motion, SETTINGS),
            FrameConditioning(text, tokens, added),
            SETTINGS,
            lambda step, steps: None,
            lambda: False,
        )
    ends = conditioning.ends
    assert torch.equal(held[:, :, 0], ends[:, :, 0]) and torch.equal(held[:, :, -1], ends[:, :, 1])
    assert not torch.allclose(free[:, :, 0], ends[:, :, 0])
    assert not torch.equal(held[:, :, 2], ends[:, :, 0])  # the middle is generated


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), shade, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_motion_transition_in_an_sdxl_project_asks_for_the_sdxl_parts(
    store: ProjectStore, model_folders: dict[str, Path]
) -> None:
    store.update_settings(model_source=str(model_folders["sdxl"]))
    for prompt, shade in (("a door", 40), ("an open door", 200)):
        scene = store.scenes.add(prompt)
        store.takes.add(scene.id, png(shade), TakeParams(width=64, height=48, source="imported"))
    first, second = store.scenes.list()
    request = build_transition_request(store, first.id, second.id, "motion", TransitionOptions())
    assert request.sources is not None and request.sources.is_sdxl
    assert request.sources.base == str(model_folders["sdxl"])
    recorded = json.loads(json.dumps(request.settings_record()))
    assert recorded["sources"]["architecture"] == "sdxl"
    named = TransitionOptions(motion_parts=(("predictor", "p.safetensors"),))
    request = build_transition_request(store, first.id, second.id, "motion", named)
    assert request.sources is not None and request.sources.predictor == "p.safetensors"
