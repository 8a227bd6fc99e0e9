"""The whole-story benchmark's reproduction of the official low-VRAM processor
computes the same panels as ours (batched windows and lockstep calls)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch
from diffusers.models.attention_processor import Attention

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def story() -> Iterator[ModuleType]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import official_story

        yield official_story
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.mark.parametrize("story_index", [0, 1], ids=["one-character", "two-characters"])
def test_official_reproduction_and_ours_render_the_same_panels(
    story: ModuleType, story_index: int
) -> None:
    torch.set_num_threads(1)
    level = story.Level(tokens=64, channels=32, heads=2, layers=1)
    torch.manual_seed(0)
    attn = Attention(query_dim=32, heads=2, dim_head=16).eval()
    inputs = story.story_inputs(level, story.STORIES[story_index], seed=3)
    with torch.inference_mode():
        official = story.render_official(attn, inputs)
        for render in (story.render_ours, story.render_lockstep):
            for theirs, ours in zip(official, render(attn, inputs), strict=True):
                torch.testing.assert_close(ours, theirs)
        assert story.check_agreement(attn, inputs) < 1e-5


def test_ours_does_fewer_multiply_adds_by_the_projections_it_shares(story: ModuleType) -> None:
    level = story.LEVELS[0]
    one = story.STORIES[0]
    official, ours = story.story_macs(level, one, True), story.story_macs(level, one, False)
    n, k, c = story.IDENTITY_IMAGES, level.sampled, level.channels
    writes = n * 2 * (n - 1) * k * c * c * 2  # the others' sampled tokens, per identity image
    reads = (len(one.casts) - 2) * 2 * n * k * c * c * 2  # 8 panels project, 2 windows do
    assert official - ours == writes + reads
