"""Values changed in the project database behind the app's back: a message, not a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from support import EXAMPLES, png_bytes

from storyboard_app.cli import main
from storyboard_app.project.store import ProjectStore


def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, _ = run_cli(
        capsys, "new", tmp_path / "demo", "--from", EXAMPLES / "forest_treasure.txt"
    )
    assert code == 0
    folder = tmp_path / "demo.storyboard"
    picture = tmp_path / "take.png"
    picture.write_bytes(png_bytes())
    with ProjectStore.open(folder) as store:
        store.takes.import_image(store.scenes.list()[1].id, picture)
    return folder


def database(folder: Path) -> Path:
    found = sorted(p for p in folder.iterdir() if p.suffix in (".db", ".sqlite", ".sqlite3"))
    assert found, list(folder.iterdir())
    return found[0]


def corrupt(folder: Path, sql: str) -> None:
    connection = sqlite3.connect(database(folder))
    with connection:
        connection.execute(sql)
    connection.close()


PANEL_2 = "(SELECT id FROM scenes ORDER BY position, id LIMIT 1 OFFSET 1)"


@pytest.mark.parametrize(
    ("sql", "words", "must_fail"),
    [
        (
            f"UPDATE scenes SET camera_move = '{{not json' WHERE id = {PANEL_2}",
            ["panel 2"],
            "scenes",
        ),
        (f"UPDATE scenes SET camera_move = '[1, 2]' WHERE id = {PANEL_2}", ["panel 2"], "scenes"),
        (
            f'UPDATE scenes SET camera_move = \'{{"start": {{"zoom": 99}}, "end": {{}}}}\' '
            f"WHERE id = {PANEL_2}",
            ["panel 2", "zoom"],
            "scenes",
        ),
        (f"UPDATE scenes SET duration = 'long' WHERE id = {PANEL_2}", ["panel 2", "long"], "info"),
        (f"UPDATE scenes SET duration = 'NaN' WHERE id = {PANEL_2}", ["panel 2"], "info"),
        (f"UPDATE scenes SET duration = 1e12 WHERE id = {PANEL_2}", ["panel 2"], "scenes"),
        (f"UPDATE scenes SET duration = -1 WHERE id = {PANEL_2}", ["panel 2"], "info"),
        ("UPDATE takes SET consistency_json = '{oops'", ["consistency", "take"], "export"),
        ("UPDATE takes SET consistency_json = '[]'", ["consistency", "take"], "export"),
    ],
)
def test_bad_stored_values_give_one_message(
    project, tmp_path, capsys, sql, words, must_fail
) -> None:
    corrupt(project, sql)
    for command in (
        ["info", project],
        ["scenes", project],
        ["export-script", project, "-o", tmp_path / "out.toml"],
        ["export", project, "--pdf", tmp_path / "out.pdf"],
    ):
        try:
            code, _, err = run_cli(capsys, *command)
        except Exception as error:
            pytest.fail(f"{command[0]} raised {error!r}")
        assert code in (0, 1), command
        assert "Traceback" not in err
        if command[0] == must_fail:
            assert code == 1, command
        if code == 1:
            assert "project database" in err, (command, err)
            for word in words:
                assert word in err, (command, err)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("media_json", "0"),
        ("media_json", "{not json"),
        ("media_json", "[1, 2]"),
        ("settings_json", "[]"),
        ("kind", "zoom"),
        ("status", "done"),
        ("duration", "long"),
        ("frame_count", -3),
    ],
)
def test_a_bad_stored_transition_gives_one_message(project, tmp_path, capsys, column, value):
    with ProjectStore.open(project) as store:
        first, second = store.scenes.list()[:2]
        store.transitions.set(first.id, second.id, kind="crossfade", duration=0.5)
    connection = sqlite3.connect(database(project))
    with connection:
        connection.execute(f"UPDATE transitions SET {column} = ?", (value,))
    connection.close()
    for command in (["info", project], ["export", project, "--pdf", tmp_path / "out.pdf"]):
        code, _, err = run_cli(capsys, *command)
        assert code == 1, (command, err)
        assert "Traceback" not in err
        assert "transition" in err and "project database" in err, err
