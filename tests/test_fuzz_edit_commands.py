"""Random values for every editing command through the real CLI.

Each run exits 0, or 1 with one message and the project folder unchanged; the
database passes SQLite's integrity check either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import edit_demo_project, folder_digest, run_cli

pytest.importorskip("hypothesis", reason="hypothesis is in the dev extra; run dev.py to install")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storyboard_app.project.store import ProjectStore


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return edit_demo_project(tmp_path / "demo")


VALUES = st.one_of(
    st.sampled_from(
        [
            "1",
            "4",
            "9",
            "0",
            "-1",
            "9" * 25,
            "nan",
            "inf",
            "1e999",
            "0.5,0.5,1",
            "1,1,8",
            "0,0,1,",
            "Mara",
            "Bob",
            "[Bob]",
            "NC",
            "",
            " ",
            "\x00",
            "é",
            "#zz0000",
            "#a1b2c3",
        ]
    ),
    st.text(max_size=12),
).filter(lambda text: not text.startswith("-"))  # fmt: skip  (argparse reads "-x" as an option)
COMMANDS = {
    "edit-character": (
        ["name"], ["--name", "--description", "--negative", "--seed", "--color", "--reference"]
    ),
    "delete-character": (["name"], []),
    "delete-scene": (["panel"], []),
    "takes": (["panel"], []),
    "use-take": (["panel", "take"], []),
    "camera": (["panel"], ["--from", "--to", "--ease"]),
}  # fmt: skip


@st.composite
def command_line(draw: st.DrawFn) -> list[str]:
    name = draw(st.sampled_from(sorted(COMMANDS)))
    positionals, options = COMMANDS[name]
    args = [name, *(draw(VALUES) for _ in positionals)]
    for option in draw(st.lists(st.sampled_from(options), unique=True)) if options else []:
        args.append(f"{option}={draw(VALUES)}")
    if name == "delete-character" and draw(st.booleans()):
        args.append("--force")
    return args


@settings(
    max_examples=80, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(command_line())
def test_any_edit_command_line_exits_cleanly(project, capsys, args: list[str]) -> None:
    before = folder_digest(project)
    code, _, err = run_cli(capsys, args[0], project, *args[1:])
    assert code in (0, 1), err
    assert "Traceback" not in err
    if code == 1:
        assert err.startswith("error: ")
        assert folder_digest(project) == before, args
    with ProjectStore.open(project) as store:
        assert store.integrity_check() == ["ok"]
