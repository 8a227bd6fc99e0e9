"""Render sizes from aspect ratios: on the architecture's grid, near its native pixel count."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from storyboard_app.project.errors import ValidationError
from storyboard_app.project.frame_sizes import (
    ASPECT_RATIOS,
    describe_size,
    fit_size,
    parse_aspect_ratio,
)
from storyboard_app.project.settings import ProjectSettings, auto_size
from storyboard_app.project.store import ProjectStore


@pytest.mark.parametrize(
    ("aspect", "expected"),
    [
        ("16:9", (1344, 768)),
        ("2.39:1", (1536, 640)),
        ("1.85:1", (1408, 768)),
        ("4:3", (1152, 896)),
        ("1:1", (1024, 1024)),
        ("9:16", (768, 1344)),
    ],
)
def test_sdxl_sizes_are_its_training_buckets(aspect: str, expected: tuple[int, int]) -> None:
    assert fit_size(aspect, "sdxl") == expected


@pytest.mark.parametrize("architecture", ["sdxl", "sd15"])
@pytest.mark.parametrize("aspect", ASPECT_RATIOS)
def test_every_shape_fits_the_grid_the_pixel_count_and_the_ratio(
    architecture: str, aspect: str
) -> None:
    width, height = fit_size(aspect, architecture)
    step, pixels = {"sdxl": (64, 1024 * 1024), "sd15": (8, 512 * 512)}[architecture]
    assert width % step == 0 and height % step == 0
    assert abs(width * height / pixels - 1) < 0.1
    ratio = parse_aspect_ratio(aspect)
    # Within one grid step of the exact shape.
    assert abs(width / height - ratio) <= step / min(width, height) * ratio


def test_sd15_is_about_a_quarter_megapixel() -> None:
    assert fit_size("1:1", "sd15") == (512, 512)
    assert fit_size("16:9", "sd15") == (680, 384)
    assert fit_size("2.39:1", "sd15") == (784, 328)
    assert fit_size("9:16", "sd15") == (384, 680)


def test_a_small_native_side_keeps_its_square_exact() -> None:
    assert fit_size("1:1", "sdxl", native_side=96) == (96, 96)
    width, height = fit_size("16:9", "sdxl", native_side=96)
    assert width % 32 == 0 and width > height


def test_unknown_architectures_render_like_sdxl() -> None:
    assert fit_size("16:9", "flux") == fit_size("16:9", "sdxl")


@pytest.mark.parametrize("text", ["", "16", "16:0", "a:b", "-4:3", "nan:1", "10:1", "1:5"])
def test_bad_aspect_ratios_are_refused_with_the_fix(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_aspect_ratio(text)
    assert "16:9" in caught.value.hint or "1:4" in caught.value.hint


def test_aspect_ratio_parses_decimals() -> None:
    assert math.isclose(parse_aspect_ratio(" 2.39:1 "), 2.39)
    assert math.isclose(parse_aspect_ratio("9:16"), 9 / 16)


def test_describe_size_names_the_megapixels() -> None:
    assert describe_size(1344, 768) == "1344x768 (1.03 MP)"


def test_auto_size_fits_the_shape_only_when_both_sides_are_auto() -> None:
    assert auto_size(0, 0, "16:9", "sdxl") == (1344, 768)
    assert auto_size(0, 0, "16:9", "sd15") == (680, 384)
    assert auto_size(0, 0, "16:9", None) == (1344, 768)
    assert auto_size(768, 0, "16:9", "sd15") == (768, 512)
    assert auto_size(640, 360, "1:1", "sdxl") == (640, 360)


def test_the_project_stores_its_aspect_ratio_and_refuses_a_bad_one(store: ProjectStore) -> None:
    assert store.settings().aspect_ratio == "1:1"
    settings = store.update_settings(aspect_ratio="2.39:1")
    assert settings.render_size("sdxl") == (1536, 640)
    folder: Path = store.folder
    with ProjectStore.open(folder) as again:
        assert again.settings().aspect_ratio == "2.39:1"
        with pytest.raises(ValidationError, match="not a ratio"):
            again.update_settings(aspect_ratio="wide")
        assert again.settings().aspect_ratio == "2.39:1"
    assert ProjectSettings().render_size() == (1024, 1024)
