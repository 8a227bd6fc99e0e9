"""Stale means one thing: whatever went into the active take changed, and the reasons say what."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support import png_bytes

from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.models import Take
from storyboard_app.project.records import TakeParams, TakeRecord
from storyboard_app.project.staleness import (
    INPUTS_KEY,
    panel_inputs,
    panel_stale_reasons,
    record_take_inputs,
)
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.tags import expand_tags
from storyboard_app.project.undo_support import character_signature, record_take_identities


def render(store: ProjectStore, number: int, *, record: bool = True, **params: object) -> None:
    """Store a take of panel ``number`` the way the engine does, as its active take."""
    scene = store.scenes.at(number)
    settings = store.settings()
    characters = {c.name: c for c in store.characters.list()}
    values: dict[str, object] = {
        "prompt": expand_tags(scene.prompt, {n: c.description for n, c in characters.items()}),
        "negative_prompt": scene.negative_prompt,
        "seed": scene.seed,
        "model_source": settings.model_source,
        "steps": settings.steps,
        "guidance": settings.guidance,
        "scheduler": settings.scheduler,
        **params,
    }
    size = {"width": settings.width, "height": settings.height}
    take = store.takes.add(scene.id, png_bytes(), TakeParams(**size, **values))
    if record:
        cast = [characters[n] for n in scene.character_names]
        record_take_identities(store, take.id, {c.id: character_signature(c) for c in cast})
        loras = store.loras.list()
        record_take_inputs(store, take.id, panel_inputs(scene, settings, characters, loras))


def reasons(store: ProjectStore, number: int) -> list[str]:
    return [reason.text for reason in panel_stale_reasons(store, store.scenes.at(number))]


def test_a_fresh_render_has_no_reason(story_store: ProjectStore) -> None:
    for number in (1, 2, 3, 4):
        render(story_store, number)
        assert reasons(story_store, number) == []


def test_editing_the_prompt_makes_the_panel_stale_and_putting_it_back_fresh(
    story_store: ProjectStore,
) -> None:
    render(story_store, 4)
    scene = story_store.scenes.at(4)
    story_store.scenes.update(scene.id, prompt="[NC] a calm sea")
    assert reasons(story_store, 4) == ["prompt changed"]
    story_store.scenes.update(scene.id, prompt=scene.prompt)
    assert reasons(story_store, 4) == []


def test_the_negative_prompt_the_cast_and_the_seed_each_say_so(
    story_store: ProjectStore,
) -> None:
    for number in (1, 2, 4):
        render(story_store, number)
    story_store.scenes.update(story_store.scenes.at(1).id, negative_prompt="blurry")
    story_store.scenes.update(story_store.scenes.at(2).id, characters=["Bob", "Mara"])
    story_store.scenes.update(story_store.scenes.at(4).id, seed=77)
    assert reasons(story_store, 1) == ["negative prompt changed"]
    assert reasons(story_store, 2) == ["cast changed"]
    assert reasons(story_store, 4) == ["seed changed"]


def test_a_character_look_names_the_character(story_store: ProjectStore) -> None:
    for number in (1, 2, 3):
        render(story_store, number)
    story_store.characters.update("Mara", description="a tall woman with a grey coat")
    assert reasons(story_store, 1) == ["Mara's look changed"]
    assert reasons(story_store, 2) == []
    assert reasons(story_store, 3) == ["Mara's look changed"]


def test_a_reference_picture_and_its_strength_mark_only_its_panels_stale(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    picture = tmp_path / "face.png"
    picture.write_bytes(png_bytes())
    for number in (1, 2, 3, 4):
        render(story_store, number)
    story_store.characters.update("Mara", reference_image=picture)
    assert reasons(story_store, 1) == ["Mara's look changed"]
    assert reasons(story_store, 2) == []
    assert reasons(story_store, 3) == ["Mara's look changed"]
    assert reasons(story_store, 4) == []
    render(story_store, 1)
    story_store.characters.update("Mara", reference_strength=0.5)
    assert reasons(story_store, 1) == ["Mara's look changed"]
    story_store.characters.update("Mara", reference_strength=0.0)
    render(story_store, 1)
    story_store.characters.update("Mara", reference_image=None)
    assert reasons(story_store, 1) == []  # strength 0 rendered as without a picture


def test_an_ip_adapter_and_its_scale_mark_only_its_panels_stale(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    for number in (1, 2, 3, 4):
        render(story_store, number)
    story_store.characters.update("Mara", ip_adapter="sd15")
    assert reasons(story_store, 1) == []  # no picture for the adapter to read yet
    picture = tmp_path / "face.png"
    picture.write_bytes(png_bytes())
    story_store.characters.update("Mara", reference_image=picture, reference_strength=0.0)
    assert reasons(story_store, 1) == ["Mara's look changed"]
    assert (reasons(story_store, 2), reasons(story_store, 4)) == ([], [])
    assert reasons(story_store, 3) == ["Mara's look changed"]
    render(story_store, 1)
    story_store.characters.update("Mara", ip_adapter_scale=0.9)
    assert reasons(story_store, 1) == ["Mara's look changed"]
    story_store.characters.update("Mara", ip_adapter="sdxl-plus-face")
    render(story_store, 1)
    story_store.characters.update("Mara", ip_adapter_scale=0.0)
    assert reasons(story_store, 1) == ["Mara's look changed"]
    render(story_store, 1)
    story_store.characters.update("Mara", ip_adapter="", ip_adapter_scale=0.6)
    assert reasons(story_store, 1) == []  # scale 0 rendered as without an adapter
    assert reasons(story_store, 2) == []


def test_renaming_a_character_changes_no_picture(story_store: ProjectStore) -> None:
    render(story_store, 1)
    story_store.characters.update("Mara", name="Marta")
    assert story_store.scenes.at(1).prompt.startswith("[Marta]")
    assert reasons(story_store, 1) == []


def test_render_settings_count_and_the_frame_rate_does_not(story_store: ProjectStore) -> None:
    story_store.update_settings(model_source="tiny")
    render(story_store, 4)
    story_store.update_settings(frame_rate=12)
    assert reasons(story_store, 4) == []
    for change in ({"steps": 12}, {"style_preset": "ink"}, {"share_between_panels": True}):
        before = story_store.settings()
        story_store.update_settings(**change)
        assert reasons(story_store, 4) == ["settings changed"], change
        story_store.update_settings(before)


def test_settings_that_change_no_picture_leave_the_panel_fresh(story_store: ProjectStore) -> None:
    story_store.update_settings(model_source="tiny")
    render(story_store, 4)
    # A window only batches work while panels share nothing; the budget only evicts caches.
    story_store.update_settings(window_size=2, identity_cache_budget_gb=3.0)
    assert reasons(story_store, 4) == []
    story_store.update_settings(share_between_panels=True)
    assert reasons(story_store, 4) == ["settings changed"]


def test_the_aspect_ratio_counts_only_while_the_size_is_auto(story_store: ProjectStore) -> None:
    story_store.update_settings(model_source="tiny")
    render(story_store, 4)
    story_store.update_settings(aspect_ratio="16:9")
    assert reasons(story_store, 4) == ["settings changed"]
    story_store.update_settings(aspect_ratio="1:1", width=640, height=360)
    render(story_store, 4)
    story_store.update_settings(aspect_ratio="2.39:1")
    assert reasons(story_store, 4) == []  # the fixed 640x360 renders the same


def test_a_setting_added_after_the_render_at_its_default_leaves_it_fresh(
    story_store: ProjectStore,
) -> None:
    story_store.update_settings(model_source="tiny")
    render(story_store, 4)
    take = story_store.takes.get(story_store.scenes.at(4).active_take_id)
    record = json.loads(take.params.consistency[INPUTS_KEY]["settings"])
    record.pop("freeu")  # as if the take predates the FreeU setting
    with story_store.session() as session:
        row = session.get(Take, take.id)
        stored = json.loads(row.consistency_json)
        stored[INPUTS_KEY]["settings"] = json.dumps(record)
        row.consistency_json = json.dumps(stored)
    assert reasons(story_store, 4) == []
    story_store.update_settings(freeu="on")
    assert reasons(story_store, 4) == ["settings changed"]


def test_choosing_an_older_reroll_is_not_a_seed_change(story_store: ProjectStore) -> None:
    render(story_store, 4)
    scene = story_store.scenes.at(4)
    first = scene.active_take_id
    story_store.scenes.update(scene.id, seed=scene.seed + 1)
    render(story_store, 4)
    story_store.takes.set_active(scene.id, first)
    assert reasons(story_store, 4) == []


def test_takes_without_a_record_are_judged_from_what_they_kept(
    story_store: ProjectStore,
) -> None:
    story_store.update_settings(model_source="tiny")
    render(story_store, 1, record=False)
    assert reasons(story_store, 1) == []
    scene = story_store.scenes.at(1)
    story_store.scenes.update(scene.id, prompt="[Mara] sleeps")
    story_store.update_settings(steps=3)
    story_store.characters.update("Mara", description="someone else")
    assert reasons(story_store, 1) == ["prompt changed", "Mara's look changed", "settings changed"]


def test_imported_pictures_are_never_stale(story_store: ProjectStore) -> None:
    scene = story_store.scenes.at(1)
    take: TakeRecord = story_store.takes.add(
        scene.id, png_bytes(), TakeParams(width=16, height=16, source="imported")
    )
    assert take.params.source == "imported"
    story_store.scenes.update(scene.id, prompt="[Mara] anything", seed=5)
    assert reasons(story_store, 1) == []


def test_a_character_lora_marks_only_its_panels_stale_and_the_worker_agrees(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import save_file

    from storyboard_app.engine.project_render import build_render_request, panel_signatures

    lora = tmp_path / "look.safetensors"
    save_file({"unet.x.lora_A.weight": torch.zeros(2, 2)}, lora)
    for number in (1, 2, 3, 4):
        render(story_store, number)
    story_store.characters.add("Zoe", "a girl in a yellow coat")
    story_store.loras.add(lora, character="Zoe", scale=1.0)
    assert [reasons(story_store, n) for n in (1, 2, 3, 4)] == [[], [], [], []]
    story_store.loras.remove("look")
    story_store.loras.add(lora, character="Mara", scale=0.8, trigger="sks")
    assert reasons(story_store, 1) == ["Mara's look changed"]
    assert reasons(story_store, 2) == []
    assert reasons(story_store, 4) == []

    story_store.update_settings(model_source="tiny")
    request = build_render_request(story_store, [story_store.scenes.at(1).id])
    mara = story_store.characters.get("Mara")
    signatures = panel_signatures(story_store, request)
    assert signatures[story_store.scenes.at(1).id] == {mara.id: character_signature(mara)}


def test_a_project_lora_marks_every_rendered_panel_stale_and_undoing_it_fresh(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import save_file

    from storyboard_app.engine.project_render import build_render_request, take_provenance

    lora, other = tmp_path / "ink.safetensors", tmp_path / "wash.safetensors"
    save_file({"unet.x.lora_A.weight": torch.zeros(2, 2)}, lora)
    save_file({"unet.x.lora_A.weight": torch.ones(2, 2)}, other)
    for number in (1, 2, 3, 4):
        render(story_store, number)
    story_store.loras.add(lora, scale=0.7)
    assert [reasons(story_store, n) for n in (1, 2, 3, 4)] == [["LoRAs changed"]] * 4
    story_store.loras.remove("ink")
    assert [reasons(story_store, n) for n in (1, 2, 3, 4)] == [[], [], [], []]
    story_store.loras.add(lora, scale=0.0)  # scale 0 renders as without it
    assert reasons(story_store, 4) == []

    story_store.loras.remove("ink")
    story_store.loras.add(lora, scale=0.7)
    render(story_store, 4)
    assert reasons(story_store, 4) == []
    for changes in ({"scale": 0.8}, {"trigger": "inkstyle"}, {"file": other}):
        story_store.loras.remove("ink")
        story_store.loras.add(
            changes.get("file", lora),
            name="ink",
            **{"scale": changes.get("scale", 0.7), "trigger": changes.get("trigger", "")},
        )
        assert reasons(story_store, 4) == ["LoRAs changed"], changes
    story_store.loras.remove("ink")
    story_store.loras.add(lora, scale=0.7)
    assert reasons(story_store, 4) == []
    assert reasons(story_store, 1) == ["LoRAs changed"]

    story_store.update_settings(model_source="tiny")
    scene = story_store.scenes.at(2)
    request = build_render_request(story_store, [scene.id])
    story_store.loras.remove("ink")  # after the render started: the take keeps what it used
    recorded = take_provenance(story_store, request)[scene.id][INPUTS_KEY]
    assert json.loads(recorded["loras"]) == [
        {
            "name": "ink",
            "path": str(lora),
            "digest": request.loras[0].digest,
            "scale": 0.7,
            "trigger": "",
        }
    ]


def test_dialogue_narration_and_notes_change_no_picture(story_store: ProjectStore) -> None:
    render(story_store, 1)
    scene_id = story_store.scenes.at(1).id
    story_store.scenes.update(scene_id, dialogue="Mara: Who is there?", caption="Night.")
    story_store.scenes.update(scene_id, notes="hold longer")
    assert reasons(story_store, 1) == []


def test_setting_a_loras_scale_or_trigger_marks_what_it_steers_stale(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import save_file

    ink, look = tmp_path / "ink.safetensors", tmp_path / "look.safetensors"
    save_file({"unet.x.lora_A.weight": torch.zeros(2, 2)}, ink)
    save_file({"unet.x.lora_A.weight": torch.ones(2, 2)}, look)
    story_store.loras.add(ink, scale=0.7)
    story_store.loras.add(look, scale=1.0, character="Mara")
    for number in (1, 2, 3, 4):
        render(story_store, number)
    story_store.loras.update("look", trigger="  sks ")
    assert story_store.loras.list()[1].trigger == "sks"
    assert [reasons(story_store, n) for n in (1, 2, 3, 4)] == [
        ["Mara's look changed"],
        [],
        ["Mara's look changed"],
        [],
    ]
    story_store.loras.update("look", trigger="")
    assert [reasons(story_store, n) for n in (1, 2, 3, 4)] == [[], [], [], []]
    story_store.loras.update("ink", scale=0.5)
    assert [reasons(story_store, n) for n in (1, 2, 3, 4)] == [["LoRAs changed"]] * 4
    story_store.loras.update("ink", scale=0.7, trigger="")
    assert reasons(story_store, 4) == []
    with pytest.raises(ValidationError, match="not usable"):
        story_store.loras.update("ink", scale="lots")
    with pytest.raises(NotFoundError, match="LoRAs in this project: ink, look"):
        story_store.loras.update("nope", scale=1.0)
    assert [lora.scale for lora in story_store.loras.list()] == [0.7, 1.0]


def test_the_shot_type_counts_only_while_the_project_adds_it(story_store: ProjectStore) -> None:
    for number in (1, 4):
        render(story_store, number)
    story_store.scenes.update(story_store.scenes.at(1).id, shot_type="close-up")
    assert reasons(story_store, 1) == ["shot type changed"]
    story_store.update_settings(shot_in_prompt=False)
    assert reasons(story_store, 1) == []
    assert reasons(story_store, 4) == ["shot type changed"]  # "wide shot" is gone from it


def test_takes_from_before_the_shot_setting_stay_fresh_when_it_is_off(
    story_store: ProjectStore,
) -> None:
    story_store.update_settings(shot_in_prompt=False)
    render(story_store, 4)
    take = story_store.takes.get(story_store.scenes.at(4).active_take_id)
    with story_store.session() as session:
        row = session.get_one(Take, take.id)
        record = json.loads(row.consistency_json)
        del record[INPUTS_KEY]["shot"]
        row.consistency_json = json.dumps(record)
    assert reasons(story_store, 4) == []


def test_undoing_a_character_delete_restores_its_loras_and_what_was_fresh(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    """A character's LoRAs go with it (their rows cascade); its undo must bring them back,
    or the character returns with another look and its panels read as stale."""
    import torch
    from safetensors.torch import save_file

    from storyboard_app.project.undo_support import restore_character, snapshot_character

    files = {}
    for value, name in enumerate(("ink", "look", "beard", "coat")):
        files[name] = tmp_path / f"{name}.safetensors"
        save_file({"unet.x.lora_A.weight": torch.full((2, 2), float(value))}, files[name])
    story_store.loras.add(files["ink"], scale=0.7)
    story_store.loras.add(files["look"], scale=0.8, trigger="sks", character="Mara")
    story_store.loras.add(files["beard"], character="Bob")
    story_store.loras.add(files["coat"], scale=0.0, trigger="green coat", character="Mara")
    for number in (1, 2, 3, 4):
        render(story_store, number)
    story_store.loras.update("beard", scale=0.5)  # Bob's panels are stale before the delete
    loras, mara = story_store.loras.list(), story_store.characters.get("Mara")
    before = [reasons(story_store, n) for n in (1, 2, 3, 4)]
    assert before == [[], ["Bob's look changed"], ["Bob's look changed"], []]

    snapshot = snapshot_character(story_store, mara.id)
    story_store.characters.delete("Mara")
    assert [lora.name for lora in story_store.loras.list()] == ["ink", "beard"]
    restore_character(story_store, snapshot)
    assert story_store.loras.list() == loras
    assert story_store.characters.get("Mara") == mara
    assert [reasons(story_store, n) for n in (1, 2, 3, 4)] == before


def test_a_restored_characters_loras_keep_their_places_when_ids_moved_meanwhile(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    """Rewriting the list (the app's LoRA list and its undo) gives every LoRA a new id, so
    the deleted ones' old ids can be taken; they return to their places in the list."""
    import torch
    from safetensors.torch import save_file

    from storyboard_app.project.undo_support import restore_character, snapshot_character

    for value, name in enumerate(("ink", "look", "beard")):
        weights = {"unet.x.lora_A.weight": torch.full((2, 2), float(value))}
        save_file(weights, tmp_path / f"{name}.safetensors")
    story_store.loras.add(tmp_path / "ink.safetensors", scale=0.7)
    story_store.loras.add(tmp_path / "look.safetensors", trigger="sks", character="Mara")
    story_store.loras.add(tmp_path / "beard.safetensors", character="Bob")
    before = story_store.loras.list()
    snapshot = snapshot_character(story_store, story_store.characters.get("Mara").id)
    story_store.characters.delete("Mara")
    story_store.loras.replace(story_store.loras.list())  # ids now 1 and 2: "look"'s is taken
    restore_character(story_store, snapshot)
    after = story_store.loras.list()
    assert [lora.name for lora in after] == ["ink", "look", "beard"]
    strip = [dataclasses.replace(lora, id=0) for lora in after]
    assert strip == [dataclasses.replace(lora, id=0) for lora in before]


def test_a_lora_of_the_same_name_added_meanwhile_stops_the_restore_cleanly(
    story_store: ProjectStore, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import save_file

    from storyboard_app.project.undo_support import restore_character, snapshot_character

    look = tmp_path / "look.safetensors"
    save_file({"unet.x.lora_A.weight": torch.ones(2, 2)}, look)
    story_store.loras.add(look, character="Mara")
    snapshot = snapshot_character(story_store, story_store.characters.get("Mara").id)
    story_store.characters.delete("Mara")
    story_store.loras.add(look, scale=0.5)  # by another program, outside the undo stack
    with pytest.raises(ValidationError, match="already has a LoRA called 'look'"):
        restore_character(story_store, snapshot)
    assert [c.name for c in story_store.characters.list()] == ["Bob"]
    assert [(lora.name, lora.character) for lora in story_store.loras.list()] == [("look", None)]
