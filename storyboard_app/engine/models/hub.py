"""Where the Hugging Face hub and its cache are, read at call time.

huggingface_hub fixes its cache path and endpoint when it is imported;
reading ``HF_HUB_CACHE``, ``HF_HOME`` and ``HF_ENDPOINT`` here honours a
change made later (settings, tests). Loading and downloading both use these,
so a download lands where the loader looks.
"""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import constants as hub_constants


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache: HF_HUB_CACHE, else HF_HOME/hub, else the default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(hub_constants.HF_HUB_CACHE)


def hub_endpoint() -> str:
    """The hub to download from: HF_ENDPOINT, else the default (https://huggingface.co)."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or hub_constants.ENDPOINT
