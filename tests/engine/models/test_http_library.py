"""The model manager works with either HTTP library huggingface_hub downloads with:
``httpx2`` (huggingface_hub 2) or ``httpx`` (1.x, which diffusers also accepts).

Importing it used to need ``httpx2``, so ``storyboard render`` failed outright on a
machine with huggingface_hub 1.x. Run in a fresh interpreter, with ``httpx2`` hidden
and a stand-in ``httpx``, or with neither.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

HIDE_HTTPX2 = """
import sys, types
import huggingface_hub as hub  # loads the library it has, which later imports find
hub.CachedRepoInfo, hub.CachedRevisionInfo, hub.scan_cache_dir, hub.snapshot_download
import huggingface_hub.errors, huggingface_hub.file_download
sys.modules["httpx2"] = None  # what huggingface_hub 1.x machines lack
"""
STAND_IN_HTTPX = (
    HIDE_HTTPX2
    + """
httpx = types.ModuleType("httpx")
class TransportError(Exception): ...
class TimeoutException(TransportError): ...
httpx.TransportError, httpx.TimeoutException = TransportError, TimeoutException
sys.modules["httpx"] = httpx
"""
)


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_timeout_of_httpx_is_told_as_a_timeout_without_httpx2() -> None:
    out = run_python(
        STAND_IN_HTTPX
        + """
from pathlib import Path
from storyboard_app.engine.models.catalogue import CATALOGUE
from storyboard_app.engine.models.manager import download_error
error = download_error(httpx.TimeoutException("read timed out"), CATALOGUE[0], Path("."))
print(error)
"""
    )
    assert "stopped answering" in out


def test_the_manager_imports_with_neither_library() -> None:
    out = run_python(
        HIDE_HTTPX2
        + """
sys.modules["httpx"] = None
from pathlib import Path
from storyboard_app.engine.models.catalogue import CATALOGUE
from storyboard_app.engine.models.manager import download_error
print(download_error(ConnectionError("refused"), CATALOGUE[0], Path(".")))
"""
    )
    assert out
