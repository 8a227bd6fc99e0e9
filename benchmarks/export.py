"""Export speed: a 100-panel project to PDF and to a 2-minute MP4 animatic.

Builds a temporary project of 100 rendered-looking panels (distinct 512x512
PNGs: gradients and noise, so they compress like pictures, not flat colour),
1.1 s each with twenty 0.5 s crossfades (after panels 3, 8 ... 98) and a camera
push-in on every third panel: 120 s, 2,880 frames at 24 fps. Then times each export and
prints a table of seconds and output sizes.

Usage: ``python benchmarks/export.py [--panels N] [--size 1280x720] [--preset veryfast]``
(about 2 minutes on a busy 2-core CPU; ``--panels 10`` for a quick look).
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from storyboard_app.export import (
    CbzOptions,
    ExportResult,
    PdfOptions,
    VideoOptions,
    export_cbz,
    export_editorial,
    export_mp4,
    export_pdf,
)
from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import ProjectStore

IMAGE_SIZE = 512
PANEL_SECONDS = 1.1
CROSSFADE_SECONDS = 0.5
CROSSFADE_EVERY = 5
# Crossfades after panels 3, 8, ... 98: twenty of them, so 100 panels last 120 s.
FIRST_CROSSFADE = 2
PUSH_IN = CameraMove(Framing(0.5, 0.5, 1.0), Framing(0.45, 0.4, 1.6), "ease_in_out")


def panel_png(index: int, rng: np.random.Generator) -> bytes:
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32) / IMAGE_SIZE
    phase = index * 0.37
    channels = [np.sin(6 * x + phase), np.cos(5 * y - phase), np.sin(4 * (x + y) + 2 * phase)]
    picture = np.stack(channels, axis=-1) * 90 + 128
    picture += rng.normal(0, 12, picture.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def build_project(folder: Path, panels: int) -> ProjectStore:
    store = ProjectStore.create(folder / "bench.storyboard", name="Export benchmark")
    store.update_settings(width=IMAGE_SIZE, height=IMAGE_SIZE, frame_rate=24)
    store.characters.add("Mara", "a young woman in a yellow raincoat")
    rng = np.random.default_rng(0)
    scenes = []
    for index in range(panels):
        scene = store.scenes.add(
            f"[Mara] shot {index + 1}" if index % 2 else f"[NC] establishing view {index + 1}",
            caption=f"Panel {index + 1}: the story moves on, one line of dialogue at a time.",
            notes="Hold, then cut." if index % 4 == 0 else "",
            duration=PANEL_SECONDS,
        )
        params = TakeParams(width=IMAGE_SIZE, height=IMAGE_SIZE)
        store.takes.add(scene.id, panel_png(index, rng), params)
        if index % 3 == 0:
            store.scenes.update(scene.id, camera_move=PUSH_IN)
        scenes.append(scene)
    for index in range(FIRST_CROSSFADE, panels - 1, CROSSFADE_EVERY):
        first, second = scenes[index], scenes[index + 1]
        store.transitions.set(first.id, second.id, kind="crossfade", duration=CROSSFADE_SECONDS)
    return store


def timed(export: Callable[[], ExportResult]) -> tuple[float, ExportResult]:
    started = time.perf_counter()
    result = export()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=100)
    parser.add_argument("--size", default="1280x720", help="MP4 frame size")
    parser.add_argument("--preset", default="veryfast", help="x264 preset")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        started = time.perf_counter()
        store = build_project(folder, args.panels)
        info = store.info()
        print(f"project: {info.scene_count} panels, built in {time.perf_counter() - started:.1f} s")
        video = VideoOptions(size=(width, height), preset=args.preset)
        cases: list[tuple[str, Callable[[], ExportResult]]] = [
            ("PDF comic (A4)", lambda: export_pdf(store, folder / "comic.pdf")),
            (
                "PDF worksheet (A4)",
                lambda: export_pdf(store, folder / "sheet.pdf", PdfOptions(layout="worksheet")),
            ),
            (f"MP4 {width}x{height}", lambda: export_mp4(store, folder / "a.mp4", video)),
            (
                f"MP4 {width}x{height} + captions",
                lambda: export_mp4(
                    store,
                    folder / "b.mp4",
                    VideoOptions(size=(width, height), preset=args.preset, captions=True),
                ),
            ),
            ("CBZ (lettered)", lambda: export_cbz(store, folder / "c.cbz", CbzOptions())),
            ("OTIO + stills", lambda: export_editorial(store, folder / "t.otio", "otio")),
        ]
        rows = []
        for label, export in cases:
            seconds, result = timed(export)
            size = result.path.stat().st_size / 2**20
            rows.append((label, f"{result.count} {result.unit}", f"{seconds:.1f}", f"{size:.1f}"))
            print(f"  {label}: {seconds:.1f} s", flush=True)
        store.close()
    print_table(("export", "output", "seconds", "MiB"), rows)


def print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
