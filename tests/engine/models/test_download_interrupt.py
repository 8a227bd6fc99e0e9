"""Ctrl+C on a real ``storyboard models download`` process, on a connection that stalled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_hub_server import Breakage, FakeHub

from storyboard_app.engine.models.hub import hub_cache_dir

UNET = "unet/diffusion_pytorch_model.fp16.safetensors"
CLI = "import sys; from storyboard_app.cli import main; sys.exit(main(sys.argv[1:]))"


def test_ctrl_c_cancels_promptly_and_leaves_no_partial_file(fake_hub: FakeHub) -> None:
    fake_hub.breakage = Breakage(UNET, after=1000, stall=True)
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "models", "download", "sd15"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 60
        while not fake_hub.gets(UNET) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_hub.gets(UNET), "the download never reached the UNet"
        time.sleep(0.3)  # the stalled body is being read
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGQUIT)
            out, err = process.communicate(timeout=10)
            raise AssertionError(f"no exit after Ctrl+C:\n{out}\n{err}") from None
    finally:
        process.kill()
    assert time.monotonic() - interrupted < 10  # not the hub client's retries on a stall
    assert process.returncode == 130, err
    assert "Download of sd15 cancelled" in out and "Traceback" not in err
    assert "storyboard models download sd15" in out
    assert not list(Path(hub_cache_dir()).rglob("*.incomplete"))
