"""Takes: every rendered or imported image of a scene, kept until deleted on purpose.

A reroll adds a take; it never overwrites one. The media file is written (atomically)
inside the take's transaction, after its scene is found and before the row that
points at it is committed, so a crash can leave an unused file but never a take
without its image, and a deleted scene gets no file at all.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storyboard_app.project.damage import read_stored
from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.media import image_extension
from storyboard_app.project.models import Scene, Take
from storyboard_app.project.records import SceneRecord, TakeParams, TakeRecord
from storyboard_app.project.scenes import find_scene
from storyboard_app.project.scenes import to_record as scene_record
from storyboard_app.project.seeds import check_seed

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore


class TakeRepository:
    def __init__(self, store: ProjectStore) -> None:
        self._store = store

    def list(self, scene_id: int) -> list[TakeRecord]:
        with self._store.session() as session:
            scene = find_scene(session, scene_id)
            return [to_record(take) for take in scene.takes]

    def with_scene(self, scene_id: int) -> tuple[SceneRecord, list[TakeRecord]]:
        """A panel and its takes from one transaction: what the window reads again after
        the panel changed (two reads of their own cost twice the transactions)."""
        with self._store.session() as session:
            scene = find_scene(session, scene_id)
            takes = [to_record(take) for take in scene.takes]
            return scene_record(session, scene, len(takes)), takes

    def get(self, take_id: int) -> TakeRecord:
        with self._store.session() as session:
            return to_record(find_take(session, take_id))

    def by_scene(self) -> dict[int, list[TakeRecord]]:
        """Every scene's takes (oldest first) in one query, for views that show them all."""
        with self._store.session() as session:
            grouped: dict[int, list[TakeRecord]] = {}
            for take in session.scalars(select(Take).order_by(Take.scene_id, Take.id)):
                grouped.setdefault(take.scene_id, []).append(to_record(take))
            return grouped

    def active_media(self) -> dict[int, str]:
        """``{scene id: media of its active take}`` for every scene that has one, in one
        query: the timeline reads this on every change."""
        with self._store.session() as session:
            query = select(Scene.id, Take.media).join(Take, Take.id == Scene.active_take_id)
            return {scene_id: media for scene_id, media in session.execute(query)}

    def add(
        self,
        scene_id: int,
        image: bytes,
        params: TakeParams,
        *,
        make_active: bool = True,
        scene_seed: int | None = None,
        keep_picked: bool = False,
        picked: bool = False,
    ) -> TakeRecord:
        """Store a new take of a scene; it becomes the active one unless told otherwise.

        ``scene_seed`` (a reroll's new seed) is written to the scene in the same
        transaction as the take, so the two are never seen apart. With
        ``keep_picked`` a take the artist chose by hand stays active (Re-render
        All); ``picked`` records the new active take as chosen by hand (an import).
        """
        extension = image_extension(image, "The rendered image")
        with self._store.session() as session:
            # The scene is looked up under the write lock before the file is
            # written: a panel deleted meanwhile (by another window or process)
            # gets neither a take nor an orphan media file.
            scene = find_scene(session, scene_id)
            media = self._store.media.put_bytes(image, extension)
            if scene_seed is not None and scene.seed != scene_seed:
                scene.seed = check_seed(int(scene_seed), f"panel {scene.position + 1}")
            take = take_row(scene.id, media, params, number=next_number(session, scene.id))
            session.add(take)
            session.flush()
            keep = keep_picked and scene.active_take_picked and scene.active_take_id is not None
            if make_active and not keep:
                scene.active_take_id = take.id
                scene.active_take_picked = picked
            return to_record(take)

    def import_image(self, scene_id: int, path: Path, *, make_active: bool = True) -> TakeRecord:
        """Use an existing picture (a sketch, a photo) as a take of a scene."""
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise NotFoundError(f"Image file {path} does not exist.", "Check the path.") from exc
        image_extension(data, str(path))
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
        params = TakeParams(width=width, height=height, source="imported", prompt=str(path))
        return self.add(scene_id, data, params, make_active=make_active, picked=True)

    def set_active(self, scene_id: int, take_id: int | None, *, picked: bool = False) -> None:
        """Make ``take_id`` the scene's picture; ``picked``: the artist chose it by hand."""
        with self._store.session() as session:
            scene = find_scene(session, scene_id)
            if take_id is not None:
                check_take_of(scene, find_take(session, take_id))
            scene.active_take_id = take_id
            scene.active_take_picked = picked and take_id is not None

    def delete(self, take_id: int) -> None:
        """Delete a take; if it was active, the newest remaining take becomes active."""
        with self._store.session() as session:
            take = find_take(session, take_id)
            scene = take.scene
            was_active = scene.active_take_id == take.id
            session.delete(take)
            session.flush()
            if was_active:
                remaining = session.scalars(
                    select(Take.id).where(Take.scene_id == scene.id).order_by(Take.id.desc())
                ).first()
                scene.active_take_id = remaining
                scene.active_take_picked = False

    def active_image(self, scene_id: int) -> bytes | None:
        """The bytes of a scene's active take, or None when it has none."""
        with self._store.session() as session:
            scene = find_scene(session, scene_id)
            if scene.active_take_id is None:
                return None
            media = find_take(session, scene.active_take_id).media
        return self._store.media.read_bytes(media)


def take_row(scene_id: int, media: str, params: TakeParams, **columns: Any) -> Take:
    """A new Take row for ``params``; ``columns`` sets others (an id, a creation time)."""
    return Take(
        scene_id=scene_id,
        media=media,
        source=params.source,
        model_source=params.model_source,
        seed=params.seed,
        steps=params.steps,
        guidance=params.guidance,
        width=params.width,
        height=params.height,
        scheduler=params.scheduler,
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        consistency_json=json.dumps(params.consistency, sort_keys=True),
        identity_fingerprint=params.identity_fingerprint,
        freeu=params.freeu,
        style=params.style,
        **columns,
    )


def next_number(session: Session, scene_id: int) -> int:
    """The number a new take of the scene gets: one more than its highest, from 1."""
    highest = session.scalar(select(func.max(Take.number)).where(Take.scene_id == scene_id))
    return (highest or 0) + 1


def check_take_of(scene: Scene, take: Take) -> None:
    """Refuse to make another panel's take the active one of ``scene``."""
    if take.scene_id == scene.id:
        return
    own = ", ".join(str(t.id) for t in scene.takes)
    raise ValidationError(
        f"Take {take.id} belongs to another panel (panel {take.scene.position + 1}), "
        f"not to panel {scene.position + 1}.",
        f"Pick one of this panel's takes: {own}." if own else "This panel has no takes yet.",
    )


def find_take(session: Session, take_id: int) -> Take:
    take = session.get(Take, take_id) if 0 < take_id < 2**63 else None  # SQLite's INTEGER
    if take is None:
        raise NotFoundError(
            f"There is no take {take_id}.", "List the panel's takes to see their ids."
        )
    return take


def to_record(take: Take) -> TakeRecord:
    return TakeRecord(
        id=take.id,
        scene_id=take.scene_id,
        media=take.media,
        created_at=take.created_at,
        number=take.number,
        params=TakeParams(
            width=take.width,
            height=take.height,
            model_source=take.model_source,
            seed=take.seed,
            steps=take.steps,
            guidance=take.guidance,
            scheduler=take.scheduler,
            prompt=take.prompt,
            negative_prompt=take.negative_prompt,
            consistency=read_stored(take, lambda: _stored_consistency(take), {}),
            identity_fingerprint=take.identity_fingerprint,
            freeu=take.freeu,
            style=take.style,
            source=take.source,
        ),
    )


def _stored_consistency(take: Take) -> dict[str, Any]:
    try:
        value = json.loads(take.consistency_json or "{}")
    except (ValueError, TypeError, RecursionError) as error:
        problem = f"not JSON: {str(error)[:200]}"
    else:
        if isinstance(value, dict):
            return value
        problem = "not a JSON object"
    raise ValidationError(
        f"The consistency settings of take {take.id} (panel id {take.scene_id}) in the "
        f"project database are unreadable ({problem}).",
        "The project file was changed outside Storyboard or is damaged; restore it from "
        "a backup, or delete that take.",
    )
