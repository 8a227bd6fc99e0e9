"""The renderer fits an auto size to the loaded model: the project's shape at its pixel count."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from storyboard_app.engine.project_render import build_render_request
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.store import ProjectStore


@pytest.mark.parametrize(
    ("architecture", "expected"), [("sdxl", (1536, 640)), ("sd15", (784, 328))]
)
def test_an_auto_size_fits_the_aspect_ratio_to_the_architecture(
    story_store: ProjectStore, architecture: str, expected: tuple[int, int]
) -> None:
    story_store.update_settings(model_source="tiny", aspect_ratio="2.39:1")
    request = build_render_request(story_store, [story_store.scenes.at(1).id])
    assert request.aspect_ratio == "2.39:1" and (request.width, request.height) == (0, 0)
    loaded = SimpleNamespace(pipe=None, device="cpu", architecture=architecture)
    renderer = StoryRenderer(loaded)  # type: ignore[arg-type]
    sized = renderer.sized(request)
    assert (sized.width, sized.height) == expected
    fixed = renderer.sized(dataclasses.replace(request, width=640, height=360))
    assert (fixed.width, fixed.height) == (640, 360)
