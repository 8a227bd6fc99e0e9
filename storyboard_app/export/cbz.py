"""CBZ comic archive: the panels as numbered pages in a zip, with a ComicInfo.xml.

Comic readers show only the pictures, so by default each caption is lettered
onto its panel as the PDF's comic layout letters it (same balloon, same
font); without captions the panels' own files go in untouched.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from storyboard_app import __version__
from storyboard_app.export.lettering import panel_lettering
from storyboard_app.export.output import atomic_file, check_output_file
from storyboard_app.export.page_items import Page, PanelArt, Rect
from storyboard_app.export.page_preview import render_page
from storyboard_app.export.pictures import png_bytes
from storyboard_app.export.progress import (
    CancelCheck,
    ProgressCallback,
    Steps,
    never_cancelled,
    no_progress,
)
from storyboard_app.export.result import ExportResult
from storyboard_app.export.stills import panel_file, panel_stem
from storyboard_app.export.story import ExportPanel, Story, collect_story
from storyboard_app.project.media import MediaStore
from storyboard_app.project.store import ProjectStore

# Captions are lettered as on a page this many points wide, scaled to the image.
LETTERING_PAGE_WIDTH = 360.0


@dataclass(frozen=True)
class CbzOptions:
    captions: bool = True


def export_cbz(
    store: ProjectStore,
    path: Path | str,
    options: CbzOptions | None = None,
    on_progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck = never_cancelled,
) -> ExportResult:
    """Write the panels, in story order, as a CBZ archive; it appears only when complete."""
    options = options or CbzOptions()
    target = check_output_file(path, (".cbz",))
    story = collect_story(store)
    steps = Steps("CBZ", len(story.panels), "pages", on_progress, is_cancelled)
    steps.check_cancel()
    with atomic_file(target) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as archive:
        sizes = []
        for panel in story.panels:
            name, data = page_file(story, panel, store.media, options.captions)
            archive.writestr(name, data)
            sizes.append(panel.image_size)
            steps.advance()
        archive.writestr("ComicInfo.xml", comic_info(story, sizes), zipfile.ZIP_DEFLATED)
    return ExportResult(target, len(story.panels), "pages")


def page_file(
    story: Story, panel: ExportPanel, media: MediaStore, captions: bool
) -> tuple[str, bytes]:
    """A page's file name and bytes: the panel's file, or a PNG with its caption lettered on."""
    if not (captions and (panel.caption.strip() or panel.dialogue.strip())):
        return panel_file(story, panel, media)
    width, height = panel.image_size
    page_height = LETTERING_PAGE_WIDTH * height / width
    frame = Rect(0.0, 0.0, LETTERING_PAGE_WIDTH, page_height)
    page = Page(
        LETTERING_PAGE_WIDTH,
        page_height,
        (PanelArt(frame, panel), *panel_lettering(frame, panel)),
    )
    image = render_page(page, media, width / LETTERING_PAGE_WIDTH)
    if image.size != panel.image_size:
        image = image.crop((0, 0, width, height))
    return f"{panel_stem(panel.number, len(story.panels))}.png", png_bytes(image)


def comic_info(story: Story, sizes: list[tuple[int, int]]) -> bytes:
    """ComicRack's ComicInfo.xml: title, page count and each page's size, first as the cover."""
    root = ElementTree.Element("ComicInfo")
    ElementTree.SubElement(root, "Title").text = story.title
    summary = " ".join(p.caption.strip() for p in story.panels if p.caption.strip())
    if summary:
        ElementTree.SubElement(root, "Summary").text = summary
    ElementTree.SubElement(root, "Notes").text = f"Exported with Storyboard {__version__}"
    ElementTree.SubElement(root, "PageCount").text = str(len(sizes))
    pages = ElementTree.SubElement(root, "Pages")
    for index, (width, height) in enumerate(sizes):
        attributes = {"Image": str(index), "ImageWidth": str(width), "ImageHeight": str(height)}
        if index == 0:
            attributes["Type"] = "FrontCover"
        ElementTree.SubElement(pages, "Page", attributes)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
