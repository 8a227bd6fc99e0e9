"""Bringing a story script into a project, and a project back out as a script.

An import is one transaction: either every character, scene and transition of
the script is added, or (on any problem) nothing is.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path

from sqlalchemy.orm import Session

from storyboard_app.project.characters import add_character
from storyboard_app.project.errors import StoryboardError, ValidationError
from storyboard_app.project.media import image_extension, read_image_file
from storyboard_app.project.models import ProjectSettingsRow, Scene, Transition
from storyboard_app.project.records import TransitionRecord
from storyboard_app.project.scenes import append_scenes
from storyboard_app.project.scripts.model import (
    CharacterSpec,
    SceneSpec,
    StoryScript,
    TransitionSpec,
)
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.store import ProjectStore, settings_to_row


def create_project_from_script(path: Path | str, script: StoryScript) -> ProjectStore:
    """Create a project holding ``script``; a failed import leaves no half-made folder."""
    return ProjectStore.create(
        path,
        name=script.title or None,
        settings=settings_from_script(script),
        fill=lambda store: import_story(store, script, apply_settings=False),
    )


def settings_from_script(
    script: StoryScript, base: ProjectSettings | None = None
) -> ProjectSettings:
    changes = dict(script.settings)
    if "blocks" in changes:
        changes["blocks"] = tuple(changes["blocks"])
    try:
        return (base or ProjectSettings()).with_changes(**changes)
    except StoryboardError as exc:
        where = f"{script.source}: " if script.source else ""
        raise ValidationError(f"{where}invalid [settings]: {exc.message}", exc.hint) from exc


def import_story(store: ProjectStore, script: StoryScript, *, apply_settings: bool = True) -> None:
    """Append the script's characters and scenes (and settings) to ``store`` in one transaction."""
    if apply_settings and script.settings:
        new_settings = settings_from_script(script, store.settings())
    images = {
        spec.name: checked_image(spec.reference_image)
        for spec in script.characters
        if spec.reference_image is not None
    }
    with store.session() as session:
        # Held while scenes are added: each reads the base seed, and the session
        # keeps only rows someone holds (otherwise one query per panel).
        settings_row = session.get_one(ProjectSettingsRow, 1)
        if apply_settings and script.settings:
            settings_to_row(new_settings, settings_row)
        rows = {
            spec.name: add_character(
                session,
                spec.name,
                spec.description,
                negative_prompt=spec.negative_prompt,
                seed=spec.seed,
                color=spec.color,
                identity_framings=spec.identity_framings,
                reference_strength=spec.reference_strength,
                ip_adapter=spec.ip_adapter,
                ip_adapter_scale=spec.ip_adapter_scale,
            )
            for spec in script.characters
        }
        scenes = append_scenes(session, [scene_fields(spec) for spec in script.scenes])
        for spec, start, end in zip(script.scenes, scenes, scenes[1:], strict=False):
            if spec.transition_to_next is not None:
                add_transition(session, start, end, spec.transition_to_next)
        # Written last, once everything else is valid: a refused import leaves no files.
        for name, image in images.items():
            rows[name].reference_media = store.media.put_bytes(*image)


def checked_image(path: Path) -> tuple[bytes, str]:
    """A reference image's bytes and extension, verified but not yet stored."""
    data = read_image_file(Path(path))
    return data, image_extension(data, str(path))


def scene_fields(spec: SceneSpec) -> dict[str, object]:
    """A script's panel as the fields :func:`append_scenes` takes."""
    return {
        "prompt": spec.prompt,
        "characters": spec.characters,
        "negative_prompt": spec.negative_prompt,
        "caption": spec.caption,
        "dialogue": spec.dialogue,
        "notes": spec.notes,
        "shot_type": spec.shot_type,
        "duration": spec.duration,
        "seed": spec.seed,
        "seed_locked": spec.seed_locked,
        "camera_move": spec.camera_move,
    }


def add_transition(session: Session, start: Scene, end: Scene, spec: TransitionSpec) -> None:
    session.add(
        Transition(
            from_scene_id=start.id,
            to_scene_id=end.id,
            kind=spec.kind,
            duration=spec.duration,
            frame_count=spec.frames or 0,
            status="ready" if spec.kind == "cut" else "pending",
        )
    )


def export_story(store: ProjectStore, relative_to: Path | None = None) -> StoryScript:
    """The project as a script; reference images are given relative to ``relative_to``."""
    settings = store.settings()
    transitions = {(t.from_scene_id, t.to_scene_id): t for t in store.transitions.list()}
    scenes = store.scenes.list()
    next_ids = {scene.id: following.id for scene, following in itertools.pairwise(scenes)}
    return StoryScript(
        title=store.name,
        settings=flat_settings(settings),
        characters=tuple(
            CharacterSpec(
                name=c.name,
                description=c.description,
                negative_prompt=c.negative_prompt,
                seed=c.seed,
                color=c.color,
                reference_image=_reference_path(store, c.reference_media, relative_to),
                identity_framings=c.identity_framings,
                reference_strength=c.reference_strength,
                ip_adapter=c.ip_adapter,
                ip_adapter_scale=c.ip_adapter_scale,
            )
            for c in store.characters.list()
        ),
        scenes=tuple(
            SceneSpec(
                prompt=s.prompt,
                characters=s.character_names,
                negative_prompt=s.negative_prompt,
                caption=s.caption,
                dialogue=s.dialogue,
                notes=s.notes,
                shot_type=s.shot_type,
                duration=s.duration,
                seed=s.seed,
                seed_locked=s.seed_locked,
                transition_to_next=_transition_spec(transitions.get((s.id, next_ids.get(s.id)))),
                camera_move=s.camera_move,
            )
            for s in scenes
        ),
    )


def flat_settings(settings: ProjectSettings) -> dict[str, object]:
    flat = {k: v for k, v in dataclasses.asdict(settings).items() if k != "consistency"}
    consistency = dataclasses.asdict(settings.consistency)
    consistency["blocks"] = list(consistency["blocks"])
    return flat | consistency


def _transition_spec(record: TransitionRecord | None) -> TransitionSpec | None:
    """The transition a panel has to its next one, as the artist chose it: looked up by
    the neighbours' pair, so a stale one (its frames no longer fit) is still the kind
    wanted there; the script keeps the choice, not the frames."""
    if record is None:
        return None
    return TransitionSpec(
        kind=record.kind, duration=record.duration, frames=record.frame_count or None
    )


def _reference_path(
    store: ProjectStore, media: str | None, relative_to: Path | None
) -> Path | None:
    if media is None:
        return None
    path = store.media.path(media)
    if relative_to is None:
        return path
    return Path(os.path.relpath(path, relative_to))
