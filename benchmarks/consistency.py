"""Does a character stay the same from panel to panel? Counted on the bundled toy model.

The toy model (``resources/models/toy``, trained on the procedural world of
``storyboard_app.engine.toyworld``) draws 64 px pictures whose every attribute
the world's parser reads back. Stories go through the real path: a temporary
project with characters, panels and the users' default settings (30 steps,
guidance 5, euler; only the size is 64 px and the model ``toy``), a request built
by ``build_render_request``, rendered by ``StoryRenderer`` with its identity
caches. Each character is described by its shape only (``a round creature``), so
its colour, hat and pattern are left to the model; its identity images show it
with toy-world framings (``large, in the centre, in the day``).

Stories, per seed (the project's base seed, from which every panel's seed comes):

- one character, 8 panels with random backgrounds, props, placements and sizes,
  plus 2 ``[NC]`` panels (scenes without anyone);
- two characters (a round and a square creature) in 8 panels, each on a random side.

Each is rendered with consistency on (the defaults) and off (both sampling
rates 0: a panel sees no other image's tokens), and every picture is parsed.

Figures: *attribute agreement* is the mean over pairs of panels of one story of
the share of open attributes (colour, hat, pattern) the character shows alike
(chance is about 0.24); *prompt following* the share of what prompts name
(background, props, creature count, each character's position, size and shape)
that pictures show; *[NC] character leak* the share of ``[NC]`` panels of the
consistent renders that show a creature; *two-character swap rate* the share of
two-character panels (consistent) where a creature looks more like the other
character's majority look than its own.

``--design`` prints instead a table of the engine's design choices (identity
image count, sampling rates, blocks, 8-bit cache, window sharing), each a
variant of the consistent render over the same stories.

Usage: ``python benchmarks/consistency.py [--quick] [--seeds N] [--design]
[--threads N]``. ``--quick`` (3 seeds) takes a few minutes on a CPU. The last
lines are ``toy world attribute agreement: consistent X.XX, plain Y.YY``,
``toy world prompt following: consistent X.XX, plain Y.YY``, ``toy world [NC]
character leak: X.XX`` and ``toy world two-character swap rate: X.XX``.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from storyboard_app.engine.loading import load_text_to_image_pipeline
from storyboard_app.engine.project_render import RenderOptions, build_render_request
from storyboard_app.engine.render_request import PanelRendered
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.engine.toyworld.captions import POSITION_WORDS
from storyboard_app.engine.toyworld.parse import parse
from storyboard_app.engine.toyworld.scoring import (
    Cast,
    PanelPlan,
    Standing,
    attribute_agreement,
    leak_rate,
    prompt_following,
    swapped_panels,
)
from storyboard_app.engine.toyworld.world import BACKGROUNDS, PROPS, SIZES, Picture
from storyboard_app.project.store import ProjectStore

PANELS = 8
NC_PANELS = 2
FRAMINGS = ("large, in the centre, in the day", "large, in the centre, on grass")
BACKGROUND_PHRASES = {
    "day": "in the day",
    "night": "at night",
    "grass": "on grass",
    "sand": "on sand",
}
PLAIN = {"sampling_rate": 0.0, "sampling_rate_high_res": 0.0}


@dataclass
class Story:
    """A story's characters and panels: prompt text and plan, in order."""

    casts: tuple[Cast, ...]
    panels: list[tuple[str, PanelPlan]] = field(default_factory=list)
    nc_panels: list[str] = field(default_factory=list)


def scene_phrase(background: str, props: Sequence[str]) -> str:
    text = BACKGROUND_PHRASES[background]
    return text + (", with " + " and ".join(f"a {p}" for p in props) if props else "")


def random_scene(rng: np.random.Generator) -> tuple[str, tuple[str, ...]]:
    return str(rng.choice(list(BACKGROUNDS))), tuple(p for p in PROPS if rng.random() < 0.35)


def standing_phrase(standing: Standing) -> str:
    return f"[{standing.character}], {standing.size}, {POSITION_WORDS[standing.position]}"


def one_character_story(rng: np.random.Generator) -> Story:
    """``[Roo]`` (a round creature) in 8 panels, and 2 ``[NC]`` panels."""
    story = Story((Cast("Roo", {"shape": "round"}),))
    for _ in range(PANELS):
        background, props = random_scene(rng)
        position = str(rng.choice(list(POSITION_WORDS)))
        standing = Standing("Roo", position, str(rng.choice(list(SIZES))))
        prompt = f"{standing_phrase(standing)}, {scene_phrase(background, props)}"
        story.panels.append((prompt, PanelPlan(background, props, (standing,))))
    for _ in range(NC_PANELS):
        story.nc_panels.append(f"[NC] {scene_phrase(*random_scene(rng))}")
    return story


def two_character_story(rng: np.random.Generator) -> Story:
    """``[Roo]`` and ``[Pip]`` (a square creature) side by side, each on a random side."""
    story = Story((Cast("Roo", {"shape": "round"}), Cast("Pip", {"shape": "square"})))
    for _ in range(PANELS):
        background, props = random_scene(rng)
        sides = ("left", "right") if rng.random() < 0.5 else ("right", "left")
        cast = tuple(
            Standing(name, side, str(rng.choice(list(SIZES))))
            for name, side in zip(("Roo", "Pip"), sides, strict=True)
        )
        ordered = sorted(cast, key=lambda s: s.position)  # "left" before "right"
        people = ", and ".join(standing_phrase(s) for s in ordered)
        prompt = f"{people}, {scene_phrase(background, props)}"
        story.panels.append((prompt, PanelPlan(background, props, tuple(ordered))))
    return story


def description(cast: Cast) -> str:
    return f"a {cast.named['shape']} creature"


@dataclass
class Rendered:
    """A rendered story: the plans and what the pictures parse as."""

    story: Story
    pictures: list[Picture]
    nc_pictures: list[Picture]
    seconds: float


def render_story(
    renderer: StoryRenderer, story: Story, seed: int, changes: Mapping[str, Any], folder: Path
) -> Rendered:
    """Render ``story`` in a fresh project whose settings are the defaults plus ``changes``."""
    with ProjectStore.create(folder / f"story-{seed}-{len(story.casts)}.storyboard") as store:
        store.update_settings(base_seed=seed, model_source="toy", width=64, height=64, **changes)
        for cast in story.casts:
            store.characters.add(cast.name, description(cast), identity_framings=FRAMINGS)
        ids = [store.scenes.add(prompt).id for prompt, _ in story.panels]
        nc_ids = [store.scenes.add(prompt).id for prompt in story.nc_panels]
        request = build_render_request(store, options=RenderOptions(model_source="toy"))
        pictures: dict[int, Picture] = {}

        def collect(event: object) -> None:
            if isinstance(event, PanelRendered):
                image = Image.open(io.BytesIO(event.png)).convert("RGB")
                pictures[event.scene_id] = parse(np.asarray(image))

        start = time.process_time()
        renderer.render(request, collect)
        seconds = time.process_time() - start
    return Rendered(story, [pictures[i] for i in ids], [pictures[i] for i in nc_ids], seconds)


@dataclass(frozen=True)
class Figures:
    """The scores of one setting over every story rendered with it."""

    agreement: float
    per_attribute: dict[str, float]
    following: float
    leak: float
    swap: float
    seconds: float


def score(runs: Sequence[Rendered]) -> Figures:
    """Agreement and leaks over the one-character stories, swaps over the two-character ones."""
    singles = [r for r in runs if len(r.story.casts) == 1]
    pairs = [r for r in runs if len(r.story.casts) == 2]
    stories = [(r.story.casts[0], [p for _, p in r.story.panels], r.pictures) for r in singles]
    open_attributes = stories[0][0].open_attributes() if stories else ()
    per_attribute = {a: attribute_agreement(stories, only=a) for a in open_attributes}
    following = [
        prompt_following(plan, picture, {c.name: c for c in r.story.casts})
        for r in runs
        for (_, plan), picture in zip(r.story.panels, r.pictures, strict=True)
    ]
    swaps = [
        swapped_panels(r.story.casts, [p for _, p in r.story.panels], r.pictures) for r in pairs
    ]
    counted = sum(n for _, n in swaps)
    return Figures(
        agreement=attribute_agreement(stories),
        per_attribute=per_attribute,
        following=float(np.mean(following)) if following else 0.0,
        leak=leak_rate([p for r in singles for p in r.nc_pictures]),
        swap=sum(s for s, _ in swaps) / counted if counted else 0.0,
        seconds=sum(r.seconds for r in runs),
    )


def render_all(
    renderer: StoryRenderer, seeds: Sequence[int], changes: Mapping[str, Any], pairs: bool = True
) -> list[Rendered]:
    """Every story of every seed with the settings ``changes``."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            stories = [one_character_story(rng)] + ([two_character_story(rng)] if pairs else [])
            runs += [render_story(renderer, s, seed, changes, Path(tmp)) for s in stories]
    return runs


DESIGN_VARIANTS: dict[str, dict[str, Any]] = {
    "defaults (2 identity images, rates 0.5, up_blocks)": {},
    "1 identity image": {"identity_images": 1},
    "4 identity images": {"identity_images": 4},
    "sampling rates 0.3": {"sampling_rate": 0.3, "sampling_rate_high_res": 0.3},
    "sampling rates 0.7": {"sampling_rate": 0.7, "sampling_rate_high_res": 0.7},
    "sampling rates 0.9": {"sampling_rate": 0.9, "sampling_rate_high_res": 0.9},
    "blocks up_blocks.1 (8x8 level only)": {"blocks": ("up_blocks.1",)},
    "blocks down_blocks, mid_block, up_blocks": {
        "blocks": ("down_blocks", "mid_block", "up_blocks")
    },
    "8-bit identity cache": {"identity_cache_precision": "fp8"},
    "window sharing between panels": {"share_between_panels": True},
    "consistency off (rates 0)": PLAIN,
}


def print_design_table(renderer: StoryRenderer, seeds: Sequence[int]) -> None:
    """One row per design choice, each over the same stories and seeds."""
    print("\n| variant | agreement | following | leak | swap | CPU s |")
    print("|---|---|---|---|---|---|")
    for label, changes in DESIGN_VARIANTS.items():
        f = score(render_all(renderer, seeds, changes))
        print(
            f"| {label} | {f.agreement:.2f} | {f.following:.2f} | {f.leak:.2f} | "
            f"{f.swap:.2f} | {f.seconds:.0f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds (a few minutes on a CPU)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--design", action="store_true", help="only the design-choice table")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = list(range(1, 1 + (3 if args.quick else args.seeds)))
    renderer = StoryRenderer(load_text_to_image_pipeline("toy", device="cpu", dtype="fp32"))
    if args.design:
        print_design_table(renderer, seeds)
        return
    consistent = score(render_all(renderer, seeds, {}))
    plain = score(render_all(renderer, seeds, PLAIN))
    print(
        f"{len(seeds)} seeds: per seed one story of 1 character ({PANELS} panels + "
        f"{NC_PANELS} [NC]) and one of 2 characters ({PANELS} panels)\n"
    )
    print("| mode | agreement | " + " | ".join(consistent.per_attribute) + " | following | CPU s |")
    print("|---|---|" + "---|" * len(consistent.per_attribute) + "---|---|")
    for label, f in (("consistent", consistent), ("plain", plain)):
        cells = " | ".join(f"{v:.2f}" for v in f.per_attribute.values())
        print(f"| {label} | {f.agreement:.2f} | {cells} | {f.following:.2f} | {f.seconds:.0f} |")
    print(f"\nplain [NC] leak {plain.leak:.2f}, plain swap rate {plain.swap:.2f}")
    print(
        f"toy world attribute agreement: consistent {consistent.agreement:.2f}, "
        f"plain {plain.agreement:.2f}"
    )
    print(
        f"toy world prompt following: consistent {consistent.following:.2f}, "
        f"plain {plain.following:.2f}"
    )
    print(f"toy world [NC] character leak: {consistent.leak:.2f}")
    print(f"toy world two-character swap rate: {consistent.swap:.2f}")


if __name__ == "__main__":
    main()
