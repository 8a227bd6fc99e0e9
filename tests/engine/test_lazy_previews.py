"""Step previews are made only when someone shows them, at the throttled rate (counting spies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from storyboard_app.engine import preview as preview_module
from storyboard_app.engine.loading import LoadedPipeline, load_text_to_image_pipeline
from storyboard_app.engine.preview import LatentPreviews, latents_to_preview
from storyboard_app.engine.project_render import build_render_request, render_scenes
from storyboard_app.engine.render_request import RenderEvent, RenderProgress
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.store import ProjectStore
from storyboard_app.worker.host import ThreadReporter
from storyboard_app.worker.torch_engine import _progress_only


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The index of every preview made from latents."""
    calls: list[int] = []

    def spy(latents: torch.Tensor, architecture: str, *, index: int = 0) -> np.ndarray:
        calls.append(index)
        return latents_to_preview(latents, architecture, index=index)

    monkeypatch.setattr(preview_module, "latents_to_preview", spy)
    return calls


def test_previews_are_made_when_read_and_once(made: list[int]) -> None:
    previews = LatentPreviews(torch.randn(3, 4, 8, 8), "sdxl", (11, 12, "Mara"))
    assert list(previews) == [11, 12, "Mara"] and made == []
    first = previews[12]
    assert previews[12] is first and made == [1]
    assert first.shape == (8, 8, 3) and first.dtype == np.uint8


class ThrottledReporter(ThreadReporter):
    """The real throttle, with the signals it would emit collected instead."""

    def __init__(self, interval: float) -> None:
        super().__init__(host=None, job_id=1, preview_interval=interval)  # type: ignore[arg-type]
        self.shown: list[int | str] = []

    def progress(self, *_args: Any) -> None:
        pass

    def preview(self, key: int | str, image: np.ndarray) -> None:
        self.shown.append(key)


def step_event(keys: tuple[int | str, ...]) -> RenderProgress:
    latents = torch.randn(len(keys), 4, 8, 8)
    return RenderProgress("panel", "1, 2", 1, 10, 1, 1, LatentPreviews(latents, "sdxl", keys))


def test_the_worker_makes_a_preview_only_when_the_throttle_lets_it_through(
    made: list[int],
) -> None:
    reporter = ThrottledReporter(interval=3600.0)
    on_event = _progress_only(reporter)
    for _step in range(10):
        on_event(step_event((5, 6, -1)))
    # One preview per panel for the whole hour; none of the throwaway portrait (-1).
    assert reporter.shown == [5, 6]
    assert made == [0, 1]


def test_a_render_nobody_watches_makes_no_previews(
    tmp_path: Path, made: list[int], tiny_sdxl_dir: Path
) -> None:
    """The command line's sink never reads previews, so none is made."""
    loaded: LoadedPipeline = load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")
    store = ProjectStore.create(tmp_path / "p")
    store.update_settings(model_source=str(tiny_sdxl_dir), width=64, height=64, steps=2)
    store.scenes.add("a lighthouse at dusk")
    events: list[RenderEvent] = []
    render_scenes(store, StoryRenderer(loaded), build_render_request(store), events.append)
    assert any(isinstance(e, RenderProgress) for e in events)
    assert made == []
    store.close()
