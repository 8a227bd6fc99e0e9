"""The LoRAs a project renders with: project-wide, or for one character.

A LoRA is a ``.safetensors`` file the user keeps where it is (they are large);
the project stores its path, its content hash (what takes and identity cache
keys record), a scale and an optional trigger word. Only safetensors files are
accepted, checked by their header alone: a pickle checkpoint (``.ckpt``,
``.pt``, ``.bin``) is refused without being opened, because unpickling runs code.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from storyboard_app.project.characters import find_character
from storyboard_app.project.errors import NotFoundError, ValidationError
from storyboard_app.project.models import Character, Lora
from storyboard_app.project.records import LoraRecord

if TYPE_CHECKING:
    from storyboard_app.project.store import ProjectStore

MAX_HEADER_BYTES = 100_000_000
HASH_CHUNK = 1 << 20
MAX_SCALE = 4.0


class LoraRepository:
    """LoRAs of one project; every call is its own short transaction."""

    def __init__(self, store: ProjectStore) -> None:
        self._store = store

    def list(self) -> list[LoraRecord]:
        with self._store.session() as session:
            rows = session.scalars(select(Lora).order_by(Lora.id)).all()
            names = {c.id: c.name for c in session.scalars(select(Character))}
            return [to_record(row, names) for row in rows]

    def add(
        self,
        file: Path,
        *,
        scale: float = 1.0,
        trigger: str = "",
        character: str | None = None,
        name: str | None = None,
    ) -> LoraRecord:
        """Add a LoRA file (checked to be safetensors, hashed) under ``name`` (its stem)."""
        path = Path(file).expanduser().resolve()
        check_safetensors(path)
        digest = file_digest(path)
        name = (name or path.stem).strip()
        scale = check_scale(scale, name)
        with self._store.session() as session:
            if session.scalar(select(Lora).where(Lora.name == name)) is not None:
                raise ValidationError(
                    f"The project already has a LoRA called {name!r}.",
                    "Remove it first (storyboard lora remove), or rename the file.",
                )
            owner = find_character(session, character) if character else None
            row = Lora(
                name=name,
                path=str(path),
                digest=digest,
                scale=scale,
                trigger=trigger.strip(),
                character_id=owner.id if owner else None,
            )
            session.add(row)
            session.flush()
            return to_record(row, {owner.id: owner.name} if owner else {})

    def update(
        self, name: str, *, scale: float | None = None, trigger: str | None = None
    ) -> LoraRecord:
        """Change a LoRA's scale or trigger word (the file and its hash stay).

        The panels it steers go stale as when it was added: a project LoRA is
        part of every panel's inputs, a character's of its identity.
        """
        with self._store.session() as session:
            row = find_lora(session, name)
            if scale is not None:
                row.scale = check_scale(scale, name)
            if trigger is not None:
                row.trigger = trigger.strip()
            names = {c.id: c.name for c in session.scalars(select(Character))}
            return to_record(row, names)

    def remove(self, name: str) -> None:
        with self._store.session() as session:
            session.delete(find_lora(session, name))

    def replace(self, loras: Sequence[LoraRecord]) -> None:
        """Make the project's LoRAs exactly ``loras``, in that order (the app's LoRA list,
        and its undo). Each keeps the file hash it was added with, so undo puts back what
        was there without reading the files again."""
        names = [lora.name for lora in loras]
        if len(set(names)) != len(names):
            raise ValidationError(
                "Two LoRAs have the same name.", "Remove one of them, or add it once."
            )
        with self._store.session() as session:
            write_loras(session, loras)


def write_loras(session: Session, loras: Sequence[LoraRecord]) -> None:
    """Replace every LoRA row by ``loras``, in that order (their ids are new)."""
    owners = {c.name: c.id for c in session.scalars(select(Character))}
    rows = [new_row(lora, owners) for lora in loras]
    for row in session.scalars(select(Lora)).all():
        session.delete(row)
    session.flush()
    session.add_all(rows)


PlacedLora = tuple[int, LoraRecord]  # a LoRA and its place in the project's list


def character_loras(session: Session, character: Character) -> tuple[PlacedLora, ...]:
    """A character's own LoRAs with their places in the list: what deleting it deletes
    (the rows cascade), kept by the undo snapshot to put back with :func:`insert_loras`."""
    rows = session.scalars(select(Lora).order_by(Lora.id))
    names = {character.id: character.name}
    return tuple(
        (place, to_record(row, names))
        for place, row in enumerate(rows)
        if row.character_id == character.id
    )


def insert_loras(session: Session, placed: Sequence[PlacedLora]) -> None:
    """Put LoRAs back at their places in the list, with their files, hashes, scales and
    triggers, their owners already back.

    They keep their old ids while that keeps the list in order; when those were taken
    meanwhile (rewriting the list renumbers it), the whole list is written again in
    order: the ids are only its order, nothing else refers to them. A LoRA of the same
    name added meanwhile stops it, so the caller's transaction leaves the project as it is.
    """
    names = {c.id: c.name for c in session.scalars(select(Character))}
    loras = [to_record(row, names) for row in session.scalars(select(Lora).order_by(Lora.id))]
    taken = {lora.name for lora in loras}
    for place, lora in sorted(placed, key=lambda item: item[0]):
        if lora.name in taken:
            raise ValidationError(
                f"The project already has a LoRA called {lora.name!r}.",
                "Rename or remove that LoRA, then undo again.",
            )
        loras.insert(min(place, len(loras)), lora)
    ids = [lora.id for lora in loras]
    if ids != sorted(set(ids)):
        write_loras(session, loras)
        return
    owners = {name: character_id for character_id, name in names.items()}
    for _, lora in placed:
        row = new_row(lora, owners)
        row.id = lora.id
        session.add(row)


def find_lora(session: Session, name: str) -> Lora:
    """The LoRA called ``name``, or a refusal that lists the project's LoRAs."""
    row = session.scalar(select(Lora).where(Lora.name == name))
    if row is None:
        known = ", ".join(session.scalars(select(Lora.name).order_by(Lora.id)))
        raise NotFoundError(
            f"There is no LoRA {name!r}.",
            f"LoRAs in this project: {known}." if known else "The project has no LoRAs.",
        )
    return row


def new_row(lora: LoraRecord, owners: dict[str, int]) -> Lora:
    """A row for ``lora``; its character (if any) must exist."""
    if lora.character is not None and lora.character not in owners:
        raise NotFoundError(
            f"The LoRA {lora.name!r} is for {lora.character}, who is no longer in the story.",
            "Choose another character for it, or use it everywhere.",
        )
    return Lora(
        name=lora.name,
        path=str(lora.path),
        digest=lora.digest,
        scale=check_scale(lora.scale, lora.name),
        trigger=lora.trigger.strip(),
        character_id=owners[lora.character] if lora.character is not None else None,
    )


def to_record(row: Lora, names: dict[int, str]) -> LoraRecord:
    return LoraRecord(
        id=row.id,
        name=row.name,
        path=Path(row.path),
        digest=row.digest,
        scale=row.scale,
        trigger=row.trigger,
        character=names.get(row.character_id) if row.character_id is not None else None,
    )


def check_scale(scale: object, name: str) -> float:
    try:
        value = float(scale)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not -MAX_SCALE <= value <= MAX_SCALE:
        raise ValidationError(
            f"The scale of LoRA {name!r}, {scale!r}, is not usable.",
            f"Use a number from {-MAX_SCALE:g} to {MAX_SCALE:g} (1 is the LoRA as trained).",
        )
    return value


def check_safetensors(path: Path) -> None:
    """Refuse anything but a readable safetensors file, reading only its header."""
    if path.suffix.lower() != ".safetensors":
        raise ValidationError(
            f"{path.name} is not a .safetensors file.",
            "Only safetensors LoRAs are accepted (pickle files can run code when opened); "
            "download or convert the LoRA to .safetensors.",
        )
    try:
        with path.open("rb") as handle:
            size_bytes = handle.read(8)
            size = struct.unpack("<Q", size_bytes)[0] if len(size_bytes) == 8 else 0
            header = json.loads(handle.read(size)) if 0 < size <= MAX_HEADER_BYTES else None
    except FileNotFoundError:
        raise ValidationError(f"{path} does not exist.", "Check the path.") from None
    except (OSError, ValueError) as error:
        raise ValidationError(f"Cannot read {path}: {error}.", "Check the file.") from None
    if not isinstance(header, dict):
        raise ValidationError(
            f"{path.name} is not a safetensors file (its header is not one).",
            "Download the LoRA again, or convert it to .safetensors.",
        )


class HashingStopped(Exception):
    """Hashing was stopped on request (the dialog that asked for it closed)."""


def file_digest(path: Path, stop: Callable[[], bool] = lambda: False) -> str:
    """The file's SHA-256; ``stop`` is asked between chunks, so a caller on another
    thread can end the hashing of a large file early (:class:`HashingStopped`)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            if stop():
                raise HashingStopped(path)
            digest.update(chunk)
    return digest.hexdigest()
