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
image count, sampling rates, blocks, 8-bit cache, window sharing, a reference
picture per character), each a variant of the consistent render over the same
stories. ``--probe`` asks instead whether the model's self-attention matches
tokens at all (``attention_probe.py``): without that, no setting can share a look.

Usage: ``python benchmarks/consistency.py [--quick] [--seeds N] [--design | --probe]
[--model toy|FOLDER] [--threads N]``. ``--quick`` (3 seeds) takes a few minutes on a CPU. The last
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from attention_probe import probe
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
    reference_match,
    swapped_panels,
)
from storyboard_app.engine.toyworld.world import (
    BACKGROUNDS,
    PROPS,
    SIZES,
    Creature,
    Picture,
    Placed,
    draw,
    random_creature,
)
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
PLAIN_SETTINGS = {"sampling_rate": 0.0, "sampling_rate_high_res": 0.0}


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
    references: tuple[Creature, ...] = ()


@dataclass(frozen=True)
class Variant:
    """Settings changed from the users' defaults, and whether characters get a reference picture.

    A reference picture is drawn by the world: the character's shape with a look
    drawn from the story's seed, large, in the centre, in the day.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)
    reference: bool = False


def reference_look(cast: Cast, seed: int) -> Creature:
    """The look a character's reference picture shows: its shape, the rest drawn from the seed."""
    drawn = random_creature(np.random.default_rng([seed, len(cast.name), ord(cast.name[0])]))
    return replace(drawn, shape=cast.named["shape"])


def add_reference(store: ProjectStore, cast: Cast, seed: int, folder: Path) -> Creature:
    """Give ``cast``'s character a reference picture of :func:`reference_look`; that look."""
    look = reference_look(cast, seed)
    path = folder / f"reference-{seed}-{cast.name}.png"
    Image.fromarray(draw(Picture("day", (), (Placed(look, "centre", "large"),)))).save(path)
    store.characters.update(store.characters.get(cast.name).id, reference_image=path)
    return look


@dataclass(frozen=True)
class Bench:
    """The renderer and the model source its projects name (``toy`` or a toy model's folder)."""

    renderer: StoryRenderer
    model: str = "toy"


def render_story(bench: Bench, story: Story, seed: int, variant: Variant, folder: Path) -> Rendered:
    """Render ``story`` in a fresh project set up as ``variant`` says."""
    model = bench.model
    with ProjectStore.create(folder / f"story-{seed}-{len(story.casts)}.storyboard") as store:
        store.update_settings(
            base_seed=seed, model_source=model, width=64, height=64, **variant.settings
        )
        for cast in story.casts:
            store.characters.add(cast.name, description(cast), identity_framings=FRAMINGS)
        references = tuple(
            add_reference(store, cast, seed, folder) for cast in story.casts if variant.reference
        )
        ids = [store.scenes.add(prompt).id for prompt, _ in story.panels]
        nc_ids = [store.scenes.add(prompt).id for prompt in story.nc_panels]
        request = build_render_request(store, options=RenderOptions(model_source=model))
        pictures: dict[int, Picture] = {}

        def collect(event: object) -> None:
            if isinstance(event, PanelRendered):
                image = Image.open(io.BytesIO(event.png)).convert("RGB")
                pictures[event.scene_id] = parse(np.asarray(image))

        start = time.process_time()
        bench.renderer.render(request, collect)
        seconds = time.process_time() - start
    return Rendered(
        story, [pictures[i] for i in ids], [pictures[i] for i in nc_ids], seconds, references
    )


@dataclass(frozen=True)
class Figures:
    """The scores of one setting over every story rendered with it."""

    agreement: float
    per_attribute: dict[str, float]
    following: float
    leak: float
    swap: float
    seconds: float
    reference_match: float | None = None


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
    referenced = [
        (s, r.references[0]) for s, r in zip(stories, singles, strict=True) if r.references
    ]
    return Figures(
        reference_match=(
            reference_match([s for s, _ in referenced], [look for _, look in referenced])
            if referenced
            else None
        ),
        agreement=attribute_agreement(stories),
        per_attribute=per_attribute,
        following=float(np.mean(following)) if following else 0.0,
        leak=leak_rate([p for r in singles for p in r.nc_pictures]),
        swap=sum(s for s, _ in swaps) / counted if counted else 0.0,
        seconds=sum(r.seconds for r in runs),
    )


def render_all(
    bench: Bench, seeds: Sequence[int], variant: Variant, pairs: bool = True
) -> list[Rendered]:
    """Every story of every seed, set up as ``variant`` says."""
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            rng = np.random.default_rng(seed)
            stories = [one_character_story(rng)] + ([two_character_story(rng)] if pairs else [])
            runs += [render_story(bench, s, seed, variant, Path(tmp)) for s in stories]
    return runs


DESIGN_VARIANTS: dict[str, Variant] = {
    "defaults (2 identity images, rates 0.5, up_blocks)": Variant(),
    "1 identity image": Variant({"identity_images": 1}),
    "4 identity images": Variant({"identity_images": 4}),
    "sampling rates 0.3": Variant({"sampling_rate": 0.3, "sampling_rate_high_res": 0.3}),
    "sampling rates 0.7": Variant({"sampling_rate": 0.7, "sampling_rate_high_res": 0.7}),
    "sampling rates 0.9": Variant({"sampling_rate": 0.9, "sampling_rate_high_res": 0.9}),
    "blocks up_blocks.1 (8x8 level only)": Variant({"blocks": ("up_blocks.1",)}),
    "blocks down_blocks, mid_block, up_blocks": Variant(
        {"blocks": ("down_blocks", "mid_block", "up_blocks")}
    ),
    "8-bit identity cache": Variant({"identity_cache_precision": "fp8"}),
    "window sharing between panels": Variant({"share_between_panels": True}),
    "a reference picture per character": Variant(reference=True),
    "consistency off (rates 0)": Variant(PLAIN_SETTINGS),
}
PLAIN = DESIGN_VARIANTS["consistency off (rates 0)"]


def print_design_table(bench: Bench, seeds: Sequence[int]) -> None:
    """One row per design choice, each over the same stories and seeds."""
    print("\n| variant | agreement | following | leak | swap | matches reference | CPU s |")
    print("|---|---|---|---|---|---|---|")
    for label, variant in DESIGN_VARIANTS.items():
        f = score(render_all(bench, seeds, variant))
        matched = "" if f.reference_match is None else f"{f.reference_match:.2f}"
        print(
            f"| {label} | {f.agreement:.2f} | {f.following:.2f} | {f.leak:.2f} | "
            f"{f.swap:.2f} | {matched} | {f.seconds:.0f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds (a few minutes on a CPU)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--design", action="store_true", help="only the design-choice table")
    parser.add_argument(
        "--probe", action="store_true", help="only ask whether self-attention matches tokens"
    )
    parser.add_argument("--model", default="toy", help="toy, or a toy model folder trained here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = list(range(1, 1 + (3 if args.quick else args.seeds)))
    loaded = load_text_to_image_pipeline(args.model, device="cpu", dtype="fp32")
    if args.probe:
        print("\n".join(probe(loaded.pipe, range(len(seeds)))))
        return
    bench = Bench(StoryRenderer(loaded), args.model)
    if args.design:
        print_design_table(bench, seeds)
        return
    consistent = score(render_all(bench, seeds, Variant()))
    plain = score(render_all(bench, seeds, PLAIN))
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
