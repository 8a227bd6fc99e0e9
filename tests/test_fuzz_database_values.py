"""Random values written into a project's database behind the app's back, then the CLI reads it.

``info``, ``scenes`` and ``export --pdf`` must each end with exit 0 or 1 and
never a traceback; a refusal says ``error: ...`` and leaves the project folder
exactly as it was. The project holds every kind of stored value: panels with
and without a camera move, an imported and a rendered take, a character, a
crossfade, and the settings row.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import EXAMPLES, folder_digest, png_bytes

pytest.importorskip("hypothesis", reason="hypothesis is in the dev extra; run dev.py to install")

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storyboard_app.cli import main
from storyboard_app.project.camera import CameraMove, Framing
from storyboard_app.project.records import TakeParams
from storyboard_app.project.store import DATABASE_NAME, ProjectStore

COLUMNS = {
    "scenes": ["duration", "camera_move", "prompt", "caption", "seed", "seed_locked",
               "position", "shot_type", "active_take_id", "negative_prompt"],
    "takes": ["consistency_json", "width", "height", "seed", "steps", "guidance", "media",
              "source", "prompt", "scheduler", "created_at"],
    "project_settings": ["width", "height", "steps", "guidance", "scheduler", "frame_rate",
                         "sampling_rate", "window_size", "identity_images", "consistency_blocks",
                         "style_preset", "base_seed", "name"],
    "characters": ["seed", "color", "name", "description", "position", "identity_framings"],
    "transitions": ["kind", "duration", "frame_count", "status", "media_json", "settings_json"],
}  # fmt: skip
JSONISH = st.sampled_from(
    ["{", "[]", "null", "{}", '{"start": {"zoom": 1e309}}', '{"start": 1}', "[" * 50,
     '{"start": {"zoom": 2, "center_x": "x"}, "end": {}, "easing": "linear"}', "NaN",
     '{"weight_map": 1}', '{"identities": [1]}', '{"panel": "x"}', "1e999", "-0", "é\x00"]
)  # fmt: skip
VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    JSONISH,
    st.binary(max_size=12),
)
MUTATION = st.tuples(
    st.sampled_from(sorted(COLUMNS)).flatmap(
        lambda table: st.tuples(st.just(table), st.sampled_from(COLUMNS[table]))
    ),
    st.integers(0, 5),
    VALUES,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("fuzz-db")
    picture = folder / "picture.png"
    picture.write_bytes(png_bytes())
    with contextlib.redirect_stdout(io.StringIO()):
        assert (
            main(["new", str(folder / "demo"), "--from", str(EXAMPLES / "forest_treasure.txt")])
            == 0
        )
    project = folder / "demo.storyboard"
    with ProjectStore.open(project) as store:
        first, second, third = (scene.id for scene in store.scenes.list()[:3])
        store.takes.import_image(first, picture)
        store.takes.add(second, png_bytes("blue"), TakeParams(16, 16, model_source="tiny"))
        move = CameraMove(Framing(0.4, 0.5, 1.5), Framing(0.6, 0.5, 1.0))
        store.scenes.update(third, camera_move=move)
        store.transitions.set(first, second, kind="crossfade", duration=0.5)
    yield project


def _mutate(project: Path, mutations: list[tuple[tuple[str, str], int, object]]) -> None:
    connection = sqlite3.connect(project / DATABASE_NAME)
    try:
        for (table, column), row, value in mutations:
            sql = f"UPDATE {table} SET {column} = ? WHERE rowid = "
            sql += f"(SELECT rowid FROM {table} ORDER BY rowid LIMIT 1 OFFSET ?)"
            with contextlib.suppress(sqlite3.IntegrityError), connection:
                connection.execute(sql, (value, row))
    finally:
        connection.close()


def _run(*args: str | Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, err.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.lists(MUTATION, min_size=1, max_size=3))
# Found by this test on the code before stored types were checked (TypeError tracebacks):
@example([(("project_settings", "width"), 0, "")])
@example([(("scenes", "position"), 0, "")])
@example([(("scenes", "active_take_id"), 0, "")])
@example([(("takes", "created_at"), 0, 0)])
def test_reading_a_project_with_any_stored_values_exits_cleanly(
    template: Path, mutations: list[tuple[tuple[str, str], int, object]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(shutil.copytree(template, Path(folder) / "demo.storyboard"))
        _mutate(project, mutations)
        for command in (["info"], ["scenes"], ["export", "--pdf", Path(folder) / "out.pdf"]):
            before = folder_digest(project)
            code, err = _run(command[0], project, *command[1:])
            assert code in (0, 1), err
            assert "Traceback" not in err
            if code == 1:
                assert err.startswith("error: "), err
                assert folder_digest(project) == before
