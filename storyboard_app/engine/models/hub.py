"""Where the Hugging Face hub and its cache are, read at call time.

huggingface_hub fixes its cache path and endpoint when it is imported;
reading ``HF_HUB_CACHE``, ``HF_HOME`` and ``HF_ENDPOINT`` here honours a
change made later (settings, tests). Loading and downloading both use these,
so a download lands where the loader looks.

The access token (for gated licences) is the hub's own: ``HF_TOKEN``, else
the token file ``huggingface-cli login`` writes (``HF_TOKEN_PATH``, else
``HF_HOME/token``). :func:`save_hub_token` writes that same file, so the app,
the command line and every other Hugging Face tool share one token, and no
project ever holds it.
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


def hub_token_path() -> Path:
    """Where the hub's token file is: HF_TOKEN_PATH, else HF_HOME/token, else the default."""
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.environ["HF_TOKEN_PATH"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "token"
    return Path(hub_constants.HF_TOKEN_PATH)


def hub_token() -> str | None:
    """The token downloads send: HF_TOKEN, else the token file's; None when there is none."""
    token = os.environ.get("HF_TOKEN", "").strip()
    if token:
        return token
    try:
        return hub_token_path().read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def save_hub_token(token: str) -> Path:
    """Write ``token`` to the hub's token file (readable by this user only); empty removes it."""
    path = hub_token_path()
    token = token.strip()
    if not token:
        path.unlink(missing_ok=True)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token)
    path.chmod(0o600)
    return path
