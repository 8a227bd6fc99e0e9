"""A character's reference picture steers its identity cache, and only its panels."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard_app.engine.loading import LoadedPipeline, load_text_to_image_pipeline
from storyboard_app.engine.project_render import build_render_request
from storyboard_app.engine.render_request import PanelRendered, ReferencePicture
from storyboard_app.engine.steering.reference import ReferenceTokens, load_reference, to_rgb
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.errors import MediaError, ValidationError
from storyboard_app.project.settings import SCHEDULER_NAMES
from storyboard_app.project.store import ProjectStore


@pytest.fixture(scope="module")
def loaded(tiny_sdxl_dir: Path) -> LoadedPipeline:
    return load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")


@pytest.fixture
def renderer(loaded: LoadedPipeline) -> StoryRenderer:
    return StoryRenderer(loaded)


@pytest.fixture
def story(tmp_path: Path, tiny_sdxl_dir: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "story")
    store.update_settings(
        model_source=str(tiny_sdxl_dir), width=64, height=64, steps=3, identity_images=2
    )
    store.characters.add("Mara", "a woman with red hair", seed=11)
    store.characters.add("Bob", "an old man with a beard", seed=22)
    store.scenes.add("[Mara] climbs the stairs")
    store.scenes.add("[Bob] waits at the top")
    store.scenes.add("[NC] a storm over the sea")
    yield store
    store.close()


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> Path:
    image = Image.new("RGB", size, colour)
    image.paste((255 - colour[0], 40, 200), (10, 10, 50, 40))
    image.save(path)
    return path


def render(renderer: StoryRenderer, store: ProjectStore) -> tuple[dict[str, bytes], dict[str, str]]:
    """Panel pixels by first word after the tag, and each character's cache file name."""
    request = build_render_request(store)
    events: list[object] = []
    renderer.render(request, events.append)
    panels = {e.params.prompt: e.png for e in events if isinstance(e, PanelRendered)}
    caches = {name: renderer.identity_cache_file(request, name).name for name in ("Mara", "Bob")}
    return panels, caches


def by_character(panels: dict[str, bytes]) -> dict[str, bytes]:
    named = {"red hair": "Mara", "beard": "Bob", "storm": "NC"}
    return {
        who: png for prompt, png in panels.items() for key, who in named.items() if key in prompt
    }


def test_reference_changes_its_character_only_and_strength_scales_it(
    story: ProjectStore, renderer: StoryRenderer, tmp_path: Path
) -> None:
    base, base_caches = render(renderer, story)
    story.characters.update("Mara", reference_image=picture(tmp_path / "red.png", (200, 30, 30)))
    red, red_caches = render(renderer, story)
    assert red_caches["Mara"] != base_caches["Mara"]
    assert red_caches["Bob"] == base_caches["Bob"]
    before, after = by_character(base), by_character(red)
    assert after["Mara"] != before["Mara"]
    assert after["Bob"] == before["Bob"]
    assert after["NC"] == before["NC"]

    # Two projects that differ only by the picture: other key, other pixels.
    story.characters.update("Mara", reference_image=picture(tmp_path / "blue.png", (20, 30, 220)))
    blue, blue_caches = render(renderer, story)
    assert blue_caches["Mara"] not in (red_caches["Mara"], base_caches["Mara"])
    assert by_character(blue)["Mara"] != after["Mara"]

    story.characters.update("Mara", reference_strength=0.5)
    half, half_caches = render(renderer, story)
    assert half_caches["Mara"] != blue_caches["Mara"]
    assert by_character(half)["Mara"] != by_character(blue)["Mara"]

    story.characters.update("Mara", reference_strength=0.0)
    none, none_caches = render(renderer, story)
    assert none_caches == base_caches
    assert by_character(none) == before


def test_reference_renders_in_memory_as_on_disk(
    story: ProjectStore, renderer: StoryRenderer, tmp_path: Path
) -> None:
    story.characters.update("Mara", reference_image=picture(tmp_path / "red.png", (200, 30, 30)))
    request = build_render_request(story, [story.scenes.at(1).id])
    pngs = []
    for cache_dir in (request.cache_dir, None):
        events: list[object] = []
        renderer.render(dataclasses.replace(request, cache_dir=cache_dir), events.append)
        pngs.append([e.png for e in events if isinstance(e, PanelRendered)])
    assert pngs[0] == pngs[1]


def test_strength_is_checked(story: ProjectStore) -> None:
    with pytest.raises(ValidationError, match="from 0 to 1"):
        story.characters.update("Mara", reference_strength=1.5)
    with pytest.raises(ValidationError, match="from 0 to 1"):
        story.characters.update("Mara", reference_strength="much")
    assert story.characters.get("Mara").reference_strength == 1.0


def test_reference_tokens_keep_the_strengths_share_of_the_picture() -> None:
    class Sink:
        key = "k"

        def __init__(self) -> None:
            self.shapes: list[tuple[int, ...]] = []

        def put(self, step: int, layer: str, tokens: object) -> None:
            self.shapes.append(tuple(tokens.shape))

        def end_step(self, step: int) -> None:
            pass

    import torch

    sink = Sink()
    tokens = torch.arange(2 * 3 * 10 * 4, dtype=torch.float32).view(2, 30, 4)
    ReferenceTokens(sink, images=3, strength=0.5).put(1, "layer", tokens)
    ReferenceTokens(sink, images=3, strength=1.0).put(1, "layer", tokens)
    assert sink.shapes == [(2, 25, 4), (2, 30, 4)]


@pytest.mark.parametrize(
    "mode", ["RGBA", "P", "PA", "LA", "L", "1", "I;16", "I", "F", "CMYK", "YCbCr", "RGB"]
)
def test_every_image_mode_becomes_rgb_at_the_render_size(tmp_path: Path, mode: str) -> None:
    source = Image.new("RGB", (120, 80), (250, 120, 10)).convert(mode)
    path = tmp_path / (
        "ref.tif" if mode in ("I;16", "I", "F", "CMYK", "YCbCr", "PA") else "ref.png"
    )
    source.save(path)
    image = load_reference(ReferencePicture(path, "x"), 64, 48)
    assert image.mode == "RGB"
    assert image.size == (64, 48)


def test_sixteen_bit_grey_keeps_its_range() -> None:
    deep = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    assert deep.mode.startswith("I;16")
    assert to_rgb(deep).getpixel((0, 0)) == (255, 255, 255)


def test_transparency_lies_over_white() -> None:
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 20, 20))  # white on the left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif, quality=95)
    upright = load_reference(ReferencePicture(path, "x"), 20, 40)
    top, bottom = upright.getpixel((10, 5)), upright.getpixel((10, 35))
    assert top[0] > 200 and bottom[0] < 50  # the left half is now the top


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (8000, 5001)).save(path)
    with pytest.raises(MediaError, match="megapixels"):
        load_reference(ReferencePicture(path, "x"), 64, 64)


def test_a_missing_picture_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        load_reference(ReferencePicture(tmp_path / "gone.png", "x"), 64, 64)


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_every_scheduler_noises_the_picture_to_its_timesteps(
    story: ProjectStore, renderer: StoryRenderer, tmp_path: Path, scheduler: str
) -> None:
    story.update_settings(scheduler=scheduler)
    request = dataclasses.replace(
        build_render_request(story, [story.scenes.at(1).id]), cache_dir=None
    )
    plain: list[object] = []
    renderer.render(request, plain.append)
    story.characters.update("Mara", reference_image=picture(tmp_path / "red.png", (200, 30, 30)))
    request = dataclasses.replace(
        build_render_request(story, [story.scenes.at(1).id]), cache_dir=None
    )
    steered: list[object] = []
    renderer.render(request, steered.append)
    pixels = [
        np.asarray(Image.open(io.BytesIO(e.png)), dtype=np.float32)
        for e in (*plain, *steered)
        if isinstance(e, PanelRendered)
    ]
    assert np.isfinite(pixels[1]).all()
    assert np.abs(pixels[0] - pixels[1]).max() > 0
