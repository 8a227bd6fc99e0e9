"""What print-style exports read from a project: its panels in order, as plain data.

Everything is collected from the store once, before any drawing, so an export
can run on a worker thread without touching the database, and a panel whose
image is missing or unreadable is known up front and drawn as a labelled
placeholder instead of failing half-way through.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from storyboard_app.export.errors import NothingToExportError
from storyboard_app.project.errors import MediaError
from storyboard_app.project.media import MediaStore
from storyboard_app.project.records import SceneRecord
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.timeline import build_timeline

NOT_RENDERED = "not rendered"
IMAGE_MISSING = "image file missing"
IMAGE_UNREADABLE = "image unreadable"


@dataclass(frozen=True)
class ExportPanel:
    """One panel as exports see it; ``media`` is None when there is no usable image."""

    scene_id: int
    number: int
    prompt: str
    caption: str  # the narration
    notes: str
    shot_type: str
    duration: float
    characters: tuple[str, ...]
    media: str | None
    image_size: tuple[int, int]
    problem: str = ""
    dialogue: str = ""  # a speech balloon a line

    @property
    def aspect(self) -> float:
        return self.image_size[0] / self.image_size[1]

    @property
    def label(self) -> str:
        """``Panel 3``: how placeholders and headers name the panel (``problem`` says why)."""
        return f"Panel {self.number}"


@dataclass(frozen=True)
class Story:
    """``total_frames`` at ``frame_rate`` is the running time, read from the timeline."""

    title: str
    panels: tuple[ExportPanel, ...]
    characters: tuple[tuple[str, str], ...]
    frame_size: tuple[int, int]
    total_frames: int
    frame_rate: int

    @property
    def duration(self) -> float:
        return self.total_frames / self.frame_rate


def collect_story(store: ProjectStore) -> Story:
    """The project's panels with their active images; refuses a project with no panels."""
    scenes = store.scenes.list()
    if not scenes:
        raise NothingToExportError(
            f"The project {store.name!r} has no panels to export.",
            "Add panels first (storyboard add-scene, or the app's + button).",
        )
    settings = store.settings()
    frame_size = settings.render_size()
    timeline = build_timeline(store)
    return Story(
        title=store.name,
        panels=tuple(export_panel(store, scene, frame_size) for scene in scenes),
        characters=tuple((c.name, c.description) for c in store.characters.list()),
        frame_size=frame_size,
        total_frames=timeline.total_frames,
        frame_rate=timeline.frame_rate,
    )


def export_panel(
    store: ProjectStore, scene: SceneRecord, frame_size: tuple[int, int]
) -> ExportPanel:
    media = None if scene.active_take_id is None else store.takes.get(scene.active_take_id).media
    size, problem = frame_size, NOT_RENDERED
    if media is not None:
        found = image_size(store.media, media)
        if isinstance(found, str):
            media, problem = None, found
        else:
            size, problem = found, ""
    return ExportPanel(
        scene_id=scene.id,
        number=scene.number,
        prompt=scene.prompt,
        caption=scene.caption,
        dialogue=scene.dialogue,
        notes=scene.notes,
        shot_type=scene.shot_type,
        duration=scene.duration,
        characters=scene.character_names,
        media=media,
        image_size=size,
        problem=problem,
    )


def image_size(media: MediaStore, name: str) -> tuple[int, int] | str:
    """The pixel size of a media image, or why it cannot be used (read from the header only)."""
    try:
        path = media.path(name)
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        return IMAGE_MISSING
    except (MediaError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return IMAGE_UNREADABLE
