"""Engine fixtures: tiny random-weight pipelines, built once per test session.

Building and saving a tiny pipeline takes about a second, so the saved
folders and the single-file checkpoint are session-scoped and shared; tests
must treat them as read-only (copy a folder before changing it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DiffusionPipeline, StableDiffusionPipeline, StableDiffusionXLPipeline

from storyboard_app.engine.tiny_models import (
    TINY_IMAGE_SIZE,
    build_tiny_sd15_pipeline,
    build_tiny_sdxl_pipeline,
    save_tiny_pipeline,
    write_single_file_checkpoint,
)

RenderFunction = Callable[..., np.ndarray]


@pytest.fixture(scope="session", autouse=True)
def single_torch_thread() -> Iterator[None]:
    """Run torch on one thread while engine tests run.

    Tiny models gain nothing from threads, and on a busy two-core machine
    OpenMP's spin-waiting threads made a 0.1 s render take up to 10 s.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def offline_hub(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach the network, and never read the user's own Hugging Face cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty_hub_cache")))


@pytest.fixture(scope="session")
def tiny_sdxl_pipeline() -> StableDiffusionXLPipeline:
    """The tiny SDXL pipeline with seed 0, in memory. Read-only."""
    pipe = build_tiny_sdxl_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_sd15_pipeline() -> StableDiffusionPipeline:
    """The tiny SD 1.5 pipeline with seed 0, in memory. Read-only."""
    pipe = build_tiny_sd15_pipeline(seed=0)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A diffusers folder holding the tiny SDXL pipeline (seed 0). Read-only."""
    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sdxl", "sdxl", seed=0)


@pytest.fixture(scope="session")
def tiny_sd15_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A diffusers folder holding the tiny SD 1.5 pipeline (seed 0). Read-only."""
    return save_tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd15", "sd15", seed=0)


@pytest.fixture(scope="session")
def tiny_sdxl_single_file(
    tmp_path_factory: pytest.TempPathFactory, tiny_sdxl_pipeline: StableDiffusionXLPipeline
) -> Path:
    """The tiny SDXL (seed 0) as one original-layout .safetensors file.

    Load it with ``config_dir=tiny_sdxl_dir``: the shipped configs describe the
    full-size model.
    """
    folder = tmp_path_factory.mktemp("checkpoints")
    return write_single_file_checkpoint(tiny_sdxl_pipeline, folder / "tiny-sdxl.safetensors")


@pytest.fixture(scope="session")
def render_tiny() -> RenderFunction:
    """Render two steps at the tiny size with a seeded CPU generator; returns float images."""

    def render(pipe: DiffusionPipeline, seed: int = 1, prompt: str = "a cat") -> np.ndarray:
        with torch.inference_mode():
            return pipe(
                prompt,
                num_inference_steps=2,
                height=TINY_IMAGE_SIZE,
                width=TINY_IMAGE_SIZE,
                generator=torch.Generator("cpu").manual_seed(seed),
                output_type="np",
            ).images

    return render
