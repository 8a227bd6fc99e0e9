"""Characters of a project: the identities that stay the same from panel to panel."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storyboard_app.project.errors import CharacterInUseError, NotFoundError, ValidationError
from storyboard_app.project.ip_adapters import (
    DEFAULT_IP_ADAPTER_SCALE,
    check_ip_adapter,
    check_ip_adapter_scale,
    stored_ip_adapter_scale,
)
from storyboard_app.project.media import image_extension, read_image_file
from storyboard_app.project.models import Character, ProjectSettingsRow, Scene
from storyboard_app.project.records import CharacterRecord, lora_signature
from storyboard_app.project.seeds import check_seed, derive_seed
from storyboard_app.project.tags import NO_CHARACTER_TAG, TAG_PATTERN, find_tags, untag

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore

COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
# Tableau 10: distinct, colour-blind friendly tags for the first characters.
DEFAULT_COLORS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
EDITABLE_FIELDS = {
    "name",
    "description",
    "negative_prompt",
    "seed",
    "color",
    "identity_framings",
    "reference_strength",
    "ip_adapter",
    "ip_adapter_scale",
}
# What the identity images show besides the description, when a character sets none.
DEFAULT_IDENTITY_FRAMINGS: tuple[str, ...] = (
    "portrait, looking at the viewer",
    "upper body, three-quarter view",
    "full body, standing",
    "close-up of the face",
)
MAX_FRAMINGS = 8
MAX_FRAMING_LENGTH = 300


def check_character_name(name: str) -> str:
    """A usable character name, or a clear error: names appear as ``[Name]`` tags in prompts."""
    name = name.strip()
    if not name:
        raise ValidationError("A character name is empty.", "Give every character a name.")
    if (
        not TAG_PATTERN.fullmatch(f"[{name}]")
        or len(name) > 100
        or any(unicodedata.category(char) in {"Cc", "Cf"} for char in name)
    ):
        raise ValidationError(
            f"{name!r} cannot be a character name.",
            "Use up to 100 characters without brackets, '#', line breaks or control characters.",
        )
    if name == NO_CHARACTER_TAG:
        raise ValidationError(
            "NC cannot be a character name: [NC] marks a panel without characters.",
            "Choose another name.",
        )
    return name


def check_color(color: str) -> str:
    if not COLOR_PATTERN.match(color):
        raise ValidationError(
            f"{color!r} is not a colour.", "Write colours as #rrggbb, for example #e4572e."
        )
    return color.lower()


def check_description(description: str, name: str) -> str:
    description = description.strip()
    if not description:
        raise ValidationError(
            f"The description of {name} is empty.",
            "Describe the character's look (face, hair, clothes): it is the identity prompt.",
        )
    return description


def check_identity_framings(framings: Iterable[str], name: str) -> tuple[str, ...]:
    """Framings stripped, empty ones dropped; the defaults stored as none (they are the default).

    A framing is what an identity image shows besides the description
    (``portrait, looking at the viewer``): the character's identity images are
    its description with each framing, never a panel's prompt.
    """
    if isinstance(framings, str):
        framings = framings.splitlines()
    cleaned = tuple(f.strip() for f in framings if f.strip())
    if len(cleaned) > MAX_FRAMINGS:
        raise ValidationError(
            f"{name} has {len(cleaned)} identity framings.",
            f"Use at most {MAX_FRAMINGS}: only as many as the identity images are rendered.",
        )
    too_long = [f for f in cleaned if len(f) > MAX_FRAMING_LENGTH or "\n" in f]
    if too_long:
        raise ValidationError(
            f"An identity framing of {name} is too long ({len(too_long[0])} characters).",
            f"Keep each framing to one line of at most {MAX_FRAMING_LENGTH} characters.",
        )
    return () if cleaned == DEFAULT_IDENTITY_FRAMINGS else cleaned


def identity_framings(character: CharacterRecord) -> tuple[str, ...]:
    """The framings a character's identity images use: its own, else the defaults."""
    return character.identity_framings or DEFAULT_IDENTITY_FRAMINGS


class CharacterRepository:
    """Adds, edits, orders and deletes characters; every call is one committed transaction."""

    def __init__(self, store: ProjectStore) -> None:
        self._store = store

    def list(self) -> list[CharacterRecord]:
        with self._store.session() as session:
            rows = session.scalars(select(Character).order_by(Character.position)).all()
            return [to_record(row) for row in rows]

    def get(self, name_or_id: str | int) -> CharacterRecord:
        with self._store.session() as session:
            return to_record(find_character(session, name_or_id))

    def add(
        self,
        name: str,
        description: str,
        *,
        negative_prompt: str = "",
        seed: int | None = None,
        color: str | None = None,
        reference_image: Path | None = None,
        identity_framings: Iterable[str] = (),
        reference_strength: float = 1.0,
        ip_adapter: str = "",
        ip_adapter_scale: float = DEFAULT_IP_ADAPTER_SCALE,
    ) -> CharacterRecord:
        image: tuple[bytes, str] | None = None
        if reference_image is not None:
            data = read_image_file(Path(reference_image))
            image = (data, image_extension(data, str(reference_image)))
        with self._store.session() as session:
            row = add_character(
                session,
                name,
                description,
                negative_prompt=negative_prompt,
                seed=seed,
                color=color,
                identity_framings=identity_framings,
                reference_strength=reference_strength,
                ip_adapter=ip_adapter,
                ip_adapter_scale=ip_adapter_scale,
            )
            if image is not None:
                # Stored once the character is known to be valid (a duplicate name,
                # an empty description), so a refused add leaves no file behind.
                row.reference_media = self._store.media.put_bytes(*image)
            return to_record(row)

    def update(self, name_or_id: str | int, **changes: Any) -> CharacterRecord:
        """Change fields; renaming also rewrites the ``[Name]`` tags in every prompt."""
        unknown = set(changes) - EDITABLE_FIELDS - {"reference_image"}
        if unknown:
            raise ValidationError(
                f"Unknown character field(s): {', '.join(sorted(unknown))}.",
                "Editable: " + ", ".join(sorted(EDITABLE_FIELDS | {"reference_image"})) + ".",
            )
        reference = changes.pop("reference_image", ...)
        image: tuple[bytes, str] | None = None
        if reference not in (..., None):
            data = read_image_file(Path(reference))
            image = (data, image_extension(data, str(reference)))
        with self._store.session() as session:
            row = find_character(session, name_or_id)
            if "name" in changes and changes["name"].strip() != row.name:
                new_name = check_character_name(changes["name"])
                ensure_unique_name(session, new_name, renaming=row)
                rename_tags(session, row.name, new_name)
                row.name = new_name
            if "description" in changes:
                row.description = check_description(changes["description"], row.name)
            if "negative_prompt" in changes:
                row.negative_prompt = changes["negative_prompt"].strip()
            if "seed" in changes:
                row.seed = check_seed(int(changes["seed"]), row.name)
            if "color" in changes:
                row.color = check_color(changes["color"])
            if "reference_strength" in changes:
                row.reference_strength = check_strength(changes["reference_strength"], row.name)
            if "ip_adapter" in changes:
                row.ip_adapter = check_ip_adapter(changes["ip_adapter"], row.name)
            if "ip_adapter_scale" in changes:
                scale = check_ip_adapter_scale(changes["ip_adapter_scale"], row.name)
                row.ip_adapter_scale = scale
            if "identity_framings" in changes:
                framings = check_identity_framings(changes["identity_framings"], row.name)
                row.identity_framings = json.dumps(list(framings))
            if reference is not ...:
                # Stored last, once every other change is valid: a refused edit
                # leaves no new file behind.
                row.reference_media = None if image is None else self._store.media.put_bytes(*image)
            return to_record(row)

    def move(self, name_or_id: str | int, new_position: int) -> None:
        with self._store.session() as session:
            rows = list(session.scalars(select(Character).order_by(Character.position)))
            row = find_character(session, name_or_id)
            rows.remove(row)
            rows.insert(max(0, min(new_position, len(rows))), row)
            for position, item in enumerate(rows):
                item.position = position

    def panels_using(self, name_or_id: str | int) -> list[int]:
        """Numbers (1 = first) of the panels that cast or tag a character, in story order."""
        with self._store.session() as session:
            row = find_character(session, name_or_id)
            return [scene.position + 1 for scene in scenes_using(session, row.name)]

    def delete(
        self, name_or_id: str | int, *, untag_panels: bool = False, if_unused: bool = False
    ) -> list[int]:
        """Delete a character; return the numbers of the panels whose tags were removed.

        Without ``untag_panels`` the prompts keep their ``[Name]`` text (shown as an
        unknown character); with it each tag becomes the plain name, in the same
        transaction as the deletion, so either both happen or neither does.
        ``if_unused`` refuses (CharacterInUseError) while any panel uses it, checked
        in that same transaction so no other process can tag it in between.
        """
        with self._store.session() as session:
            row = find_character(session, name_or_id)
            if if_unused and (users := scenes_using(session, row.name)):
                raise CharacterInUseError(row.name, [scene.position + 1 for scene in users])
            untagged = untag_scenes(session, row.name) if untag_panels else []
            session.delete(row)
            session.flush()
            for position, item in enumerate(
                session.scalars(select(Character).order_by(Character.position))
            ):
                item.position = position
            return untagged


def add_character(
    session: Session,
    name: str,
    description: str,
    *,
    negative_prompt: str = "",
    seed: int | None = None,
    color: str | None = None,
    reference_media: str | None = None,
    identity_framings: Iterable[str] = (),
    reference_strength: float = 1.0,
    ip_adapter: str = "",
    ip_adapter_scale: float = DEFAULT_IP_ADAPTER_SCALE,
) -> Character:
    """Validate and add a character at the end of the list (the seed derives from the name)."""
    name = check_character_name(name)
    description = check_description(description, name)
    ensure_unique_name(session, name)
    count = session.scalar(select(func.count()).select_from(Character)) or 0
    if seed is None:
        seed = derive_seed(session.get_one(ProjectSettingsRow, 1).base_seed, f"character:{name}")
    row = Character(
        name=name,
        description=description,
        negative_prompt=negative_prompt.strip(),
        seed=check_seed(seed, name),
        color=check_color(color) if color else DEFAULT_COLORS[count % len(DEFAULT_COLORS)],
        reference_media=reference_media,
        position=count,
        identity_framings=json.dumps(list(check_identity_framings(identity_framings, name))),
        reference_strength=check_strength(reference_strength, name),
        ip_adapter=check_ip_adapter(ip_adapter, name),
        ip_adapter_scale=check_ip_adapter_scale(ip_adapter_scale, name),
    )
    session.add(row)
    session.flush()
    return row


def find_character(session: Session, name_or_id: str | int) -> Character:
    if isinstance(name_or_id, int):
        row = session.get(Character, name_or_id)
    else:
        row = session.scalar(select(Character).where(Character.name == name_or_id.strip()))
    if row is None:
        names = ", ".join(session.scalars(select(Character.name).order_by(Character.position)))
        raise NotFoundError(
            f"There is no character {name_or_id!r}.",
            f"Characters in this project: {names}."
            if names
            else "The project has no characters yet.",
        )
    return row


def ensure_unique_name(session: Session, name: str, renaming: Character | None = None) -> None:
    """Refuse a name another character has (case aside); ``renaming`` may keep its own."""
    clash = session.scalar(select(Character).where(func.lower(Character.name) == name.lower()))
    if clash is not None and clash is not renaming:
        raise ValidationError(
            f"A character named {clash.name!r} already exists.",
            "Character names must be unique: choose another name or edit the existing one.",
        )


def scenes_using(session: Session, name: str) -> list[Scene]:
    """The panels that use a character: in their cast, or tagged in their prompt."""
    rows = session.scalars(select(Scene).order_by(Scene.position, Scene.id))
    return [
        scene
        for scene in rows
        if name in (c.name for c in scene.characters) or name in find_tags(scene.prompt)
    ]


def untag_scenes(session: Session, name: str) -> list[int]:
    """Turn ``[name]`` into ``name`` in every prompt; return the numbers of changed panels."""
    changed = []
    for scene in scenes_using(session, name):
        plain = untag(scene.prompt, name)
        if plain != scene.prompt:
            scene.prompt = plain
            changed.append(scene.position + 1)
    return changed


def rename_tags(session: Session, old: str, new: str) -> None:
    pattern = re.compile(r"\[\s*" + re.escape(old) + r"\s*\]")
    for scene in session.scalars(select(Scene)):
        scene.prompt = pattern.sub(f"[{new}]", scene.prompt)


def to_record(row: Character) -> CharacterRecord:
    return CharacterRecord(
        id=row.id,
        name=row.name,
        description=row.description,
        negative_prompt=row.negative_prompt,
        seed=row.seed,
        color=row.color,
        reference_media=row.reference_media,
        position=row.position,
        identity_framings=stored_framings(row.identity_framings),
        reference_strength=stored_strength(row.reference_strength),
        ip_adapter=row.ip_adapter or "",
        ip_adapter_scale=stored_ip_adapter_scale(row.ip_adapter_scale),
        loras=tuple(
            lora_signature(lora.digest, lora.scale, lora.trigger)
            for lora in row.loras
            if lora.scale != 0.0
        ),
    )


def check_strength(value: object, name: str) -> float:
    """A reference strength from 0 (the picture is ignored) to 1 (all its tokens shared)."""
    try:
        strength = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        strength = float("nan")
    if not 0.0 <= strength <= 1.0:
        raise ValidationError(
            f"The reference strength of {name}, {value!r}, is not a number from 0 to 1.",
            "Use 0 to ignore the picture, 1 to share all of it, or a value in between.",
        )
    return strength


def stored_strength(value: object) -> float:
    """The stored strength; a hand-edited value out of range reads as the default, 1."""
    try:
        strength = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1.0
    return strength if 0.0 <= strength <= 1.0 else 1.0


def stored_framings(text: str) -> tuple[str, ...]:
    """The framings kept as a JSON list; anything else (a hand-edited file) reads as none."""
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return ()
    return tuple(value)
