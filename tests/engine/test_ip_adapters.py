"""A character's IP-Adapter reads its reference picture into its identity and its panels only.

Tiny random adapters (plain and Plus, laid out like the published files) and
a tiny random CLIP image encoder are built here, so loading goes through
diffusers' own ``load_ip_adapter``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor2_0
from PIL import Image
from safetensors.torch import save_file
from transformers import CLIPVisionModelWithProjection

from storyboard_app.engine.loading import LoadedPipeline, load_text_to_image_pipeline
from storyboard_app.engine.motion.encoder import tiny_clip_vision_config
from storyboard_app.engine.project_render import build_render_request, render_scenes
from storyboard_app.engine.render_request import IpAdapterJob, PanelRendered, RenderRequest
from storyboard_app.engine.steering.ip_adapter import IpAdapterPlan, IpAdapterSet
from storyboard_app.engine.story_renderer import StoryRenderer, split_by_steering
from storyboard_app.engine.transitions.tiny_motion import (
    _hidden_width,
    random_ip_adapter_state_dict,
)
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.staleness import panel_stale_reasons
from storyboard_app.project.store import ProjectStore

ENCODER = tiny_clip_vision_config(projection_dim=16)


def plus_state_dict(unet: torch.nn.Module, queries: int = 4) -> dict[str, dict[str, torch.Tensor]]:
    """A random Plus adapter in the published layout (a four-layer resampler)."""
    generator = torch.Generator().manual_seed(3)

    def weight(*shape: int, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * scale

    cross, hidden, features = int(unet.config.cross_attention_dim), 32, ENCODER.hidden_size
    projection = {
        "latents": weight(1, queries, hidden),
        "proj_in.weight": weight(hidden, features),
        "proj_in.bias": torch.zeros(hidden),
        "proj_out.weight": weight(cross, hidden),
        "proj_out.bias": torch.zeros(cross),
        "norm_out.weight": torch.ones(cross),
        "norm_out.bias": torch.zeros(cross),
    }
    for layer in range(4):
        prefix = f"layers.{layer}."
        for norm in ("0.norm1", "0.norm2", "1.0"):
            projection[f"{prefix}{norm}.weight"] = torch.ones(hidden)
            projection[f"{prefix}{norm}.bias"] = torch.zeros(hidden)
        projection[prefix + "0.to_q.weight"] = weight(64, hidden)
        projection[prefix + "0.to_kv.weight"] = weight(128, hidden)
        projection[prefix + "0.to_out.weight"] = weight(hidden, 64)
        projection[prefix + "1.1.weight"] = weight(4 * hidden, hidden)
        projection[prefix + "1.3.weight"] = weight(hidden, 4 * hidden)
    names = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    layers = {
        f"{2 * index + 1}.{kind}.weight": weight(_hidden_width(unet, name), cross, scale=0.3)
        for index, name in enumerate(names)
        for kind in ("to_k_ip", "to_v_ip")
    }
    return {"image_proj": projection, "ip_adapter": layers}


def write_adapter(folder: Path, state: dict[str, dict[str, torch.Tensor]], name: str) -> Path:
    """The adapter as one flat .safetensors file, with image_encoder/ beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    flat = {f"{group}.{key}": value for group, part in state.items() for key, value in part.items()}
    path = folder / name
    save_file({key: value.contiguous() for key, value in flat.items()}, str(path))
    if not (folder / "image_encoder").is_dir():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(5)
            encoder = CLIPVisionModelWithProjection(ENCODER)
        encoder.save_pretrained(folder / "image_encoder")
    return path


@pytest.fixture(scope="module")
def loaded(tiny_sdxl_dir: Path) -> LoadedPipeline:
    return load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")


@pytest.fixture
def renderer(loaded: LoadedPipeline) -> StoryRenderer:
    return StoryRenderer(loaded)


@pytest.fixture(scope="module")
def adapters(tmp_path_factory: pytest.TempPathFactory, loaded: LoadedPipeline) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("adapters")
    unet = loaded.pipe.unet
    return {
        "plain": write_adapter(
            folder, random_ip_adapter_state_dict(unet, embed_dim=16), "plain.safetensors"
        ),
        "plus": write_adapter(folder, plus_state_dict(unet), "plus.safetensors"),
    }


def picture(path: Path, colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (80, 64), colour)
    image.paste((255 - colour[0], 40, 200), (10, 10, 50, 40))
    image.save(path)
    return path


@pytest.fixture
def story(tmp_path: Path, tiny_sdxl_dir: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "story")
    store.update_settings(
        model_source=str(tiny_sdxl_dir), width=64, height=64, steps=2, identity_images=1
    )
    red = picture(tmp_path / "red.png", (200, 30, 30))
    blue = picture(tmp_path / "blue.png", (20, 40, 220))
    store.characters.add("Mara", "a woman with red hair", seed=11, reference_image=red)
    store.characters.add("Bob", "an old man with a beard", seed=22, reference_image=blue)
    store.scenes.add("[Mara] climbs the stairs")
    store.scenes.add("[Bob] waits at the top")
    store.scenes.add("[NC] a storm over the sea")
    store.scenes.add("[Mara] and [Bob] meet")
    yield store
    store.close()


def render(renderer: StoryRenderer, request: RenderRequest) -> dict[int, PanelRendered]:
    events: list[object] = []
    renderer.render(request, events.append)
    return {e.scene_id: e for e in events if isinstance(e, PanelRendered)}


def pixels(panels: dict[int, PanelRendered]) -> dict[int, bytes]:
    return {scene_id: event.png for scene_id, event in panels.items()}


def caches(renderer: StoryRenderer, request: RenderRequest) -> dict[str, str]:
    return {name: renderer.identity_cache_file(request, name).name for name in ("Mara", "Bob")}


def processor_types(renderer: StoryRenderer) -> dict[str, type]:
    return {name: type(p) for name, p in renderer.pipe.unet.attn_processors.items()}


@pytest.mark.parametrize("kind", ["plain", "plus"])
def test_an_adapter_changes_its_characters_panels_only(
    story: ProjectStore, renderer: StoryRenderer, adapters: dict[str, Path], kind: str
) -> None:
    before = processor_types(renderer)
    base_request = build_render_request(story)
    base = pixels(render(renderer, base_request))
    story.characters.update("Mara", ip_adapter=str(adapters[kind]), ip_adapter_scale=0.9)
    request = build_render_request(story)
    steered = render(renderer, request)
    mara, bob, storm, both = (s.id for s in story.scenes.list())
    assert steered[mara].png != base[mara]
    assert steered[both].png != base[both]
    assert steered[bob].png == base[bob]
    assert steered[storm].png == base[storm]
    assert caches(renderer, request)["Mara"] != caches(renderer, base_request)["Mara"]
    assert caches(renderer, request)["Bob"] == caches(renderer, base_request)["Bob"]
    recorded = steered[mara].params.consistency["ip_adapters"]
    assert recorded == {"Mara": {"adapter": f"{kind}.safetensors", "scale": 0.9, "picture": ANY}}
    assert "ip_adapters" not in steered[bob].params.consistency
    # The adapter is gone after the render, and the processors are those of before.
    assert processor_types(renderer) == before
    assert set(before.values()) == {AttnProcessor2_0}
    assert renderer.pipe.unet.encoder_hid_proj is None
    assert pixels(render(renderer, base_request)) == base


class _Any:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other) == 64


ANY = _Any()


def test_scale_zero_renders_as_without_the_adapter(
    story: ProjectStore, renderer: StoryRenderer, adapters: dict[str, Path]
) -> None:
    base = pixels(render(renderer, build_render_request(story)))
    story.characters.update("Mara", ip_adapter=str(adapters["plain"]), ip_adapter_scale=0.0)
    request = build_render_request(story)
    assert request.character("Mara").ip_adapter is None  # scale 0: not loaded at all
    assert pixels(render(renderer, request)) == base
    # Loaded but at scale 0 (diffusers' processor skips it): the same pixels too.
    mara = request.character("Mara")
    job = IpAdapterJob(
        str(adapters["plain"]),
        0.0,
        story.media.path(story.characters.get("Mara").reference_media),
        "0" * 64,
    )
    forced = dataclasses.replace(
        request,
        characters=tuple(
            dataclasses.replace(c, ip_adapter=job) if c is mara else c for c in request.characters
        ),
    )
    assert pixels(render(renderer, forced)) == base


def test_two_characters_with_adapters_are_averaged_in_their_panel(
    story: ProjectStore, renderer: StoryRenderer, adapters: dict[str, Path]
) -> None:
    story.characters.update("Mara", ip_adapter=str(adapters["plain"]), ip_adapter_scale=0.9)
    only_mara = render(renderer, build_render_request(story))
    story.characters.update("Bob", ip_adapter=str(adapters["plus"]), ip_adapter_scale=0.5)
    request = build_render_request(story)
    both = render(renderer, request)
    mara, bob, storm, meet = (s.id for s in story.scenes.list())
    assert both[mara].png == only_mara[mara].png  # Bob's adapter is at scale 0 for Mara
    assert both[storm].png == only_mara[storm].png
    assert both[bob].png != only_mara[bob].png
    assert both[meet].png != only_mara[meet].png
    assert set(both[meet].params.consistency["ip_adapters"]) == {"Mara", "Bob"}


def test_panels_stay_fresh_after_a_steered_render_and_go_stale_on_a_scale_change(
    story: ProjectStore, renderer: StoryRenderer, adapters: dict[str, Path]
) -> None:
    story.characters.update("Mara", ip_adapter=str(adapters["plain"]), ip_adapter_scale=0.9)
    render_scenes(story, renderer, build_render_request(story))
    scenes = story.scenes.list()
    assert all(not panel_stale_reasons(story, scene) for scene in scenes)
    story.characters.update("Mara", ip_adapter_scale=0.4)
    stale = [bool(panel_stale_reasons(story, scene)) for scene in story.scenes.list()]
    assert stale == [True, False, False, True]


def test_embeddings_are_computed_once_and_kept_on_disk(
    story: ProjectStore, loaded: LoadedPipeline, adapters: dict[str, Path]
) -> None:
    story.characters.update("Mara", ip_adapter=str(adapters["plus"]), ip_adapter_scale=0.9)
    request = build_render_request(story)
    assert request.cache_dir is not None
    first = StoryRenderer(loaded)
    panels = pixels(render(first, request))
    render(first, request)
    assert first.picture_embeddings.computed == 1
    assert len(list((request.cache_dir / "ip_adapter").glob("*.safetensors"))) == 1
    again = StoryRenderer(loaded)  # a new process: read from the cache folder
    assert pixels(render(again, request)) == panels
    assert again.picture_embeddings.computed == 0


def test_a_local_adapter_replaced_under_its_name_is_read_again(
    story: ProjectStore, loaded: LoadedPipeline, tmp_path: Path
) -> None:
    """The embeddings and the identity cache know a local adapter by its content, not its
    name: a file replaced in place gets new ones, an unchanged one still hits both."""
    unet = loaded.pipe.unet
    folder = tmp_path / "mine"
    local = write_adapter(folder, random_ip_adapter_state_dict(unet, 16), "face.safetensors")
    story.characters.update("Mara", ip_adapter=str(local), ip_adapter_scale=0.9)
    request = build_render_request(story)
    renderer = StoryRenderer(loaded)
    render(renderer, request)
    cache = renderer.identity_cache_file(request, "Mara")
    render(renderer, request)
    unchanged = StoryRenderer(loaded)  # a new process: from the cache folder
    render(unchanged, request)
    assert (renderer.picture_embeddings.computed, unchanged.picture_embeddings.computed) == (1, 0)

    written = local.stat().st_mtime_ns
    write_adapter(folder, random_ip_adapter_state_dict(unet, 16), "face.safetensors")
    os.utime(local, ns=(written + 10**9, written + 10**9))  # as a copy made a second later
    replaced = pixels(render(renderer, request))
    assert renderer.picture_embeddings.computed == 2
    assert renderer.identity_cache_file(request, "Mara") != cache
    fresh = dataclasses.replace(request, cache_dir=tmp_path / "fresh")
    assert pixels(render(StoryRenderer(loaded), fresh)) == replaced


def test_missing_weights_name_the_repository_and_files(
    story: ProjectStore, renderer: StoryRenderer
) -> None:
    story.characters.update("Mara", ip_adapter="sdxl-plus-face")
    with pytest.raises(ValidationError) as refused:
        render(renderer, build_render_request(story))
    text = refused.value.message + " " + refused.value.hint
    assert "h94/IP-Adapter" in text
    assert "sdxl_models/ip-adapter-plus-face_sdxl_vit-h.safetensors" in text
    assert "models/image_encoder/" in text
    assert "storyboard models download ip-adapter-sdxl-plus-face" in text
    assert renderer.pipe.unet.encoder_hid_proj is None


def test_an_adapter_for_another_model_family_is_refused(
    story: ProjectStore,
    renderer: StoryRenderer,
    tiny_sd15_pipeline: object,
    tmp_path: Path,
) -> None:
    before = processor_types(renderer)
    sd15 = random_ip_adapter_state_dict(tiny_sd15_pipeline.unet, embed_dim=16)
    path = write_adapter(tmp_path / "sd15", sd15, "sd15.safetensors")
    story.characters.update("Mara", ip_adapter=str(path))
    with pytest.raises(ValidationError, match="another model family"):
        render(renderer, build_render_request(story))
    assert processor_types(renderer) == before


def test_a_local_adapter_without_an_encoder_is_refused(
    story: ProjectStore, renderer: StoryRenderer, adapters: dict[str, Path], tmp_path: Path
) -> None:
    lone = tmp_path / "lone" / "plain.safetensors"
    lone.parent.mkdir()
    lone.write_bytes(adapters["plain"].read_bytes())
    story.characters.update("Mara", ip_adapter=str(lone))
    with pytest.raises(ValidationError, match="No image encoder for the IP-Adapter"):
        render(renderer, build_render_request(story))


class _RecordingPipe:
    """Stands in for a pipeline: records the adapter scales each call sets."""

    def __init__(self) -> None:
        self.scales: list[list[float]] = []
        self.unet = SimpleNamespace(device=torch.device("cpu"), dtype=torch.float32)

    def set_ip_adapter_scale(self, scales: list[float]) -> None:
        self.scales.append(list(scales))


def test_a_pass_gets_its_characters_embeddings_and_zeros_for_the_rest() -> None:
    jobs = {
        "Mara": IpAdapterJob("a", 0.8, Path("m.png"), "m"),
        "Bob": IpAdapterJob("a", 0.4, Path("b.png"), "b"),
        "Eve": IpAdapterJob("b", 0.5, Path("e.png"), "e"),
    }
    plan = IpAdapterPlan(jobs, {"a": None, "b": None})
    embeds = {name: torch.full((2, 1, 3), float(i + 1)) for i, name in enumerate(jobs)}
    pipe = _RecordingPipe()
    adapters = IpAdapterSet(pipe, plan, embeds, guided=True)
    call = adapters.call_kwargs(("Mara", "Bob"))["ip_adapter_image_embeds"]
    assert torch.equal(call[0], torch.full((2, 1, 3), 1.5))
    assert torch.equal(call[1], torch.zeros(2, 1, 3))
    assert pipe.scales[-1] == pytest.approx([0.6, 0.0])
    call = adapters.call_kwargs(("Eve",))["ip_adapter_image_embeds"]
    assert torch.equal(call[1], embeds["Eve"]) and pipe.scales[-1] == [0.0, 0.5]
    unguided = IpAdapterSet(pipe, plan, embeds, guided=False)
    assert unguided.call_kwargs(("Eve",))["ip_adapter_image_embeds"][1].shape == (1, 1, 3)


@pytest.mark.parametrize("kind", ["plain", "plus"])
def test_sd15_adapters_steer_their_character(
    tiny_sd15_dir: Path, tmp_path: Path, kind: str
) -> None:
    loaded15 = load_text_to_image_pipeline(str(tiny_sd15_dir), device="cpu")
    unet = loaded15.pipe.unet
    state = (
        random_ip_adapter_state_dict(unet, embed_dim=16)
        if kind == "plain"
        else plus_state_dict(unet)
    )
    path = write_adapter(tmp_path / "adapter", state, f"{kind}_sd15.safetensors")
    renderer = StoryRenderer(loaded15)
    with ProjectStore.create(tmp_path / "story") as store:
        store.update_settings(
            model_source=str(tiny_sd15_dir), width=64, height=64, steps=2, identity_images=1
        )
        red = picture(tmp_path / "red.png", (200, 30, 30))
        store.characters.add("Mara", "a woman with red hair", seed=11, reference_image=red)
        store.characters.add("Bob", "an old man with a beard", seed=22)
        store.scenes.add("[Mara] climbs the stairs")
        store.scenes.add("[Bob] waits at the top")
        base = pixels(render(renderer, build_render_request(store)))
        store.characters.update("Mara", ip_adapter=str(path), ip_adapter_scale=1.0)
        steered = pixels(render(renderer, build_render_request(store)))
        mara, bob = (s.id for s in store.scenes.list())
    assert steered[mara] != base[mara]
    assert steered[bob] == base[bob]
    assert renderer.pipe.unet.encoder_hid_proj is None


def test_a_kind_is_read_from_the_hub_cache_like_the_same_local_file(
    story: ProjectStore, renderer: StoryRenderer, adapters: dict[str, Path], tmp_path: Path
) -> None:
    snapshot = tmp_path / "snapshot"
    (snapshot / "sdxl_models").mkdir(parents=True)
    shutil.copy(adapters["plain"], snapshot / "sdxl_models/ip-adapter_sdxl_vit-h.safetensors")
    shutil.copytree(adapters["plain"].parent / "image_encoder", snapshot / "models/image_encoder")
    commit = "0" * 40
    repo = Path(os.environ["HF_HUB_CACHE"]) / "models--h94--IP-Adapter"
    shutil.copytree(snapshot, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    story.characters.update("Mara", ip_adapter=str(adapters["plain"]), ip_adapter_scale=0.7)
    local = pixels(render(renderer, build_render_request(story)))
    story.characters.update("Mara", ip_adapter="sdxl")
    request = build_render_request(story)
    assert pixels(render(renderer, request)) == local
    mara = story.scenes.list()[0].id
    assert render(renderer, request)[mara].params.consistency["ip_adapters"]["Mara"] == {
        "adapter": "sdxl",
        "scale": 0.7,
        "picture": ANY,
    }


def test_a_batch_is_cut_where_the_adapter_characters_change(
    story: ProjectStore, adapters: dict[str, Path]
) -> None:
    story.characters.update("Mara", ip_adapter=str(adapters["plain"]))
    request = build_render_request(story)
    groups = split_by_steering(request, request.panels)
    assert [[p.number for p in group] for group in groups] == [[1], [2, 3], [4]]
