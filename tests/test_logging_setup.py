"""Logging set up once per process: our messages by verbosity, other libraries' kept quiet."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from storyboard_app.logging_setup import (
    LOG_FILE_NAME,
    configure_logging,
    remove_logging,
    user_log_file,
)


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    yield
    remove_logging()


def log_everything() -> None:
    ours = logging.getLogger("storyboard_app.engine.loading")
    ours.debug("a debug note")
    ours.info("Loading the model")
    logging.getLogger("some_library").warning("a library notice")
    warnings.warn("a library warning", FutureWarning, stacklevel=1)
    ours.error("it broke")


@pytest.mark.parametrize(
    ("verbosity", "shown", "hidden"),
    [
        ("quiet", ["error: it broke"], ["Loading", "notice", "debug"]),
        ("normal", ["Loading the model\n", "error: it broke"], ["notice", "library warning"]),
        (
            "verbose",
            ["debug: storyboard_app.engine.loading: a debug note", "warning: a library notice"],
            [],
        ),
    ],
)
def test_console_by_verbosity(
    capsys: pytest.CaptureFixture[str], verbosity: str, shown: list[str], hidden: list[str]
) -> None:
    configure_logging(verbosity)  # type: ignore[arg-type]
    configure_logging(verbosity)  # type: ignore[arg-type]  # again: replaces, never doubles
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        log_everything()
    err = capsys.readouterr().err
    for text in shown:
        assert err.count(text) == 1, err
    for text in hidden:
        assert text not in err


def test_the_app_logs_to_a_file_and_warns_on_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "logs" / LOG_FILE_NAME
    configure_logging("normal", log_file=log_file, console_level=logging.WARNING)
    log_everything()
    remove_logging()  # closes the file
    text = log_file.read_text()
    assert "INFO storyboard_app.engine.loading: Loading the model" in text
    assert "WARNING some_library: a library notice" in text and "debug note" not in text
    assert capsys.readouterr().err == "error: it broke\n"


def test_the_log_file_is_in_the_user_log_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORYBOARD_LOG_DIR", raising=False)
    expected = Path(platformdirs.user_log_dir("storyboard-app", "Storyboard")) / LOG_FILE_NAME
    assert user_log_file("storyboard-app", "Storyboard") == expected
    monkeypatch.setenv("STORYBOARD_LOG_DIR", "/somewhere")
    assert user_log_file("storyboard-app", "Storyboard") == Path("/somewhere") / LOG_FILE_NAME
