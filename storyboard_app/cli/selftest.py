"""``storyboard self-test`` and the frozen app's ``--self-test``: prove an install works.

Headless and offline: a project is created from the bundled example story,
rendered with the tiny built-in random model (64x64, 2 steps), exported as a
PDF and an MP4, and both files are read back and checked. Everything happens
in a temporary folder (the tiny model's cache included), so the test leaves
nothing behind. Prints ``OK`` and returns 0, or says what failed and returns 1;
with ``--json``, one JSON document of every check instead.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from storyboard_app.cli.common import EXIT_ERROR, EXIT_OK, Commands, add_command, add_json_flag
from storyboard_app.project import bundled
from storyboard_app.project.errors import StoryboardError
from storyboard_app.project.grammar import plural
from storyboard_app.project.scripts.io import load_story_script
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.story import create_project_from_script

EXAMPLE_SCRIPT = "lighthouse_keeper.toml"
RENDER_SIZE = 64
RENDER_STEPS = 2
VIDEO_SIZE = (128, 96)
CHECKS = ("project", "render", "pdf", "mp4")  # in the order run_steps runs them


class SelfTestFailure(StoryboardError):
    """A check of the self-test did not hold."""


log = logging.getLogger(__name__)
Report = Callable[[str, str], None]


def register_self_test(commands: Commands) -> None:
    parser = add_command(
        commands,
        "self-test",
        lambda args: run_self_test(as_json=args.json),
        "Check this installation: render the example with a tiny model, export PDF and MP4.",
    )
    add_json_flag(parser, "print the checks and their results as JSON")


def run_self_test(out: TextIO | None = None, as_json: bool = False) -> int:
    """Run every check, reporting each on ``out`` (stdout); 0 when all passed."""
    out = out or sys.stdout
    checks = CheckLog(out, as_json)
    try:
        with tempfile.TemporaryDirectory(prefix="storyboard-self-test-") as temp, cache_in(temp):
            run_steps(Path(temp), checks.passed)
    except Exception as exc:
        if not isinstance(exc, StoryboardError):
            traceback.print_exc()
        checks.failed(exc)
        return EXIT_ERROR
    checks.finished()
    return EXIT_OK


def run_steps(folder: Path, report: Report) -> None:
    script = load_story_script(examples_dir() / EXAMPLE_SCRIPT)
    with create_project_from_script(folder / "self-test.storyboard", script) as store:
        report("project", f"{len(store.scenes.list())} panels from {EXAMPLE_SCRIPT}")
        render_tiny(store)
        report("render", f"{store.info().rendered_scene_count} panels with the tiny model")
        pages = check_pdf(store, folder / "self-test.pdf")
        report("pdf", f"{pages} pages, text and images embedded")
        frames = check_mp4(store, folder / "self-test.mp4")
        report("mp4", f"{frames} frames of H.264 yuv420p, as long as the timeline")


class CheckLog:
    """The checks so far: each as a line when it passes, or all as JSON at the end."""

    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.started = self.last = time.perf_counter()
        self.checks: list[dict[str, Any]] = []

    def passed(self, name: str, result: str) -> None:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        self.checks.append({"check": name, "passed": True, "result": result, "seconds": seconds})
        line = f"{name}: {result} ({seconds:.1f} s)"
        if self.as_json:
            log.info("%s", line)
        else:
            print(line, file=self.out, flush=True)

    def failed(self, error: Exception) -> None:
        if not self.as_json:
            print(f"FAILED: {error}", file=self.out, flush=True)
            return
        message = error.message if isinstance(error, StoryboardError) else str(error)
        name = CHECKS[min(len(self.checks), len(CHECKS) - 1)]
        self.checks.append({"check": name, "passed": False, "result": message})
        self.write_json(ok=False, error=message, hint=getattr(error, "hint", None))

    def finished(self) -> None:
        if self.as_json:
            self.write_json(ok=True)
        else:
            print(f"OK ({time.perf_counter() - self.started:.1f} s)", file=self.out, flush=True)

    def write_json(self, ok: bool, error: str | None = None, hint: str | None = None) -> None:
        document = {
            "ok": ok,
            "seconds": round(time.perf_counter() - self.started, 3),
            "checks": [c | {"seconds": round(c.get("seconds", 0.0), 3)} for c in self.checks],
            "error": error,
            "hint": hint,
        }
        print(json.dumps(document, indent=2), file=self.out, flush=True)


def examples_dir() -> Path:
    """``projects_example/``: in the package, the frozen app's bundle or the checkout."""
    candidates = bundled.candidates(bundled.EXAMPLES)
    for folder in candidates:
        if (folder / EXAMPLE_SCRIPT).is_file():
            return folder
    raise SelfTestFailure(
        f"The example story {EXAMPLE_SCRIPT} is missing (looked in "
        + ", ".join(str(c) for c in candidates)
        + ").",
        "Reinstall Storyboard; the examples are part of the installation.",
    )


@contextmanager
def cache_in(folder: str) -> Iterator[None]:
    """Point the tiny model's cache into ``folder`` for the duration of the test."""
    previous = os.environ.get("STORYBOARD_CACHE_DIR")
    os.environ["STORYBOARD_CACHE_DIR"] = str(Path(folder) / "cache")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("STORYBOARD_CACHE_DIR", None)
        else:
            os.environ["STORYBOARD_CACHE_DIR"] = previous


def render_tiny(store: ProjectStore) -> None:
    from storyboard_app.engine.project_render import (
        RenderOptions,
        build_render_request,
        load_pipeline_for,
        render_scenes,
    )
    from storyboard_app.engine.story_renderer import StoryRenderer

    options = RenderOptions(
        model_source="tiny", steps=RENDER_STEPS, width=RENDER_SIZE, height=RENDER_SIZE
    )
    request = build_render_request(store, None, options)
    takes = render_scenes(store, StoryRenderer(load_pipeline_for(request)), request)
    if len(takes) != len(request.panels):
        raise SelfTestFailure(
            f"Rendering made {plural(len(takes), 'take')} for "
            f"{plural(len(request.panels), 'panel')}.",
            "Run 'storyboard render' on a project to see the error.",
        )


def check_pdf(store: ProjectStore, path: Path) -> int:
    """Export a comic PDF and check its structure, its embedded font and its images."""
    from storyboard_app.export import export_pdf

    result = export_pdf(store, path)
    data = path.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    checks = {
        "is not a PDF": data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"),
        f"has {pages} pages, not {result.count}": pages == result.count,
        "has no embedded font": b"/FontFile2" in data,
        "has no images": b"/Subtype /Image" in data,
    }
    fail_on(checks, "The exported PDF")
    return pages


def check_mp4(store: ProjectStore, path: Path) -> int:
    """Export the animatic and read it back with PyAV: codec, pixels, frame count, duration."""
    import av

    from storyboard_app.export import VideoOptions, export_mp4

    result = export_mp4(store, path, VideoOptions(size=VIDEO_SIZE, captions=True))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec, pixels = stream.codec_context.name, stream.codec_context.pix_fmt
        decoded = sum(1 for _ in container.decode(stream))
    checks = {
        f"is {codec}, not h264": codec == "h264",
        f"is {pixels}, not yuv420p": pixels == "yuv420p",
        f"has {decoded} frames, not {result.count}": decoded == result.count,
    }
    fail_on(checks, "The exported MP4")
    return decoded


def fail_on(checks: dict[str, bool], what: str) -> None:
    failed = [problem for problem, passed in checks.items() if not passed]
    if failed:
        raise SelfTestFailure(
            f"{what} {'; '.join(failed)}.", "Report this with the output of the self-test."
        )
