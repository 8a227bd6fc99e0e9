"""``storyboard export``: PDF, MP4, image, comic-archive and editorial exports of a project.

Several outputs may be asked for at once; every option and output path is
checked before the first export starts, so a typo in the last one is reported
at once rather than after minutes of encoding. Progress goes to stderr,
results to stdout.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storyboard_app.cli.common import (
    EXIT_OK,
    Commands,
    add_command,
    add_json_flag,
    add_project_argument,
    print_json,
)
from storyboard_app.cli.progress import Progress, progress_for
from storyboard_app.cli.render import parse_size
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.store import ProjectStore

if TYPE_CHECKING:
    from storyboard_app.export import EditorialOptions, ExportProgress, ExportResult

Job = Callable[[ProjectStore, Callable[["ExportProgress"], None]], "ExportResult"]
FILE_SUFFIXES = {
    "pdf": (".pdf",),
    "mp4": (".mp4", ".m4v"),
    "cbz": (".cbz",),
    "otio": (".otio",),
    "fcpxml": (".xml",),
    "edl": (".edl",),
}
FOLDER_OUTPUTS = ("frames", "panels")


def register_export(commands: Commands) -> None:
    parser = add_command(
        commands,
        "export",
        cmd_export,
        "Export a project as a PDF, an MP4 animatic, images, a CBZ comic or an editing timeline.",
    )
    add_project_argument(parser)
    outputs = parser.add_argument_group("outputs (one or more)")
    outputs.add_argument("--pdf", type=Path, metavar="FILE", help="PDF comic or storyboard sheets")
    outputs.add_argument("--mp4", type=Path, metavar="FILE", help="MP4 animatic (H.264)")
    outputs.add_argument("--cbz", type=Path, metavar="FILE", help="CBZ comic archive")
    outputs.add_argument("--otio", type=Path, metavar="FILE", help="OpenTimelineIO timeline")
    outputs.add_argument(
        "--fcpxml", type=Path, metavar="FILE", help="Final Cut Pro 7 XML (Premiere, Resolve)"
    )
    outputs.add_argument("--edl", type=Path, metavar="FILE", help="CMX 3600 EDL")
    outputs.add_argument(
        "--frames", type=Path, metavar="DIR", help="every frame as PNG (new folder)"
    )
    outputs.add_argument(
        "--panels", type=Path, metavar="DIR", help="one image per panel (new folder)"
    )
    add_pdf_options(parser)
    add_video_options(parser)
    add_json_flag(parser, "print the files written as JSON")


def add_pdf_options(parser: argparse.ArgumentParser) -> None:
    pdf = parser.add_argument_group("PDF and CBZ")
    pdf.add_argument("--layout", choices=["comic", "strip", "single", "worksheet"], default="comic")
    pdf.add_argument(
        "--page",
        metavar="SIZE",
        help="a4, letter, ... or WxHmm (default: the locale's paper, Letter in the US and "
        "Canada, else A4)",
    )
    pdf.add_argument("--landscape", action="store_true", help="turn the page sideways")
    pdf.add_argument("--margin", type=float, default=12.0, metavar="MM", help="page margin")
    pdf.add_argument("--gutter", type=float, default=4.0, metavar="MM", help="space between panels")
    pdf.add_argument(
        "--per-row", type=int, default=0, metavar="N", help="comic: panels per row (0: 2 and 3)"
    )
    pdf.add_argument(
        "--per-page", type=int, default=4, metavar="N", help="worksheet: panels per page"
    )
    pdf.add_argument("--no-title-page", action="store_true", help="start with the first panel")
    pdf.add_argument(
        "--no-lettering", action="store_true", help="leave captions off PDF and CBZ panels"
    )


def add_video_options(parser: argparse.ArgumentParser) -> None:
    video = parser.add_argument_group("MP4, frames and editorial timelines")
    video.add_argument("--fps", type=int, metavar="N", help="frame rate (default: the project's)")
    video.add_argument("--size", metavar="WxH", help="frame size (default: 720 lines high)")
    video.add_argument("--captions", action="store_true", help="burn captions into the frames")
    video.add_argument("--panel-numbers", action="store_true", help="burn in panel numbers")
    video.add_argument(
        "--quality", type=int, default=20, metavar="CRF", help="x264 CRF: 18 fine ... 28 small"
    )


def cmd_export(args: argparse.Namespace) -> int:
    check_outputs(args)
    reports: list[dict[str, Any]] = []
    with ProjectStore.open(args.project) as store, progress_for(args) as progress:
        frame_rate = args.fps or store.settings().frame_rate
        for label, job in plan_jobs(args, store.settings().frame_rate):
            started = time.perf_counter()
            result = job(store, lambda step, label=label: show_step(progress, label, step))
            reports.append(export_report(label, result, time.perf_counter() - started, frame_rate))
            if not args.json:
                progress.end_line()  # the result goes to stdout: end the progress line first
                print(result.describe(), flush=True)
    if args.json:
        print_json({"project": str(args.project), "outputs": reports})
    return EXIT_OK


def show_step(progress: Progress, label: str, step: ExportProgress) -> None:
    progress.update(label, step.done, step.total, step.unit)


def export_report(
    label: str, result: ExportResult, seconds: float, frame_rate: int
) -> dict[str, Any]:
    """One output as ``--json`` shows it; ``duration`` is the length of a video's timeline."""
    return {
        "format": label,
        "path": str(result.path),
        "count": result.count,
        "unit": result.unit,
        "extra": [str(p) for p in result.extra],
        "duration": round(result.count / frame_rate, 3) if result.unit == "frames" else None,
        "seconds": round(seconds, 3),
    }


def plan_jobs(args: argparse.Namespace, project_rate: int) -> list[tuple[str, Job]]:
    """One job per requested output, with its options built (and so checked) up front."""
    jobs = print_jobs(args) + timeline_jobs(args, project_rate)
    if not jobs:
        raise ValidationError(
            "Nothing to export: no output was given.",
            "Add at least one of --pdf, --mp4, --cbz, --otio, --fcpxml, --edl, --frames, --panels.",
        )
    return jobs


def check_outputs(args: argparse.Namespace) -> None:
    from storyboard_app.export.output import check_output_file, check_output_folder

    for name, suffixes in FILE_SUFFIXES.items():
        if getattr(args, name) is not None:
            check_output_file(getattr(args, name), suffixes)
    for name in FOLDER_OUTPUTS:
        if getattr(args, name) is not None:
            check_output_folder(getattr(args, name))


def print_jobs(args: argparse.Namespace) -> list[tuple[str, Job]]:
    from storyboard_app.export import (
        CbzOptions,
        PageSetup,
        PdfOptions,
        default_paper,
        export_cbz,
        export_panel_images,
        export_pdf,
        parse_page_size,
    )

    jobs: list[tuple[str, Job]] = []
    if args.pdf is not None:
        size = parse_page_size(args.page or default_paper())
        page = PageSetup(size, args.landscape, args.margin, args.gutter)
        options = PdfOptions(
            layout=args.layout,
            page=page,
            title_page=not args.no_title_page,
            captions=not args.no_lettering,
            panels_per_row=args.per_row,
            panels_per_page=args.per_page,
        )
        jobs.append(("PDF", lambda s, p: export_pdf(s, args.pdf, options, p)))
    if args.cbz is not None:
        cbz = CbzOptions(captions=not args.no_lettering)
        jobs.append(("CBZ", lambda s, p: export_cbz(s, args.cbz, cbz, p)))
    if args.panels is not None:
        jobs.append(("Panels", lambda s, p: export_panel_images(s, args.panels, p)))
    return jobs


def timeline_jobs(args: argparse.Namespace, project_rate: int) -> list[tuple[str, Job]]:
    from storyboard_app.export import (
        EditorialOptions,
        FrameOptions,
        VideoOptions,
        export_frames,
        export_mp4,
    )
    from storyboard_app.export.editorial import check_timecode_rate

    size = parse_size(args.size) if args.size else None
    common = {
        "size": size,
        "frame_rate": args.fps,
        "captions": args.captions,
        "panel_numbers": args.panel_numbers,
    }
    jobs: list[tuple[str, Job]] = []
    if args.mp4 is not None:
        video = VideoOptions(**common, quality=args.quality)
        jobs.append(("MP4", lambda s, p: export_mp4(s, args.mp4, video, p)))
    if args.frames is not None:
        frames = FrameOptions(**common)
        jobs.append(("Frames", lambda s, p: export_frames(s, args.frames, frames, p)))
    editorial = EditorialOptions(frame_rate=args.fps)
    for flag, format_name, label in (
        ("otio", "otio", "OTIO"),
        ("fcpxml", "fcp_xml", "FCP XML"),
        ("edl", "edl", "EDL"),
    ):
        path = getattr(args, flag)
        if path is not None:
            check_timecode_rate(format_name, args.fps or project_rate)
            jobs.append((label, editorial_job(path, format_name, editorial)))
    return jobs


def editorial_job(path: Path, format_name: str, options: EditorialOptions) -> Job:
    from storyboard_app.export import export_editorial

    return lambda store, progress: export_editorial(store, path, format_name, options, progress)
