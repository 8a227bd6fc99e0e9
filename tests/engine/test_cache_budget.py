"""Several identity caches per character under a disk budget, least recently used
evicted first, and ``storyboard cache`` to list and clear them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from support import run_cli

from storyboard_app.engine.cache_store import (
    EMBEDS_DIR,
    IDENTITY_CACHE_DIR,
    cache_path,
    evict_caches,
    list_caches,
)
from storyboard_app.engine.identity_cache_file import IdentityCacheWriter, open_identity_cache
from storyboard_app.engine.loading import LoadedPipeline, load_text_to_image_pipeline
from storyboard_app.engine.project_render import build_render_request
from storyboard_app.engine.render_request import IdentityReady, IpAdapterJob, RenderEvent
from storyboard_app.engine.steering.ip_adapter import AdapterFiles, PictureEmbeddings
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.store import ProjectStore

LAYER = "up_blocks.0.attentions.0.transformer_blocks.0.attn1"
ENTRY_BYTES = 2 * 64 * 32 * 2


def make_cache(folder: Path, character: str, key: str, used: float, steps: int = 2) -> Path:
    """A small real cache of ``character`` under ``key``, last used at ``used`` (epoch s)."""
    path = cache_path(folder, character, key)
    assert path is not None
    folder.mkdir(parents=True, exist_ok=True)
    writer = IdentityCacheWriter(
        path, key, metadata={"character": character, "summary": f"{key}, 30 steps"}
    )
    for step in range(steps):
        writer.put(step, LAYER, torch.ones(2, 64, 32))
        writer.end_step(step)
    writer.finish().close()
    os.utime(path, (used, used))
    return path


def test_least_recently_used_caches_go_first_and_in_use_ones_stay(tmp_path: Path) -> None:
    old = make_cache(tmp_path, "Mara", "a" * 64, used=1_000)
    middle = make_cache(tmp_path, "Bob", "b" * 64, used=2_000)
    recent = make_cache(tmp_path, "Mara", "c" * 64, used=3_000)
    in_use = make_cache(tmp_path, "Bob", "d" * 64, used=500)  # oldest, but being read
    foreign = tmp_path / "notes.safetensors"
    foreign.write_bytes(b"x" * 10_000)
    size = old.stat().st_size
    removed = evict_caches(tmp_path, budget_bytes=2 * size, keep=[in_use])
    assert [info.path for info in removed] == [old, middle]
    assert sorted(tmp_path.iterdir()) == sorted([recent, in_use, foreign])
    assert evict_caches(tmp_path, budget_bytes=1, keep=[in_use, recent]) == []
    assert foreign.exists()  # never ours: never deleted, never counted


def test_opening_a_cache_marks_it_used(tmp_path: Path) -> None:
    first = make_cache(tmp_path, "Mara", "a" * 64, used=1_000)
    second = make_cache(tmp_path, "Mara", "b" * 64, used=2_000)
    open_identity_cache(first).close()
    assert [info.path for info in list_caches(tmp_path)] == [first, second]
    evict_caches(tmp_path, budget_bytes=first.stat().st_size)
    assert first.exists() and not second.exists()


@pytest.fixture(scope="module")
def loaded(tiny_sdxl_dir: Path) -> LoadedPipeline:
    return load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")


@pytest.fixture
def story(tmp_path: Path, tiny_sdxl_dir: Path) -> Iterator[ProjectStore]:
    store = ProjectStore.create(tmp_path / "story")
    store.update_settings(
        model_source=str(tiny_sdxl_dir), width=64, height=64, steps=2, identity_images=2
    )
    store.characters.add("Mara", "a woman with red hair", seed=11)
    store.characters.add("Bob", "an old man with a beard", seed=22)
    store.scenes.add("[Mara] and [Bob] climb the stairs")
    yield store
    store.close()


def built(events: list[RenderEvent]) -> list[bool]:
    return [e.built for e in events if isinstance(e, IdentityReady)]


def test_renders_keep_a_cache_per_setting_within_the_budget(
    story: ProjectStore, loaded: LoadedPipeline
) -> None:
    folder = story.folder / IDENTITY_CACHE_DIR
    renderer = StoryRenderer(loaded)
    renderer.render(build_render_request(story), lambda event: None)
    two_steps = {info.path for info in list_caches(folder)}
    story.update_settings(steps=3)
    renderer.render(build_render_request(story), lambda event: None)
    assert len(list_caches(folder)) == 4  # both settings kept: 20 GB is plenty
    story.update_settings(steps=2)
    events: list[RenderEvent] = []
    renderer.render(build_render_request(story), events.append)
    assert built(events) == [False, False]  # going back rebuilds nothing

    story.update_settings(identity_cache_budget_gb=1e-9, steps=4)
    renderer.render(build_render_request(story), lambda event: None)
    left = list_caches(folder)
    assert len(left) == 2  # over the budget: only what this render reads is kept
    assert not {info.path for info in left} & two_steps


def cli_caches(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> object:
    code, out, err = run_cli(capsys, "cache", project, *args)
    assert code == 0, err
    return json.loads(out) if "--json" in args else out


def test_cache_command_lists_and_clears(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "story.storyboard"
    ProjectStore.create(project).close()
    folder = project / IDENTITY_CACHE_DIR
    assert "(none)" in cli_caches(capsys, project)
    make_cache(folder, "Mara", "a" * 64, used=1_000)
    make_cache(folder, "Mara", "b" * 64, used=3_000, steps=4)
    bob = make_cache(folder, "Bob", "c" * 64, used=2_000)
    damaged = cache_path(folder, "Bob", "d" * 64)
    damaged.write_bytes(bob.read_bytes()[:200])
    (folder / "readme.safetensors").write_bytes(b"someone else's file")

    os.utime(damaged, (500, 500))
    listed = cli_caches(capsys, project, "--json")
    assert [(c["character"], c["state"]) for c in listed] == [
        ("Mara", "ok"),
        ("Bob", "ok"),
        ("Mara", "ok"),
        ("bob", "damaged"),  # its header is gone: named from its file
    ]
    assert listed[0]["size"] == Path(listed[0]["path"]).stat().st_size
    assert listed[0]["summary"] == "b" * 64 + ", 30 steps"
    assert listed[0]["last_used"] > listed[1]["last_used"]
    table = cli_caches(capsys, project)
    assert "Mara" in table and "damaged" in table and "4 caches" in table

    crashed = folder / (bob.name + ".123-abcd.data.partial")  # a build killed long ago
    crashed.write_bytes(b"half a step")
    os.utime(crashed, (1_000, 1_000))
    building = folder / (bob.name + ".456-ef01.data.partial")  # another process's, live
    building.write_bytes(b"a step")
    cleared = cli_caches(capsys, project, "--clear", "Bob", "--json")
    assert not crashed.exists() and building.exists()
    assert len(cleared["removed"]) == 2 and cleared["left"] == []
    assert {c["character"] for c in cli_caches(capsys, project, "--json")} == {"Mara"}
    assert "Removed 2 identity caches" in cli_caches(capsys, project, "--clear")
    assert cli_caches(capsys, project, "--json") == []
    assert (folder / "readme.safetensors").exists()


def write_embeddings(folder: Path, adapter: Path, character: str, picture: str) -> Path:
    """A character's picture embeddings as a render keeps them (the real store and key)."""
    encoder = adapter.parent / "image_encoder"
    encoder.mkdir(parents=True, exist_ok=True)
    (encoder / "config.json").write_text("{}")
    save_file({"ip_adapter.1.to_k_ip.weight": torch.zeros(2, 2)}, str(adapter))
    job = IpAdapterJob(str(adapter), 0.6, adapter.parent / "picture.png", picture)
    state = {"image_proj": {"proj.weight": torch.zeros(2, 2)}, "ip_adapter": {}}
    files = AdapterFiles(adapter, encoder)
    embeds = torch.ones(2, 1, 16)
    path = PictureEmbeddings().put(job, files, state, folder / EMBEDS_DIR, embeds, character)
    assert path is not None and path.is_file()
    return path


def test_cache_command_counts_and_clears_ip_adapter_embeddings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The picture embeddings under cache/identity/ip_adapter/ are caches too: listed,
    counted in the total and cleared; nothing else there or outside is touched."""
    project = tmp_path / "story.storyboard"
    ProjectStore.create(project).close()
    folder = project / IDENTITY_CACHE_DIR
    make_cache(folder, "Mara", "a" * 64, used=4_000)
    adapter = tmp_path / "adapters" / "face.safetensors"
    mara = write_embeddings(folder, adapter, "Mara", "1" * 64)
    bob = write_embeddings(folder, adapter, "Bob", "2" * 64)
    os.utime(mara, (3_000, 3_000))
    os.utime(bob, (2_000, 2_000))
    older = folder / EMBEDS_DIR / ("e" * 32 + ".safetensors")  # from before they were named
    save_file({"embeds": torch.ones(2, 1, 16)}, str(older))
    os.utime(older, (1_000, 1_000))
    foreign = folder / EMBEDS_DIR / "notes.safetensors"
    save_file({"weights": torch.ones(2)}, str(foreign))
    outside = project / mara.name
    outside.write_bytes(mara.read_bytes())
    crashed = folder / EMBEDS_DIR / ("f" * 32 + ".partial")
    crashed.write_bytes(b"half written")
    os.utime(crashed, (1_000, 1_000))

    listed = cli_caches(capsys, project, "--json")
    assert [(c["kind"], c["character"]) for c in listed] == [
        ("identity", "Mara"),
        ("ip_adapter", "Mara"),
        ("ip_adapter", "Bob"),
        ("ip_adapter", ""),
    ]
    assert [c["size"] for c in listed[1:]] == [p.stat().st_size for p in (mara, bob, older)]
    assert "face.safetensors" in listed[1]["summary"]
    table = cli_caches(capsys, project)
    assert "4 caches" in table and "IP-Adapter" in table

    cleared = cli_caches(capsys, project, "--clear", "Bob", "--json")
    assert [c["path"] for c in cleared["removed"]] == [str(bob)]
    assert mara.exists() and older.exists()
    text = cli_caches(capsys, project, "--clear")
    assert "Removed 1 identity cache and 2 IP-Adapter embeddings" in text
    assert cli_caches(capsys, project, "--json") == []
    assert not crashed.exists() and foreign.exists() and outside.exists()


def test_cache_command_on_a_folder_that_is_not_a_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "cache", tmp_path / "missing.storyboard")
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err


def test_cache_command_does_not_import_torch() -> None:
    probe = "import sys, storyboard_app.cli.cache; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
