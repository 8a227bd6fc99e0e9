"""Pre-flight: a generated transition names every missing part, with one command to get them."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fake_hub_server import FakeHub
from PIL import Image

from storyboard_app.cli import main
from storyboard_app.engine.errors import ModelNotFoundError
from storyboard_app.engine.transitions.job import generate_transition
from storyboard_app.engine.transitions.motion_model import MotionSources, check_motion_sources
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

ALL_PARTS = "ip-adapter-sd15 motion-adapter sparsectrl-rgb sd15"


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), shade, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def two_panels(store: ProjectStore) -> tuple[int, int]:
    for prompt in ("a door", "an open door"):
        store.scenes.add(prompt)
    first, second = store.scenes.list()
    for scene, shade in ((first, 40), (second, 200)):
        store.takes.add(scene.id, png(shade), TakeParams(width=64, height=48, source="imported"))
    return first.id, second.id


def test_an_empty_cache_names_every_part_and_one_command_and_records_nothing(
    store: ProjectStore,
) -> None:
    first, second = two_panels(store)
    with pytest.raises(ModelNotFoundError) as raised:
        generate_transition(store, first, second, "motion", 8)
    message = raised.value.message
    for part in ("SD 1.5 base", "motion adapter", "SparseCtrl model", "IP-Adapter", "encoder"):
        assert part in message
    assert raised.value.hint == f"Download them with `storyboard models download {ALL_PARTS}`."
    assert store.transitions.list() == []


def test_only_the_parts_still_missing_are_named(fake_hub: FakeHub) -> None:
    assert main(["models", "download", "sd15"]) == 0
    with pytest.raises(ModelNotFoundError) as raised:
        check_motion_sources(MotionSources())
    assert "SD 1.5 base" not in raised.value.message
    assert raised.value.hint == (
        "Download them with `storyboard models download ip-adapter-sd15 motion-adapter "
        "sparsectrl-rgb`."
    )


def test_a_part_outside_the_catalogue_keeps_its_own_message() -> None:
    sources = MotionSources(motion_adapter="someone/their-adapter")
    with pytest.raises(ModelNotFoundError) as raised:
        check_motion_sources(sources)
    assert "someone/their-adapter" in raised.value.message
    assert "hf download someone/their-adapter" in raised.value.message
    assert "motion-adapter" not in raised.value.hint


def test_the_tiny_model_needs_nothing() -> None:
    check_motion_sources(MotionSources(base="tiny"))
