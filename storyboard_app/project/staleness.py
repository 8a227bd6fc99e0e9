"""When is a panel's picture stale, and why? One rule, from plain records, for every view.

A panel's active take is **stale** when anything that went into it has changed
since it was rendered:

- the panel's prompt or negative prompt ("prompt changed"),
- its cast: a character named now that the take was not rendered with, or the
  other way round ("cast changed"),
- its seed ("seed changed"),
- the shot words its prompt begins with, when the project adds the shot type
  ("shot type changed"; dialogue, narration and notes are never in the picture),
- the identity of a character it names: description, negative prompt or seed
  (``undo_support.character_signature``; "Mara's look changed"),
- the model or the render settings ("settings changed"),
- the project-wide LoRAs: added, removed, or another file, scale or trigger
  ("LoRAs changed"; a character's own LoRAs are part of its look).

A render records what it was made from in the take's consistency record: the
identities by character id (``undo_support.record_take_identities``) and the
panel's own inputs (:func:`record_take_inputs`: raw prompts and a signature of
the settings). Renaming a character changes no picture; undoing an edit brings
the old value back and the panel is fresh again. Imported pictures are never
stale. Takes rendered without a record (older ones, the command line) are
judged from what they kept: their seed, their settings fields and the text of
the prompts they were rendered with.

Each reason is a :class:`StaleReason`, so a view can say which, and more kinds
can be added without changing the callers.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storyboard_app.project.prompts import shot_phrase
from storyboard_app.project.records import (
    CharacterRecord,
    LoraRecord,
    SceneRecord,
    TakeRecord,
    lora_signature,
)
from storyboard_app.project.settings import AUTO_SIZE, ProjectSettings
from storyboard_app.project.tags import TAG_PATTERN
from storyboard_app.project.takes import find_take
from storyboard_app.project.undo_support import character_signature, take_identities

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore

INPUTS_KEY = "panel"
LORAS_INPUT = "loras"
SHOT_INPUT = "shot"  # the shot words the prompt began with ("" for none, as before they were)


class StaleKind(enum.StrEnum):
    PROMPT = "prompt"
    NEGATIVE_PROMPT = "negative prompt"
    CAST = "cast"
    SEED = "seed"
    SHOT = "shot"
    CHARACTER = "character"
    SETTINGS = "settings"
    LORAS = "loras"


@dataclass(frozen=True)
class StaleReason:
    """One thing that changed since the take was rendered, in words for the artist."""

    kind: StaleKind
    text: str
    character: str | None = None


def stale_reasons(
    take: TakeRecord,
    scene: SceneRecord,
    characters: Mapping[str, CharacterRecord],
    settings: ProjectSettings,
    take_seeds: Collection[int] = (),
    loras: Sequence[LoraRecord] = (),
) -> list[StaleReason]:
    """Why ``take`` no longer shows ``scene`` as it would render now (empty: it does).

    ``take_seeds`` are the seeds of the panel's takes: a panel seed that one of
    them was rendered with came from a reroll (and choosing an older take is no
    change), while any other seed was typed in. ``loras`` are the project's
    LoRAs now (``store.loras.list()``).
    """
    if take.params.source != "rendered":
        return []
    inputs = take_inputs(take)
    reasons = _prompt_reasons(take, scene, characters, inputs)
    reasons += _cast_reasons(take, scene, characters)
    if inputs is not None and inputs.get(SHOT_INPUT, "") != shot_phrase(scene.shot_type, settings):
        reasons.append(StaleReason(StaleKind.SHOT, "shot type changed"))
    if take.params.seed != scene.seed and scene.seed not in take_seeds:
        reasons.append(StaleReason(StaleKind.SEED, "seed changed"))
    if _settings_changed(take, settings, inputs):
        reasons.append(StaleReason(StaleKind.SETTINGS, "settings changed"))
    if _loras_changed(inputs, loras):
        reasons.append(StaleReason(StaleKind.LORAS, "LoRAs changed"))
    return reasons


def is_stale(
    take: TakeRecord,
    scene: SceneRecord,
    characters: Mapping[str, CharacterRecord],
    settings: ProjectSettings,
    take_seeds: Collection[int] = (),
    loras: Sequence[LoraRecord] = (),
) -> bool:
    return bool(stale_reasons(take, scene, characters, settings, take_seeds, loras))


def panel_stale_reasons(store: ProjectStore, scene: SceneRecord) -> list[StaleReason]:
    """Why ``scene``'s active take is out of date, read from the store (for one panel)."""
    if scene.active_take_id is None:
        return []
    takes = store.takes.list(scene.id)
    take = next((t for t in takes if t.id == scene.active_take_id), None)
    if take is None:
        return []
    characters = {c.name: c for c in store.characters.list()}
    seeds = {t.params.seed for t in takes if t.params.source == "rendered"}
    return stale_reasons(take, scene, characters, store.settings(), seeds, store.loras.list())


def describe_reasons(reasons: Sequence[StaleReason]) -> str:
    """``"prompt changed"``, ``"prompt changed, Mara's look changed"``: for cards and tooltips."""
    return ", ".join(dict.fromkeys(reason.text for reason in reasons))


def panel_inputs(
    scene: SceneRecord,
    settings: ProjectSettings,
    characters: Mapping[str, CharacterRecord],
    loras: Sequence[LoraRecord] = (),
) -> dict[str, str]:
    """What a render of ``scene`` takes from the panel, the settings and the project's
    LoRAs (``loras``: all of them; the project-wide ones in use are kept), to record with it.

    Tags are kept by character id, so renaming a character (which renames its
    tags) leaves the prompt as it was. The LoRAs are kept whole (path, hash,
    scale, trigger) so that a re-render can use the same ones.
    """
    return {
        "prompt": _tags_by_id(scene.prompt, characters),
        "negative_prompt": _tags_by_id(scene.negative_prompt, characters),
        SHOT_INPUT: shot_phrase(scene.shot_type, settings),
        "settings": settings_signature(settings),
        LORAS_INPUT: json.dumps([_lora_entry(lora) for lora in project_loras(loras)]),
    }


def project_loras(loras: Sequence[LoraRecord]) -> list[LoraRecord]:
    """The project-wide LoRAs that change a picture (a LoRA at scale 0 is left out)."""
    return [lora for lora in loras if lora.character is None and lora.scale != 0.0]


def recorded_loras(take: TakeRecord) -> list[dict[str, object]] | None:
    """The project-wide LoRAs a take was rendered with (name, path, digest, scale,
    trigger), or None when it recorded none (older takes)."""
    inputs = take_inputs(take)
    if inputs is None or LORAS_INPUT not in inputs:
        return None
    try:
        entries = json.loads(inputs[LORAS_INPUT])
    except (ValueError, RecursionError):
        return None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    return entries


def _lora_entry(lora: LoraRecord) -> dict[str, object]:
    return {
        "name": lora.name,
        "path": str(lora.path),
        "digest": lora.digest,
        "scale": lora.scale,
        "trigger": lora.trigger,
    }


def _loras_changed(inputs: dict[str, str] | None, loras: Sequence[LoraRecord]) -> bool:
    """Whether the project-wide LoRAs differ (file, scale, trigger, order) from the recorded
    ones; takes that recorded none (older ones) are not judged on them."""
    if inputs is None or LORAS_INPUT not in inputs:
        return False
    try:
        entries = json.loads(inputs[LORAS_INPUT])
        then = [lora_signature(str(e["digest"]), e["scale"], str(e["trigger"])) for e in entries]
    except (ValueError, RecursionError, TypeError, KeyError):
        return True
    now = [lora_signature(lora.digest, lora.scale, lora.trigger) for lora in project_loras(loras)]
    return then != now


def record_take_inputs(store: ProjectStore, take_id: int, inputs: Mapping[str, str]) -> None:
    """Note the panel's inputs (:func:`panel_inputs`, read when the render started) in
    the take's consistency record, beside its identities."""
    with store.session() as session:
        row = find_take(session, take_id)
        record = json.loads(row.consistency_json)
        record[INPUTS_KEY] = dict(inputs)
        row.consistency_json = json.dumps(record, sort_keys=True)


def take_inputs(take: TakeRecord) -> dict[str, str] | None:
    """The panel inputs recorded for a take, or None for takes rendered without a record."""
    recorded = take.params.consistency.get(INPUTS_KEY)
    if not isinstance(recorded, dict):
        return None
    return {str(key): str(value) for key, value in recorded.items()}


# The shot setting is judged per panel, by the words it adds (the "shot" input).
NOT_IN_PICTURE = ("frame_rate", "identity_cache_budget_gb", "shot_in_prompt")


def settings_signature(settings: ProjectSettings) -> str:
    """The settings that change a rendered picture, as the JSON a take records.

    Not signed: the frame rate and the cache budget, and the window size while
    panels share nothing (a window then only batches work). Compared key by key
    (:func:`_settings_differ`), so a setting added later, at its default, leaves
    older takes fresh.
    """
    return json.dumps(_picture_settings(settings), sort_keys=True)


def _picture_settings(settings: ProjectSettings) -> dict[str, object]:
    flat = dataclasses.asdict(settings)
    consistency = flat.pop("consistency")
    if not consistency["share_between_panels"]:
        consistency.pop("window_size")
    flat.update({f"consistency.{key}": value for key, value in consistency.items()})
    for name in NOT_IN_PICTURE:
        flat.pop(name)
    if AUTO_SIZE not in (settings.width, settings.height):
        flat.pop("aspect_ratio")  # a fixed size renders the same whatever the shape says
    return json.loads(json.dumps(flat, default=list))  # tuples read back as lists


def _settings_differ(recorded: str, settings: ProjectSettings) -> bool | None:
    """Whether ``settings`` differ from a recorded signature; None if it is unreadable."""
    try:
        then = json.loads(recorded)
    except (ValueError, RecursionError):
        return None
    if not isinstance(then, dict):
        return None
    now, defaults = _picture_settings(settings), _picture_settings(ProjectSettings())
    return any(then.get(key, defaults.get(key)) != value for key, value in now.items())


def _tags_by_id(text: str, characters: Mapping[str, CharacterRecord]) -> str:
    """``[Mara] waves`` -> ``[#3] waves``: ``#`` cannot be in a tag, so this reads as none."""

    def by_id(match: re.Match[str]) -> str:
        character = characters.get(match.group(1).strip())
        return f"[#{character.id}]" if character is not None else match.group(0)

    return TAG_PATTERN.sub(by_id, text)


def _prompt_reasons(
    take: TakeRecord,
    scene: SceneRecord,
    characters: Mapping[str, CharacterRecord],
    inputs: dict[str, str] | None,
) -> list[StaleReason]:
    if inputs is None:
        changed = not _words_kept(scene.prompt, take.params.prompt)
        negative_changed = not _words_kept(scene.negative_prompt, take.params.negative_prompt)
    else:
        changed = inputs.get("prompt") != _tags_by_id(scene.prompt, characters)
        negative = _tags_by_id(scene.negative_prompt, characters)
        negative_changed = inputs.get("negative_prompt") != negative
    reasons = []
    if changed:
        reasons.append(StaleReason(StaleKind.PROMPT, "prompt changed"))
    if negative_changed:
        reasons.append(StaleReason(StaleKind.NEGATIVE_PROMPT, "negative prompt changed"))
    return reasons


def _cast_reasons(
    take: TakeRecord, scene: SceneRecord, characters: Mapping[str, CharacterRecord]
) -> list[StaleReason]:
    cast = [characters[name] for name in scene.character_names if name in characters]
    recorded = take_identities(take)
    if recorded is None:
        return [_look_changed(c) for c in cast if _description_missing(take, c)]
    if set(recorded) != {character.id for character in cast}:
        return [StaleReason(StaleKind.CAST, "cast changed")]
    return [_look_changed(c) for c in cast if recorded[c.id] != character_signature(c)]


def _look_changed(character: CharacterRecord) -> StaleReason:
    return StaleReason(
        StaleKind.CHARACTER, f"{character.name}'s look changed", character=character.name
    )


def _description_missing(take: TakeRecord, character: CharacterRecord) -> bool:
    if character.description not in take.params.prompt:
        return True
    negative = character.negative_prompt
    return bool(negative) and negative not in take.params.negative_prompt


def _words_kept(prompt: str, rendered: str) -> bool:
    """Without a record: every stretch of the prompt between tags is in what was rendered
    (tags were replaced by descriptions, so they are not compared here)."""
    pieces = (piece.strip(" ,") for piece in TAG_PATTERN.split(prompt)[::2])
    return all(piece in rendered for piece in pieces if piece)


def _settings_changed(
    take: TakeRecord, settings: ProjectSettings, inputs: dict[str, str] | None
) -> bool:
    if inputs is not None and "settings" in inputs:
        differ = _settings_differ(inputs["settings"], settings)
        if differ is not None:
            return differ
    params = take.params
    if not params.model_source:
        return False
    rendered_with = (params.model_source, params.width, params.height, params.steps)
    now = (settings.model_source, settings.width, settings.height, settings.steps)
    return rendered_with != now or (params.scheduler, params.guidance) != (
        settings.scheduler,
        settings.guidance,
    )
