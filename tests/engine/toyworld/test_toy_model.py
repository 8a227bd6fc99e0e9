"""The bundled toy model loads through the real loading code and renders a panel."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard_app.engine.errors import ModelNotFoundError
from storyboard_app.engine.loading import (
    ModelSource,
    bundled_model_folder,
    load_text_to_image_pipeline,
)
from storyboard_app.engine.project_render import RenderOptions, build_render_request
from storyboard_app.engine.render_request import PanelRendered
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.engine.toyworld.parse import parse
from storyboard_app.project.bundled import resources_dir
from storyboard_app.project.store import ProjectStore

TOY = resources_dir() / "models" / "toy"


def test_toy_names_the_bundled_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ModelSource.parse("toy") == ModelSource("folder", str(TOY))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy").mkdir()  # a folder of that name here wins, as paths always do
    assert ModelSource.parse("toy") == ModelSource("folder", str(tmp_path / "toy"))


def test_a_missing_bundled_model_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("storyboard_app.engine.loading.resources_dir", lambda: tmp_path)
    with pytest.raises(ModelNotFoundError, match="bundled toy model is not installed"):
        bundled_model_folder("toy")


def test_the_toy_model_renders_a_panel_through_the_story_path(store: ProjectStore) -> None:
    loaded = load_text_to_image_pipeline("toy", device="cpu", dtype="fp32")
    assert loaded.architecture == "sd15"
    weights = sum(f.stat().st_size for f in TOY.rglob("*.safetensors"))
    assert weights <= 40 * 2**20
    store.update_settings(model_source="toy", width=64, height=64, steps=8)
    store.characters.add(
        "Roo", "a round red creature", identity_framings=["large, in the centre, in the day"]
    )
    store.scenes.add("[Roo], large, in the centre, at night, with a sun")
    request = build_render_request(store, options=RenderOptions())
    pictures = []
    StoryRenderer(loaded).render(
        request, lambda e: pictures.append(e.png) if isinstance(e, PanelRendered) else None
    )
    (png,) = pictures
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (64, 64)
    parse(np.asarray(image))  # whatever it shows, the parser reads it without failing
