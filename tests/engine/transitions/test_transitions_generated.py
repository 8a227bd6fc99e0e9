"""Generated transitions end to end on tiny models: per-frame conditioning, keys, loading rules."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from storyboard_app.engine.errors import (
    ModelNotFoundError,
    UnsafeCheckpointError,
    UnsupportedModelError,
)
from storyboard_app.engine.motion.encoder import build_tiny_image_encoder
from storyboard_app.engine.motion.predictor import frame_times, slerp
from storyboard_app.engine.tiny_models import build_tiny_sd15_pipeline
from storyboard_app.engine.transitions.errors import TransitionCancelled, TransitionInputError
from storyboard_app.engine.transitions.generated import (
    MotionSettings,
    frame_image_tokens,
    generate_motion_frames,
    predict_frame_embeddings,
    render_frames,
)
from storyboard_app.engine.transitions.motion_model import (
    MotionModel,
    MotionSources,
    assemble_motion_model,
    load_motion_model,
    read_ip_adapter,
)
from storyboard_app.engine.transitions.tiny_motion import (
    build_tiny_motion_model,
    random_ip_adapter_state_dict,
    tiny_motion_adapter,
    tiny_sparse_ctrl,
)

Panels = tuple[np.ndarray, np.ndarray]
SETTINGS = MotionSettings(
    prompt="a cat", frames=8, width=64, height=64, steps=2, seed=3, ip_adapter_scale=1.0
)


def test_generates_a_deterministic_clip(tiny_motion_model: MotionModel, panels: Panels) -> None:
    steps: list[tuple[int, int]] = []
    frames = generate_motion_frames(
        tiny_motion_model, *panels, SETTINGS, on_step=lambda i, n: steps.append((i, n))
    )
    assert len(frames) == 8 and frames[0].shape == (64, 64, 3) and frames[0].dtype == np.uint8
    assert steps == [(1, 2), (2, 2)]
    again = generate_motion_frames(tiny_motion_model, *panels, SETTINGS)
    assert all(np.array_equal(a, b) for a, b in zip(frames, again, strict=True))
    other_seed = generate_motion_frames(
        tiny_motion_model, *panels, dataclasses.replace(SETTINGS, seed=4)
    )
    assert not np.array_equal(frames[3], other_seed[3])


def test_without_guidance_the_batch_is_halved(
    tiny_motion_model: MotionModel, panels: Panels
) -> None:
    settings = dataclasses.replace(SETTINGS, guidance=1.0, frames=5, width=72, height=64)
    frames = generate_motion_frames(tiny_motion_model, *panels, settings)
    assert len(frames) == 5 and frames[0].shape == (64, 72, 3)


def test_frame_embeddings_run_from_panel_to_panel(
    tiny_motion_model: MotionModel, panels: Panels
) -> None:
    with torch.inference_mode():
        embeddings = predict_frame_embeddings(tiny_motion_model, *panels, 8)
        keys = tiny_motion_model.encoder.encode(list(panels))
        tokens = frame_image_tokens(tiny_motion_model, embeddings, guidance=True)
    assert torch.allclose(embeddings[0], keys[0]) and torch.allclose(embeddings[-1], keys[1])
    assert torch.allclose(embeddings[1:-1], slerp(keys[:1], keys[1:], frame_times(6))[0])
    assert len(tokens) == 1 and tokens[0].shape == (16, 1, 4, 32)


def test_each_frame_reads_its_own_embedding(panels: Panels) -> None:
    """With the temporal layers switched off, frames are independent: changing the embeddings
    of frames 4-7 must leave frames 0-3 exactly as they were (a pipeline that tiles one
    embedding per video, or mixes them, fails this) and must change frames 4-7."""
    model = build_tiny_motion_model(seed=0)
    for module in (model.pipe.unet, model.pipe.controlnet):
        for name, parameter in module.named_parameters():
            if "motion_modules" in name and "proj_out" in name:
                parameter.data.zero_()
    with torch.inference_mode():
        embeddings = predict_frame_embeddings(model, *panels, 8)
        changed = embeddings.clone()
        changed[4:] = (
            torch.randn(4, embeddings.shape[1], generator=torch.Generator().manual_seed(1)) * 10
        )
        before = render_frames(model, *panels, embeddings, SETTINGS)
        after = render_frames(model, *panels, changed, SETTINGS)
    for index in range(4):
        assert np.array_equal(before[index], after[index]), f"frame {index} changed"
    for index in range(4, 8):
        assert np.abs(before[index].astype(int) - after[index]).mean() > 1.0


def test_cancel_stops_before_the_next_step(tiny_motion_model: MotionModel, panels: Panels) -> None:
    steps: list[int] = []
    with pytest.raises(TransitionCancelled):
        generate_motion_frames(
            tiny_motion_model,
            *panels,
            SETTINGS,
            on_step=lambda i, n: steps.append(i),
            is_cancelled=lambda: len(steps) == 1,
        )
    assert steps == [1]


@pytest.mark.parametrize(
    ("change", "message"),
    [({"frames": 40}, "out of range"), ({"width": 60}, "multiple of 8"), ({"steps": 0}, "step")],
)
def test_impossible_settings_are_refused_before_work(
    tiny_motion_model: MotionModel, panels: Panels, change: dict[str, int], message: str
) -> None:
    with pytest.raises(TransitionInputError, match=message):
        generate_motion_frames(
            tiny_motion_model,
            *panels,
            dataclasses.replace(SETTINGS, **change),
            is_cancelled=lambda: pytest.fail("work started"),
        )


def test_loads_every_part_from_local_files(
    tiny_motion_model: MotionModel, tiny_sd15_dir: Path, tmp_path: Path, panels: Panels
) -> None:
    tiny = tiny_motion_model
    tiny_motion_adapter().save_pretrained(tmp_path / "adapter", safe_serialization=True)
    tiny_sparse_ctrl().save_pretrained(tmp_path / "sparsectrl", safe_serialization=True)
    tiny.encoder.model.save_pretrained(tmp_path / "image_encoder", safe_serialization=True)
    ip_adapter = tmp_path / "ip-adapter.safetensors"
    state = random_ip_adapter_state_dict(tiny.pipe.unet)
    flat = {
        f"{group}.{key}": value for group, values in state.items() for key, value in values.items()
    }
    save_file(flat, str(ip_adapter))
    sources = MotionSources(
        base=str(tiny_sd15_dir),
        motion_adapter=str(tmp_path / "adapter"),
        sparse_ctrl=str(tmp_path / "sparsectrl"),
        ip_adapter=str(ip_adapter),
        image_encoder=str(tmp_path / "image_encoder"),
    )
    model = load_motion_model(sources, device="cpu")
    assert model.sources == sources and model.max_frames == 32
    assert read_ip_adapter(ip_adapter)["image_proj"].keys() == state["image_proj"].keys()
    frames = generate_motion_frames(model, *panels, SETTINGS)
    assert len(frames) == 8


def test_unsafe_missing_and_mismatched_parts_are_refused(tmp_path: Path) -> None:
    pickle = tmp_path / "ip-adapter.bin"
    pickle.write_bytes(b"never opened")
    with pytest.raises(UnsafeCheckpointError, match="pickle"):
        load_motion_model(MotionSources(ip_adapter=str(pickle)), device="cpu")
    with pytest.raises(ModelNotFoundError, match="local Hugging Face cache"):
        load_motion_model(MotionSources(), device="cpu")
    plus = tmp_path / "ip-adapter-plus.safetensors"
    save_file({"image_proj.latents": torch.zeros(1, 16, 8)}, str(plus))
    with pytest.raises(UnsupportedModelError, match="not a base IP-Adapter"):
        read_ip_adapter(plus)


def test_embedding_widths_must_agree(tiny_motion_model: MotionModel) -> None:
    tiny = tiny_motion_model
    base = build_tiny_sd15_pipeline()
    with pytest.raises(UnsupportedModelError, match="image encoder 24"):
        assemble_motion_model(
            base,
            tiny_motion_adapter(),
            tiny_sparse_ctrl(),
            random_ip_adapter_state_dict(base.unet),
            build_tiny_image_encoder(projection_dim=24),
            tiny.predictor,
            tiny.sources,
        )
