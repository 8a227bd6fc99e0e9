"""LoRAs: tiny random peft LoRAs on the tiny SDXL; scale 0, per-character isolation, CLI."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from support import run_cli

from storyboard_app.engine.loading import LoadedPipeline, load_text_to_image_pipeline
from storyboard_app.engine.project_render import (
    build_render_request,
    render_scenes,
    rerender_request,
)
from storyboard_app.engine.render_request import PanelRendered
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.engine.tiny_models import build_tiny_sdxl_pipeline
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.store import ProjectStore

peft = pytest.importorskip("peft")


def make_lora(folder: Path, seed: int) -> Path:
    """A random LoRA on the tiny SDXL UNet's attention projections, saved as diffusers does."""
    from diffusers import StableDiffusionXLPipeline
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    unet = build_tiny_sdxl_pipeline().unet
    config = peft.LoraConfig(
        r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False
    )
    unet.add_adapter(config)
    folder.mkdir(parents=True, exist_ok=True)
    StableDiffusionXLPipeline.save_lora_weights(
        folder, unet_lora_layers=get_peft_model_state_dict(unet), safe_serialization=True
    )
    target = folder / f"style{seed}.safetensors"
    (folder / "pytorch_lora_weights.safetensors").rename(target)
    return target


@pytest.fixture(scope="module")
def lora_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("loras")
    return make_lora(folder, 1), make_lora(folder, 2)


@pytest.fixture(scope="module")
def loaded(tiny_sdxl_dir: Path) -> LoadedPipeline:
    return load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")


@pytest.fixture
def story(tmp_path: Path, tiny_sdxl_dir: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "story")
    store.update_settings(
        model_source=str(tiny_sdxl_dir), width=64, height=64, steps=2, identity_images=2
    )
    store.characters.add("Mara", "a woman with red hair", seed=11)
    store.characters.add("Bob", "an old man with a beard", seed=22)
    store.scenes.add("[Mara] climbs the stairs")
    store.scenes.add("[Bob] waits at the top")
    store.scenes.add("[NC] a storm")  # a prompt whose panel showed peft's frozen weights
    yield store
    store.close()


def render(loaded: LoadedPipeline, store: ProjectStore) -> tuple[dict[int, bytes], dict, list]:
    renderer = StoryRenderer(loaded)
    request = build_render_request(store)
    events: list[object] = []
    renderer.render(request, events.append)
    rendered = [e for e in events if isinstance(e, PanelRendered)]
    keys = {name: renderer.identity_cache_file(request, name) for name in ("Mara", "Bob")}
    return {e.scene_id: e.png for e in rendered}, keys, rendered


def test_a_character_lora_changes_only_its_panels_and_scale_0_changes_none(
    story: ProjectStore, loaded: LoadedPipeline, lora_files: tuple[Path, Path]
) -> None:
    mara, bob, storm = (scene.id for scene in story.scenes.list())
    base, base_keys, _ = render(loaded, story)
    story.loras.add(lora_files[0], character="Mara", scale=1.0)
    steered, keys, rendered = render(loaded, story)
    assert steered[mara] != base[mara]
    assert (steered[bob], steered[storm]) == (base[bob], base[storm])
    assert keys["Mara"] != base_keys["Mara"] and keys["Bob"] == base_keys["Bob"]
    records = {e.scene_id: e.params.consistency.get("loras") for e in rendered}
    assert records[mara] == [
        {"name": "style1", "digest": story.loras.list()[0].digest, "scale": 1.0}
    ]
    assert records[bob] is None and records[storm] is None
    assert not getattr(loaded.pipe.unet, "peft_config", None)  # adapters removed after it

    story.loras.remove("style1")
    story.loras.add(lora_files[1], scale=0.0, trigger="sks")  # project-wide, at scale 0
    zero, zero_keys, _ = render(loaded, story)
    assert zero == base and zero_keys == base_keys
    assert "sks" not in build_render_request(story).panels[0].prompt


def test_a_project_lora_steers_every_panel_and_adds_its_trigger(
    story: ProjectStore, loaded: LoadedPipeline, lora_files: tuple[Path, Path]
) -> None:
    base, _, _ = render(loaded, story)
    story.loras.add(lora_files[1], scale=1.0, trigger="ink wash")
    request = build_render_request(story)
    assert all(panel.prompt.startswith("ink wash, ") for panel in request.panels)
    assert all(p.startswith("ink wash, ") for c in request.characters for p in c.identity_prompts)
    steered, _, _ = render(loaded, story)
    assert all(steered[scene] != base[scene] for scene in base)


def test_a_take_re_renders_with_the_loras_it_recorded_bit_for_bit(
    story: ProjectStore, loaded: LoadedPipeline, lora_files: tuple[Path, Path], tmp_path: Path
) -> None:
    kept = tmp_path / "kept.safetensors"
    kept.write_bytes(lora_files[1].read_bytes())
    story.loras.add(kept, scale=0.8, trigger="ink wash")
    story.update_settings(style="film-noir")
    renderer = StoryRenderer(loaded)
    storm = story.scenes.at(3).id
    (take,) = render_scenes(story, renderer, build_render_request(story, [storm]))
    story.loras.remove("kept")
    story.loras.add(lora_files[0], scale=1.0, trigger="other")
    story.update_settings(style="anime")
    again = rerender_request(story, take.id)
    assert [(lora.name, lora.scale, lora.trigger) for lora in again.loras] == [
        ("kept", 0.8, "ink wash")
    ]
    assert again.style == "film-noir"
    events: list[object] = []
    renderer.render(again, events.append)
    (rendered,) = [e for e in events if isinstance(e, PanelRendered)]
    assert rendered.png == story.media.read_bytes(take.media)

    kept.write_bytes(lora_files[0].read_bytes())
    with pytest.raises(ValidationError, match="has changed since"):
        rerender_request(story, take.id)
    kept.unlink()
    with pytest.raises(ValidationError, match="whose file is gone") as gone:
        rerender_request(story, take.id)
    assert str(kept) in str(gone.value)


def test_pickle_and_fake_loras_are_refused_unopened(story: ProjectStore, tmp_path: Path) -> None:
    checkpoint = tmp_path / "evil.ckpt"
    checkpoint.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ValidationError, match=r"not a \.safetensors file"):
        story.loras.add(checkpoint)
    disguised = tmp_path / "evil.safetensors"
    disguised.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ValidationError, match="not a safetensors file"):
        story.loras.add(disguised)
    with pytest.raises(ValidationError, match="does not exist"):
        story.loras.add(tmp_path / "missing.safetensors")
    assert story.loras.list() == []


def test_cli_adds_lists_and_removes_loras(
    story: ProjectStore, lora_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = story.folder
    story.close()
    code, out, err = run_cli(
        capsys, "lora", "add", folder, lora_files[0], "--scale", "0.7", "--trigger", "sks",
        "--character", "Mara",
    )  # fmt: skip
    assert code == 0, err
    assert "for Mara at scale 0.7" in out
    code, out, _ = run_cli(capsys, "lora", "list", folder, "--json")
    listed = json.loads(out)
    assert [(e["name"], e["scale"], e["trigger"], e["character"]) for e in listed] == [
        ("style1", 0.7, "sks", "Mara")
    ]
    code, out, err = run_cli(capsys, "lora", "set", folder, "style1", "--scale", "0.4")
    assert code == 0, err
    assert 'now at scale 0.4, trigger "sks"' in out
    code, out, err = run_cli(capsys, "lora", "set", folder, "style1", "--trigger", "")
    assert code == 0 and "now at scale 0.4, no trigger word" in out
    code, out, _ = run_cli(capsys, "lora", "list", folder, "--json")
    assert [(e["scale"], e["trigger"], e["character"]) for e in json.loads(out)] == [
        (0.4, "", "Mara")
    ]
    code, _, err = run_cli(capsys, "lora", "set", folder, "style1")
    assert code == 1 and "Nothing to change" in err
    code, _, err = run_cli(capsys, "lora", "set", folder, "style1", "--scale", "9")
    assert code == 1 and "is not usable" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "lora", "set", folder, "nope", "--scale", "1")
    assert code == 1 and "LoRAs in this project: style1" in err
    code, _, err = run_cli(capsys, "lora", "add", folder, lora_files[1], "--scale", "lots")
    assert code == 1 and "is not usable" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "lora", "remove", folder, "nope")
    assert code == 1 and "LoRAs in this project: style1" in err
    code, out, _ = run_cli(capsys, "lora", "remove", folder, "style1")
    assert code == 0
    code, out, _ = run_cli(capsys, "lora", "list", folder)
    assert "No LoRAs" in out
