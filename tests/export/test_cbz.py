"""CBZ comic archive opened as a zip: pages in order, ComicInfo.xml, lettered captions."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from PIL import Image

from storyboard_app.export import CbzOptions, export_cbz
from storyboard_app.project.store import ProjectStore

PAGES = ["panel_001.png", "panel_002.png", "panel_003.png", "panel_004.png"]


def test_pages_are_in_story_order_with_comic_info(board: ProjectStore, tmp_path: Path) -> None:
    result = export_cbz(board, tmp_path / "story.cbz")
    with zipfile.ZipFile(result.path) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [*PAGES, "ComicInfo.xml"]
        sizes = [Image.open(io.BytesIO(archive.read(name))).size for name in PAGES]
        info = ElementTree.fromstring(archive.read("ComicInfo.xml"))
    assert sizes == [(64, 48), (96, 72), (96, 72), (64, 48)]
    assert info.findtext("Title") == "Harbour Night"
    assert info.findtext("PageCount") == "4"
    pages = info.findall("Pages/Page")
    assert [p.get("Image") for p in pages] == ["0", "1", "2", "3"]
    assert pages[0].get("Type") == "FrontCover" and pages[1].get("ImageWidth") == "96"
    assert "Up she goes." in info.findtext("Summary")


def test_captions_are_lettered_onto_their_panels(board: ProjectStore, tmp_path: Path) -> None:
    lettered = export_cbz(board, tmp_path / "lettered.cbz")
    plain = export_cbz(board, tmp_path / "plain.cbz", CbzOptions(captions=False))
    with zipfile.ZipFile(lettered.path) as a, zipfile.ZipFile(plain.path) as b:
        first_lettered = Image.open(io.BytesIO(a.read("panel_001.png"))).convert("RGB")
        assert len(first_lettered.getcolors(1 << 16)) > 2
        assert b.namelist()[1] == "panel_002.jpg"
        assert b.read("panel_001.png") == board.takes.active_image(board.scenes.at(1).id)
        assert a.read("panel_004.png") == b.read("panel_004.png")
