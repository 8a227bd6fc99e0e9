"""Export fixtures: a small story with every kind of panel and transition an export meets.

Four panels at 24 fps: a PNG with a camera move, narration and a line of speech, a
larger JPEG with a narration caption, an unrendered panel, and a plain PNG;
between them a crossfade, a cut and a morph with three generated frames.
Timeline: panels of 12 + 12 + 6 + 12 = 42 frames; the 6-frame crossfade (frames 9-14)
and morph (27-32) overlap their cuts and add no time.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

RED = (220, 30, 30)
BLUE = (30, 30, 220)
GREEN = (30, 200, 30)
MORPH_COLORS = ((250, 250, 0), (0, 250, 250), (250, 0, 250))
TOTAL_FRAMES = 42


def image_bytes(color: tuple[int, int, int], size: tuple[int, int], kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, kind)
    return buffer.getvalue()


@pytest.fixture
def board(store: ProjectStore) -> ProjectStore:
    store.rename("Harbour Night")
    store.update_settings(width=96, height=72, frame_rate=24)
    store.characters.add("Mara", "a young woman in a yellow raincoat")
    first = store.scenes.add(
        "[Mara] climbs the stairs",
        caption="Up she goes.",
        dialogue="Mara: Who is there?",
        notes="Slow push in.",
        shot_type="wide",
        duration=0.5,
    )
    second = store.scenes.add("[NC] the stormy sea", caption="The storm rose.", duration=0.5)
    third = store.scenes.add("[Mara] waves", caption="Hello!", duration=0.25)
    fourth = store.scenes.add("[NC] dawn over the harbour", duration=0.5)
    store.takes.add(first.id, image_bytes(RED, (64, 48)), TakeParams(width=64, height=48))
    store.takes.add(second.id, image_bytes(BLUE, (96, 72), "JPEG"), TakeParams(width=96, height=72))
    store.takes.add(fourth.id, image_bytes(GREEN, (64, 48)), TakeParams(width=64, height=48))
    push_in = CameraMove(Framing(0.5, 0.5, 1.0), Framing(0.5, 0.5, 2.0), "linear")
    store.scenes.update(first.id, camera_move=push_in)
    store.transitions.set(first.id, second.id, kind="crossfade", duration=0.25)
    store.transitions.set(second.id, third.id, kind="cut", duration=0.0)
    morph = store.transitions.set(third.id, fourth.id, kind="morph", duration=0.25)
    frames = [store.media.put_image_bytes(image_bytes(c, (64, 48))) for c in MORPH_COLORS]
    store.transitions.set_result(morph.id, "ready", frames)
    return store
