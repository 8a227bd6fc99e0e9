"""PDF export read back with pypdf: pages, real text, embedded images, page sizes, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from storyboard_app.export import (
    ExportCancelledError,
    ExportOptionsError,
    NothingToExportError,
    OutputPathError,
    PageSetup,
    PdfOptions,
    export_pdf,
    parse_page_size,
    preview_first_page,
)
from storyboard_app.export.pdf import preview_page
from storyboard_app.export.text import ELLIPSIS, fit_text
from storyboard_app.project.store import ProjectStore

A4_POINTS = (595.3, 841.9)


def read(path: Path) -> PdfReader:
    return PdfReader(str(path))


def all_text(reader: PdfReader) -> str:
    return " ".join(page.extract_text() for page in reader.pages)


@pytest.mark.parametrize(
    ("layout", "pages"), [("comic", 2), ("strip", 2), ("single", 5), ("worksheet", 2)]
)
def test_every_layout_has_its_pages_text_and_images(
    board: ProjectStore, tmp_path: Path, layout: str, pages: int
) -> None:
    result = export_pdf(board, tmp_path / "story.pdf", PdfOptions(layout=layout))
    reader = read(result.path)
    assert len(reader.pages) == pages == result.count
    text = all_text(reader)
    assert "Harbour Night" in reader.pages[0].extract_text()
    for caption in ("Up she goes.", "The storm rose.", "Hello!", "Who is there?"):
        assert caption in " ".join(text.split())
    assert "Panel 3" in text and "not rendered" in text
    images = [image for page in reader.pages[1:] for image in page.images]
    assert len(images) == 3


def test_images_are_embedded_at_their_own_resolution(board: ProjectStore, tmp_path: Path) -> None:
    path = tmp_path / "single.pdf"
    export_pdf(board, path, PdfOptions(layout="single", title_page=False))
    sizes = [image.image.size for page in read(path).pages for image in page.images]
    assert sizes == [(64, 48), (96, 72), (64, 48)]


def test_worksheet_lists_number_action_dialogue_notes_and_duration(
    board: ProjectStore, tmp_path: Path
) -> None:
    path = tmp_path / "sheet.pdf"
    export_pdf(board, path, PdfOptions(layout="worksheet", panels_per_page=2, title_page=False))
    reader = read(path)
    assert len(reader.pages) == 2
    first = " ".join(reader.pages[0].extract_text().split())
    expected = ("Mara climbs the stairs", "Up she goes.", "Mara: Who is there?", "Slow push in.")
    for text in (*expected, "wide", "0.5 s"):
        assert text in first
    assert "[Mara]" not in first


def test_text_is_set_in_the_embedded_bundled_font(board: ProjectStore, tmp_path: Path) -> None:
    path = tmp_path / "story.pdf"
    export_pdf(board, path)
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+")[-1]
        for page in read(path).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert fonts == {"DejaVuSans", "DejaVuSans-Bold"}
    assert b"/FontFile2" in path.read_bytes()


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (PageSetup(), A4_POINTS),
        (PageSetup(parse_page_size("letter"), landscape=True), (792.0, 612.0)),
        (PageSetup(parse_page_size("200x150mm")), (566.9, 425.2)),
        (PageSetup(parse_page_size("8.5x11in")), (612.0, 792.0)),
    ],
)
def test_page_sizes_and_orientation(
    board: ProjectStore, tmp_path: Path, page: PageSetup, expected: tuple[float, float]
) -> None:
    path = tmp_path / "sized.pdf"
    export_pdf(board, path, PdfOptions(page=page))
    for pdf_page in read(path).pages:
        assert float(pdf_page.mediabox.width) == pytest.approx(expected[0], abs=0.1)
        assert float(pdf_page.mediabox.height) == pytest.approx(expected[1], abs=0.1)


def test_comic_rows_of_three_fit_more_panels_per_page(board: ProjectStore, tmp_path: Path) -> None:
    for _ in range(8):
        board.scenes.add("[NC] another shot", caption="More.")
    two = export_pdf(board, tmp_path / "two.pdf", PdfOptions(panels_per_row=2, title_page=False))
    three = export_pdf(
        board, tmp_path / "three.pdf", PdfOptions(panels_per_row=3, title_page=False)
    )
    assert three.count < two.count


def test_long_captions_shrink_then_end_with_an_ellipsis() -> None:
    fitted = fit_text("word " * 400, 100, 40, 10, 6)
    assert not fitted.complete and fitted.lines[-1].endswith(ELLIPSIS)
    assert fitted.size == 6 and fitted.height <= 40
    short = fit_text("Hello there", 200, 40, 10, 6)
    assert short.complete and short.lines == ("Hello there",) and short.size == 10


def test_a_very_long_caption_exports_without_overflowing(
    board: ProjectStore, tmp_path: Path
) -> None:
    scene = board.scenes.at(1)
    board.scenes.update(scene.id, caption="Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa " * 60)
    for layout in ("comic", "strip", "single", "worksheet"):
        assert export_pdf(board, tmp_path / f"{layout}.pdf", PdfOptions(layout=layout)).count


def test_preview_shows_the_first_page_at_the_requested_resolution(board: ProjectStore) -> None:
    cover = preview_first_page(board, PdfOptions(), dpi=36)
    assert cover.size == (round(A4_POINTS[0] / 2 + 0.5), round(A4_POINTS[1] / 2 + 0.5))
    comic = preview_page(board, PdfOptions(title_page=False), 0, dpi=72)
    colors = {color for _, color in comic.getcolors(maxcolors=1 << 20)}
    assert (220, 30, 30) in colors


def test_cancel_leaves_no_file_and_keeps_an_older_one(board: ProjectStore, tmp_path: Path) -> None:
    path = tmp_path / "story.pdf"
    path.write_bytes(b"the old export")
    with pytest.raises(ExportCancelledError, match="cancelled"):
        export_pdf(board, path, PdfOptions(layout="single"), is_cancelled=lambda: True)
    assert path.read_bytes() == b"the old export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["story.pdf", "test.storyboard"]


def test_progress_counts_pages(board: ProjectStore, tmp_path: Path) -> None:
    seen = []
    export_pdf(board, tmp_path / "story.pdf", PdfOptions(layout="single"), seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4, 5]
    assert {(p.total, p.unit) for p in seen} == {(5, "pages")}


def test_bad_options_name_the_problem_and_the_fix() -> None:
    with pytest.raises(ExportOptionsError, match="not a PDF layout"):
        PdfOptions(layout="manga")
    with pytest.raises(ExportOptionsError, match="Margins of 120 mm"):
        PageSetup(margin_mm=120)
    with pytest.raises(ExportOptionsError, match="not a page size"):
        parse_page_size("huge")
    with pytest.raises(ExportOptionsError, match="panels per row"):
        PdfOptions(panels_per_row=7)


def test_output_problems_are_reported_before_any_work(board: ProjectStore, tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="does not exist"):
        export_pdf(board, tmp_path / "missing" / "story.pdf")
    with pytest.raises(OutputPathError, match=r"does not end in \.pdf"):
        export_pdf(board, tmp_path / "story.png")
    with pytest.raises(OutputPathError, match="is a folder"):
        (tmp_path / "folder.pdf").mkdir()
        export_pdf(board, tmp_path / "folder.pdf")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_folder_is_reported(board: ProjectStore, tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="not writable"):
            export_pdf(board, folder / "story.pdf")
    finally:
        folder.chmod(0o755)


def test_a_project_without_panels_has_nothing_to_export(
    store: ProjectStore, tmp_path: Path
) -> None:
    with pytest.raises(NothingToExportError, match="no panels"):
        export_pdf(store, tmp_path / "empty.pdf")
    assert not (tmp_path / "empty.pdf").exists()
