"""Rendering a project's scenes: from the store to a request, and results back as takes.

The request is built from plain records before any model work, and each panel
becomes a take as soon as it is finished, so a cancel or a crash keeps every
finished panel and never leaves a partial one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from storyboard_app.engine.cache_store import IDENTITY_CACHE_DIR
from storyboard_app.engine.loading import (
    LoadedPipeline,
    LowVramOptions,
    load_text_to_image_pipeline,
)
from storyboard_app.engine.render_request import (
    CancelCheck,
    CharacterIdentity,
    EventSink,
    IpAdapterJob,
    LoraJob,
    PanelJob,
    PanelRendered,
    ReferencePicture,
    RenderRequest,
)
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.engine.take_writer import TakeWriter
from storyboard_app.engine.tiny_models import TINY_SOURCES, tiny_model_folder
from storyboard_app.project.characters import identity_framings
from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.files import disk_full_error, is_disk_full, project_path
from storyboard_app.project.ip_adapters import ip_adapter_signature
from storyboard_app.project.loras import check_scale, file_digest
from storyboard_app.project.media import MediaStore
from storyboard_app.project.prompts import (
    in_use,
    join_phrases,
    panel_prompt,
    styled_negative,
    styled_prompt,
    triggers,
)
from storyboard_app.project.records import (
    CharacterRecord,
    LoraRecord,
    SceneRecord,
    TakeParams,
    TakeRecord,
    lora_signature,
)
from storyboard_app.project.render_guard import check_panels_exist, check_prompts
from storyboard_app.project.seeds import MAX_SEED
from storyboard_app.project.settings import ConsistencySettings, ProjectSettings
from storyboard_app.project.staleness import INPUTS_KEY, panel_inputs, recorded_loras
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.undo_support import (
    IDENTITIES_KEY,
    identity_signature,
    reference_digest,
)

CONSISTENCY_FIELDS = frozenset(f.name for f in dataclasses.fields(ConsistencySettings))
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderOptions:
    """Per-job overrides of the project settings (from the CLI or the app)."""

    model_source: str | None = None
    steps: int | None = None
    width: int | None = None
    height: int | None = None
    device: str | None = None
    dtype: str | None = None
    low_vram: str | None = None
    reroll: bool = False


def build_render_request(
    store: ProjectStore,
    scene_ids: Sequence[int] | None = None,
    options: RenderOptions = RenderOptions(),
) -> RenderRequest:
    """A request for ``scene_ids`` (all scenes when None), with project settings and overrides."""
    settings = apply_options(store.settings(), options)
    check_model(settings)
    selected = select_scenes(store.scenes.list(), scene_ids)
    check_prompts(selected)
    characters = {c.name: c for c in store.characters.list()}
    loras = store.loras.list()
    panels = [panel_job(scene, characters, settings, options.reroll, loras) for scene in selected]
    return request_for(store, settings, panels, options)


def rerender_request(
    store: ProjectStore,
    take_id: int,
    companions: Sequence[int] = (),
    options: RenderOptions = RenderOptions(),
) -> RenderRequest:
    """A request that renders a take again from the parameters it recorded.

    The take's panel is rendered with its recorded prompt, seed, size, steps,
    scheduler and consistency settings, against the characters it names now
    (the same identities when the new take's fingerprint matches the old).
    ``companions`` are other scenes batched with it under the same settings:
    they do not change its image.
    """
    take = store.takes.get(take_id)
    if take.params.source != "rendered":
        raise ValidationError(
            f"Take {take_id} was imported, not rendered.", "Only rendered takes re-render."
        )
    settings = settings_of_take(store.settings(), take.params)
    scene = store.scenes.get(take.scene_id)
    characters = {c.name: c for c in store.characters.list()}
    loras = loras_of_take(store, take)
    panel = dataclasses.replace(
        panel_job(scene, characters, settings, reroll=False, loras=loras),
        prompt=take.params.prompt,
        negative_prompt=take.params.negative_prompt,
        seed=take.params.seed,
    )
    others = [s for s in select_scenes(store.scenes.list(), companions) if s.id != scene.id]
    panels = [panel] + [panel_job(s, characters, settings, False, loras) for s in others]
    return request_for(store, settings, panels, options, loras)


def loras_of_take(store: ProjectStore, take: TakeRecord) -> list[LoraRecord]:
    """The LoRAs a re-render of ``take`` uses: the project-wide ones it recorded (each
    file checked to be there and unchanged) and the characters' own, as they are now
    (like their identities). Older takes, which recorded none, use the project's now."""
    current = store.loras.list()
    recorded = recorded_loras(take)
    if recorded is None:
        return current
    kept = [checked_lora(entry, take.id) for entry in recorded]
    return kept + [lora for lora in current if lora.character is not None]


def checked_lora(entry: Mapping[str, object], take_id: int) -> LoraRecord:
    """A recorded project LoRA, or a clear refusal when its file is gone or has changed."""
    name, path = str(entry.get("name", "?")), Path(str(entry.get("path", "")))
    try:
        digest = file_digest(path)
    except OSError:
        raise ValidationError(
            f"Take {take_id} was rendered with the LoRA {name!r}, whose file is gone: {path}.",
            "Put the file back to re-render it exactly, or render the panel anew "
            "(with the project's LoRAs as they are now).",
        ) from None
    if digest != entry.get("digest"):
        raise ValidationError(
            f"Take {take_id} was rendered with the LoRA {name!r}, whose file {path} has "
            "changed since (its content differs).",
            "Put the original file back to re-render it exactly, or render the panel anew.",
        )
    scale, trigger = entry.get("scale", 1.0), str(entry.get("trigger", ""))
    return LoraRecord(0, name, path, digest, check_scale(scale, name), trigger, None)


def settings_of_take(settings: ProjectSettings, params: TakeParams) -> ProjectSettings:
    """The project settings with a take's recorded render settings put back."""
    consistency = {
        k: tuple(v) if k == "blocks" else v
        for k, v in params.consistency.items()
        if k in CONSISTENCY_FIELDS
    }
    return settings.with_changes(
        model_source=params.model_source,
        width=params.width,
        height=params.height,
        steps=params.steps,
        guidance=params.guidance,
        scheduler=params.scheduler,
        freeu=params.freeu,
        style=params.style,
        base_seed=params.consistency.get("schedule_seed", settings.base_seed),
        **consistency,
    )


def request_for(
    store: ProjectStore,
    settings: ProjectSettings,
    panels: Sequence[PanelJob],
    options: RenderOptions,
    all_loras: Sequence[LoraRecord] | None = None,
) -> RenderRequest:
    """The request rendering ``panels`` with ``settings``, the characters they name and
    ``all_loras`` (the project's now when None)."""
    check_model(settings)
    characters = {c.name: c for c in store.characters.list()}
    named = dict.fromkeys(name for panel in panels for name in panel.characters)
    if all_loras is None:
        all_loras = store.loras.list()
    loras = [lora for lora in in_use(all_loras) if lora.character in (None, *named)]
    return RenderRequest(
        model_source=settings.model_source,
        width=settings.width,
        height=settings.height,
        aspect_ratio=settings.aspect_ratio,
        steps=settings.steps,
        guidance=settings.guidance,
        scheduler=settings.scheduler,
        consistency=settings.consistency,
        schedule_seed=settings.base_seed,
        freeu=settings.freeu,
        style=settings.style,
        characters=tuple(
            character_identity(characters[name], settings, store.media, loras) for name in named
        ),
        loras=tuple(
            LoraJob(lora.name, lora.path, lora.digest, lora.scale, lora.character, lora.trigger)
            for lora in loras
        ),
        panels=tuple(panels),
        device=options.device,
        dtype=options.dtype,
        low_vram=options.low_vram,
        cache_dir=project_path(store.folder, IDENTITY_CACHE_DIR),
        identity_cache_precision=settings.identity_cache_precision,
        identity_cache_budget_gb=settings.identity_cache_budget_gb,
    )


def check_model(settings: ProjectSettings) -> None:
    if not settings.model_source:
        raise ValidationError(
            "No model is configured for this project.",
            "Pass --model SOURCE (a hub id, a diffusers folder or a .safetensors file; 'tiny' "
            "for a quick test) or set model_source with 'storyboard settings'.",
        )


def apply_options(settings: ProjectSettings, options: RenderOptions) -> ProjectSettings:
    changes = {
        "model_source": options.model_source,
        "steps": options.steps,
        "width": options.width,
        "height": options.height,
    }
    return settings.with_changes(**{k: v for k, v in changes.items() if v is not None})


def select_scenes(
    scenes: Sequence[SceneRecord], scene_ids: Sequence[int] | None
) -> list[SceneRecord]:
    if scene_ids is None:
        if not scenes:
            raise ValidationError("The story has no panels to render.", "Add panels first.")
        return list(scenes)
    check_panels_exist((scene.id for scene in scenes), scene_ids)
    wanted = set(scene_ids)
    return [scene for scene in scenes if scene.id in wanted]


def character_identity(
    character: CharacterRecord,
    settings: ProjectSettings,
    media: MediaStore | None = None,
    loras: Sequence[LoraRecord] = (),
) -> CharacterIdentity:
    """The character's identity prompts: its description with each of its framings.

    They come from the character alone, never from a panel, so editing a
    panel never changes an identity (nor the cache, nor the other panels).
    """
    framings = cycled(identity_framings(character), settings.consistency.identity_images)
    return CharacterIdentity(
        name=character.name,
        description=character.description,
        negative_prompt=character.negative_prompt,
        seed=character.seed,
        identity_prompts=tuple(
            styled_prompt(
                settings.style,
                join_phrases(
                    *triggers(loras, (character.name,)),
                    character.description,
                    framing,
                    settings.style_preset,
                ),
            )
            for framing in framings
        ),
        framings=character.identity_framings,
        reference=reference_picture(character, media),
        ip_adapter=ip_adapter_job(character, media),
    )


def ip_adapter_job(character: CharacterRecord, media: MediaStore | None) -> IpAdapterJob | None:
    """The character's IP-Adapter when it steers: it has one, a scale above 0, and a picture."""
    picture = reference_digest(character.reference_media)
    if media is None or character.reference_media is None or picture is None:
        return None
    if ip_adapter_signature(character.ip_adapter, character.ip_adapter_scale, picture) is None:
        return None
    return IpAdapterJob(
        adapter=character.ip_adapter,
        scale=character.ip_adapter_scale,
        picture=media.path(character.reference_media),
        picture_digest=picture,
    )


def reference_picture(
    character: CharacterRecord, media: MediaStore | None
) -> ReferencePicture | None:
    """The character's stored picture as the renderer reads it (its media name is its hash)."""
    if character.reference_media is None or media is None:
        return None
    return ReferencePicture(
        path=media.path(character.reference_media),
        digest=reference_digest(character.reference_media) or "",
        strength=character.reference_strength,
    )


def cycled(items: Sequence[str], count: int) -> list[str]:
    return [items[i % len(items)] for i in range(max(0, count))]


def panel_job(
    scene: SceneRecord,
    characters: dict[str, CharacterRecord],
    settings: ProjectSettings,
    reroll: bool,
    loras: Sequence[LoraRecord] = (),
) -> PanelJob:
    seed = scene.seed
    if reroll and not scene.seed_locked:
        seed = secrets.randbelow(MAX_SEED)
    negatives = [characters[n].negative_prompt for n in scene.character_names]
    return PanelJob(
        scene_id=scene.id,
        number=scene.number,
        prompt=panel_prompt(scene, characters, settings, loras).text,
        negative_prompt=styled_negative(
            settings.style, join_phrases(scene.negative_prompt, *negatives)
        ),
        seed=seed,
        characters=scene.character_names,
    )


def render_scenes(
    store: ProjectStore,
    renderer: StoryRenderer,
    request: RenderRequest,
    on_event: EventSink = lambda event: None,
    is_cancelled: CancelCheck = lambda: False,
    *,
    keep_picked: bool = False,
) -> list[TakeRecord]:
    """Render ``request`` and store each finished panel as a new, active take.

    A reroll's new seed is written to the scene together with its take, so the
    scene's seed always reproduces its newest take; so is what the take was made
    from (:func:`take_provenance`), whichever process renders it. With
    ``keep_picked`` a take the artist chose by hand stays active (Re-render All).
    """
    panels = {panel.scene_id: panel for panel in request.panels}
    provenance = take_provenance(store, request)

    def store_one(event: PanelRendered) -> TakeRecord | None:
        panel, recorded = panels[event.scene_id], provenance.get(event.scene_id)
        return store_take(store, panel, event, recorded, keep_picked=keep_picked)

    try:
        with TakeWriter(store_one, on_event) as writer:
            render_and_flush(renderer, request, writer, is_cancelled)
    except Exception as exc:  # the identity cache's writer reports a full disk in its own type
        if is_disk_full(exc, store.folder):
            raise disk_full_error(store.folder) from exc
        raise
    return writer.takes


def render_and_flush(
    renderer: StoryRenderer, request: RenderRequest, writer: TakeWriter, is_cancelled: CancelCheck
) -> None:
    """Render with PNG encoding on ``writer``'s thread; every finished panel is stored.

    Panels finished before a cancel or an error keep their takes, as when they were
    stored inline; an error while storing those does not hide the first one.
    """
    try:
        renderer.render(request, writer.event, is_cancelled, on_image=writer.picture)
    except BaseException:
        with contextlib.suppress(Exception):
            writer.flush()
        raise
    writer.flush()


def store_take(
    store: ProjectStore,
    panel: PanelJob,
    event: PanelRendered,
    provenance: dict[str, object] | None = None,
    *,
    keep_picked: bool = False,
) -> TakeRecord | None:
    """The panel's new take, or None when the panel was deleted while it rendered.

    Another window or process may delete a panel mid-render; that panel's result
    is dropped (no take, no media file) and the rest of the render goes on.
    ``provenance`` goes into the take's consistency record in the same commit.
    """
    params = event.params
    if provenance:
        params = dataclasses.replace(params, consistency={**params.consistency, **provenance})
    try:
        return store.takes.add(
            event.scene_id, event.png, params, scene_seed=panel.seed, keep_picked=keep_picked
        )
    except NotFoundError:
        _log.warning(
            "Panel %d was deleted while it rendered; its picture was dropped.", panel.number
        )
        return None


def take_provenance(store: ProjectStore, request: RenderRequest) -> dict[int, dict[str, object]]:
    """Per scene id: what its take is made from, read as the render starts.

    The identities of the characters it names (by character id) and the panel's
    own inputs (:func:`~storyboard_app.project.staleness.panel_inputs`), so the
    app can say why a take went stale whether the app, the command line or a
    farm rendered it.
    """
    settings = store.settings().with_changes(  # with this job's overrides (``--model``...)
        model_source=request.model_source,
        steps=request.steps,
        width=request.width,
        height=request.height,
    )
    cast = {c.name: c for c in store.characters.list()}
    scenes = {scene.id: scene for scene in store.scenes.list()}
    signatures = panel_signatures(store, request)
    loras = [lora_record(lora) for lora in request.loras]
    return {
        panel.scene_id: {
            IDENTITIES_KEY: {str(key): value for key, value in signatures[panel.scene_id].items()},
            INPUTS_KEY: panel_inputs(scenes[panel.scene_id], settings, cast, loras),
        }
        for panel in request.panels
        if panel.scene_id in scenes
    }


def panel_signatures(store: ProjectStore, request: RenderRequest) -> dict[int, dict[int, str]]:
    """Per scene id: character id -> identity signature of what this request renders."""
    ids = {c.name: c.id for c in store.characters.list()}
    signatures = {
        character.name: identity_signature(
            character.description,
            character.negative_prompt,
            character.seed,
            character.framings,
            None if character.reference is None else character.reference.digest,
            1.0 if character.reference is None else character.reference.strength,
            tuple(
                lora_signature(lora.digest, lora.scale, lora.trigger)
                for lora in request.loras
                if lora.character == character.name
            ),
            None
            if character.ip_adapter is None
            else ip_adapter_signature(
                character.ip_adapter.adapter,
                character.ip_adapter.scale,
                character.ip_adapter.picture_digest,
            ),
        )
        for character in request.characters
    }
    return {
        panel.scene_id: {ids[name]: signatures[name] for name in panel.characters if name in ids}
        for panel in request.panels
    }


def lora_record(lora: LoraJob) -> LoraRecord:
    """A request's LoRA as the project records it (no database id)."""
    return LoraRecord(
        0, lora.name, lora.path, lora.digest, lora.scale, lora.trigger, lora.character
    )


def load_pipeline_for(request: RenderRequest) -> LoadedPipeline:
    """Load the request's model; ``tiny``/``tiny-sd15`` build random test models once."""
    source = request.model_source
    if source in TINY_SOURCES:
        source = str(tiny_model_folder(TINY_SOURCES[source]))
    low_vram = LowVramOptions.for_preset(request.low_vram) if request.low_vram else None
    return load_text_to_image_pipeline(
        source,
        device=request.device,
        dtype=request.dtype,
        scheduler=request.scheduler,
        low_vram=low_vram,
    )
