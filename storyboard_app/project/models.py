"""The project database: SQLAlchemy 2.0 typed ORM models.

These classes never leave the project layer: the store hands out plain
records (:mod:`storyboard_app.project.records`) so that no ORM object crosses a
thread or outlives its session.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storyboard_app.project.stored_types import StoredDateTime, check_stored_types

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


scene_characters = Table(
    "scene_characters",
    Base.metadata,
    Column("scene_id", ForeignKey("scenes.id", ondelete="CASCADE"), primary_key=True),
    Column("character_id", ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True),
)


class ProjectSettingsRow(Base):
    """The one row of project-wide settings (id is always 1)."""

    __tablename__ = "project_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    model_source: Mapped[str] = mapped_column(Text, default="")
    width: Mapped[int] = mapped_column(Integer, default=0)  # 0: the model's native size
    height: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=30)
    guidance: Mapped[float] = mapped_column(Float, default=5.0)
    scheduler: Mapped[str] = mapped_column(String(40), default="euler")
    style_preset: Mapped[str] = mapped_column(Text, default="")
    base_seed: Mapped[int] = mapped_column(Integer, default=1234)
    frame_rate: Mapped[int] = mapped_column(Integer, default=24)
    aspect_ratio: Mapped[str] = mapped_column(String(16), default="1:1", server_default="1:1")
    freeu: Mapped[str] = mapped_column(String(8), default="off")
    style: Mapped[str] = mapped_column(String(40), default="none")
    shot_in_prompt: Mapped[bool] = mapped_column(Boolean, default=True)
    sampling_rate: Mapped[float] = mapped_column(Float, default=0.5)
    sampling_rate_high_res: Mapped[float] = mapped_column(Float, default=0.5)
    window_size: Mapped[int] = mapped_column(Integer, default=6)
    identity_images: Mapped[int] = mapped_column(Integer, default=2)
    consistency_blocks: Mapped[str] = mapped_column(Text, default="up_blocks")
    share_between_panels: Mapped[bool] = mapped_column(Boolean, default=False)
    identity_cache_precision: Mapped[str] = mapped_column(
        String(8), default="fp16", server_default="fp16"
    )
    identity_cache_budget_gb: Mapped[float] = mapped_column(
        Float, default=20.0, server_default="20.0"
    )
    created_at: Mapped[datetime] = mapped_column(StoredDateTime(), default=utc_now)


class Character(Base):
    __tablename__ = "characters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int] = mapped_column(Integer)
    reference_media: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # How much of the reference picture's tokens the identity cache shares (0 to 1).
    reference_strength: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    # The IP-Adapter that reads the reference picture: a kind name or a .safetensors path.
    ip_adapter: Mapped[str] = mapped_column(Text, default="", server_default="")
    ip_adapter_scale: Mapped[float] = mapped_column(Float, default=0.6, server_default="0.6")
    color: Mapped[str] = mapped_column(String(9), default="#4e79a7")
    position: Mapped[int] = mapped_column(Integer, index=True)
    identity_framings: Mapped[str] = mapped_column(Text, default="[]")  # JSON list

    scenes: Mapped[list[Scene]] = relationship(
        secondary=scene_characters, back_populates="characters"
    )
    # Read only; the database deletes a character's LoRAs with it (ON DELETE CASCADE).
    loras: Mapped[list[Lora]] = relationship(order_by="Lora.id", viewonly=True)


class Lora(Base):
    """A LoRA file the project renders with: everywhere, or for one character's identity
    and the panels naming it (``character_id``)."""

    __tablename__ = "loras"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    path: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    scale: Mapped[float] = mapped_column(Float, default=1.0)
    trigger: Mapped[str] = mapped_column(Text, default="")
    character_id: Mapped[int | None] = mapped_column(
        ForeignKey("characters.id", ondelete="CASCADE"), nullable=True
    )


class StoryClock(Base):
    """One number that only grows: each change to a panel takes its next value as the
    panel's revision (by trigger, migration 0018), so "what changed since I looked" is one
    indexed read of the panels past the value last seen."""

    __tablename__ = "story_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Scene(Base):
    """A panel on the timeline; ``position`` is its 0-based place in the story."""

    __tablename__ = "scenes"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, index=True)
    duration: Mapped[float] = mapped_column(Float, default=2.0)
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    caption: Mapped[str] = mapped_column(Text, default="")  # the narration (caption box)
    dialogue: Mapped[str] = mapped_column(Text, default="")  # speech, one balloon a line
    notes: Mapped[str] = mapped_column(Text, default="")
    shot_type: Mapped[str] = mapped_column(String(40), default="")
    seed: Mapped[int] = mapped_column(Integer)
    seed_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    camera_move: Mapped[str | None] = mapped_column(Text, nullable=True)
    active_take_id: Mapped[int | None] = mapped_column(
        ForeignKey("takes.id", ondelete="SET NULL", use_alter=True), nullable=True
    )
    # The artist chose the active take by hand: Re-render All keeps it unless told not to.
    active_take_picked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by SQLite triggers (migrations 0017, 0018) to the story clock's next value whenever
    # the panel, its cast or its takes change, whoever writes; never written here. The
    # window's watcher reads the panels whose revision passed the clock it last saw.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)

    characters: Mapped[list[Character]] = relationship(
        secondary=scene_characters, back_populates="scenes", order_by="Character.position"
    )
    takes: Mapped[list[Take]] = relationship(
        back_populates="scene",
        foreign_keys="Take.scene_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Take.id",
    )


class Take(Base):
    """One rendered (or imported) image of a scene, with everything needed to redo it."""

    __tablename__ = "takes"

    id: Mapped[int] = mapped_column(primary_key=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"), index=True)
    media: Mapped[str] = mapped_column(String(100))
    # Take 1, 2, 3... of its panel, in the order they were made; kept when another is deleted.
    number: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="rendered")
    model_source: Mapped[str] = mapped_column(Text, default="")
    seed: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    guidance: Mapped[float] = mapped_column(Float, default=0.0)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    scheduler: Mapped[str] = mapped_column(String(40), default="")
    prompt: Mapped[str] = mapped_column(Text, default="")
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    consistency_json: Mapped[str] = mapped_column(Text, default="{}")
    identity_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    freeu: Mapped[str] = mapped_column(String(8), default="off")
    style: Mapped[str] = mapped_column(String(40), default="none")
    created_at: Mapped[datetime] = mapped_column(StoredDateTime(), default=utc_now)

    scene: Mapped[Scene] = relationship(back_populates="takes", foreign_keys=[scene_id])


class Transition(Base):
    """The clip between two neighbouring scenes (``from_scene`` comes first).

    ``from_take_id``/``to_take_id`` are the takes a morph or motion was made
    from: when either panel shows another picture, its frames are stale. A
    deleted take leaves NULL, which matches no take.
    """

    __tablename__ = "transitions"
    __table_args__ = (UniqueConstraint("from_scene_id", "to_scene_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_scene_id: Mapped[int] = mapped_column(
        ForeignKey("scenes.id", ondelete="CASCADE"), index=True
    )
    to_scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="cut")
    duration: Mapped[float] = mapped_column(Float, default=0.5)
    frame_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    media_json: Mapped[str] = mapped_column(Text, default="[]")
    settings_json: Mapped[str] = mapped_column(Text, default="{}")
    from_take_id: Mapped[int | None] = mapped_column(
        ForeignKey("takes.id", ondelete="SET NULL"), nullable=True
    )
    to_take_id: Mapped[int | None] = mapped_column(
        ForeignKey("takes.id", ondelete="SET NULL"), nullable=True
    )
    updated_at: Mapped[datetime] = mapped_column(
        StoredDateTime(), default=utc_now, onupdate=utc_now
    )


# Every loaded row is checked against its columns' types (SQLite stores any value anywhere).
event.listen(Base, "load", check_stored_types, propagate=True)
event.listen(Base, "refresh", check_stored_types, propagate=True)
