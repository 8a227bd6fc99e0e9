"""Issue 18: a finished panel is PNG-encoded on another thread while the next one denoises."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from storyboard_app.engine import story_renderer, take_writer
from storyboard_app.engine.loading import load_text_to_image_pipeline
from storyboard_app.engine.project_render import build_render_request, render_scenes
from storyboard_app.engine.render_request import PanelRendered, RenderEvent
from storyboard_app.engine.story_renderer import DenoisePass, StoryRenderer, png_bytes
from storyboard_app.project.store import ProjectStore

PROMPTS = ("a lighthouse at dusk", "the sea at night", "a gull on a post")


@pytest.fixture
def story(tmp_path: Path, tiny_sdxl_dir: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "p")
    store.update_settings(model_source=str(tiny_sdxl_dir), width=64, height=64, steps=1)
    for prompt in PROMPTS:
        store.scenes.add(prompt)
    yield store
    store.close()


def renderer(tiny_sdxl_dir: Path) -> StoryRenderer:
    return StoryRenderer(load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu"))


def test_the_next_panel_denoises_while_the_last_one_is_encoded(
    story: ProjectStore, tiny_sdxl_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    next_panel_started = threading.Event()
    log: list[str] = []
    real_denoise = StoryRenderer._denoise

    def denoise(self: StoryRenderer, request, denoise_pass: DenoisePass, *args, **kwargs):
        if denoise_pass.stage == "panel":
            log.append(f"denoise {denoise_pass.label}")
            if denoise_pass.label != "1":
                next_panel_started.set()
        return real_denoise(self, request, denoise_pass, *args, **kwargs)

    def gated_encoder(image: Image.Image) -> bytes:
        # Inline encoding would wait here in vain: the next panel cannot start.
        overlapped = next_panel_started.wait(timeout=5)
        log.append(f"encoded, next panel already denoising: {overlapped}")
        return png_bytes(image)

    monkeypatch.setattr(StoryRenderer, "_denoise", denoise)
    monkeypatch.setattr(take_writer, "png_bytes", gated_encoder)
    monkeypatch.setattr(story_renderer, "png_bytes", gated_encoder)  # the inline path too
    events: list[RenderEvent] = []
    request = build_render_request(story)
    takes = render_scenes(story, renderer(tiny_sdxl_dir), request, events.append)

    assert log[:3] == ["denoise 1", "denoise 2", "encoded, next panel already denoising: True"]
    scenes = story.scenes.list()
    assert [take.scene_id for take in takes] == [scene.id for scene in scenes]
    finished = [e.scene_id for e in events if isinstance(e, PanelRendered)]
    assert finished == [scene.id for scene in scenes]  # reported in order, each once stored
    assert all(scene.active_take_id is not None for scene in story.scenes.list())
    media = story.media.path(story.takes.get(takes[-1].id).media)
    assert media.read_bytes().startswith(b"\x89PNG")


def test_an_encode_error_stops_the_render_with_that_error_and_keeps_what_was_stored(
    story: ProjectStore, tiny_sdxl_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[int] = []

    def failing_second(image: Image.Image) -> bytes:
        encoded.append(1)
        if len(encoded) == 2:
            raise OSError("the encoder broke")
        return png_bytes(image)

    monkeypatch.setattr(take_writer, "png_bytes", failing_second)
    monkeypatch.setattr(story_renderer, "png_bytes", failing_second)
    with pytest.raises(OSError, match="the encoder broke"):
        render_scenes(story, renderer(tiny_sdxl_dir), build_render_request(story))
    assert [scene.take_count for scene in story.scenes.list()] == [1, 0, 0]
    assert story.integrity_check() == ["ok"]
