"""Where the parts of a motion model come from: a local file or folder, or a cached hub repo.

Video generation needs several separately published parts (motion adapter,
SparseCtrl, IP-Adapter, image encoder), often one file or folder inside a
larger hub repository. A component source is therefore a local path, or a
hub id followed by the path inside the repository, as on the hub's web pages:
``h94/IP-Adapter/models/image_encoder``. Like the panel loader, nothing is
ever downloaded, and pickle files are refused by name without being opened.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import snapshot_download

from storyboard_app.engine.errors import (
    ModelNotFoundError,
    NotAPipelineError,
    UnsafeCheckpointError,
)
from storyboard_app.engine.loading import (
    PICKLE_SUFFIXES,
    SAFETENSORS_SUFFIX,
    hub_cache_dir,
    refuse_pickled_shards,
)
from storyboard_app.engine.models.catalogue import download_hint, needed_patterns

_REPO_PART = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_HINT_CONVERT = (
    "Convert it to .safetensors with a trusted tool first, or download the .safetensors "
    "version, which most model pages offer."
)


def resolve_component(text: str, what: str) -> Path:
    """The local path of a component called ``what`` in messages; raises if there is none.

    An existing path wins over a hub id of the same spelling. Pickle files are
    refused here, before any loader could open them.
    """
    cleaned = text.strip()
    if not cleaned:
        raise ModelNotFoundError(
            f"No {what} was given.", "Give a local folder or file, or a hub id (org/name/path)."
        )
    path = Path(cleaned).expanduser()
    resolved = path.resolve() if path.exists() else _from_hub_cache(cleaned, what)
    refuse_pickle(resolved, what)
    return resolved


def refuse_pickle(path: Path, what: str) -> None:
    """Raise if ``path`` is a pickle file, which can run code when it is opened."""
    if path.is_file() and path.suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeCheckpointError(
            f"The {what} {path.name} is a pickle file ({path.suffix}), which can run code "
            "when opened, so it is not loaded.",
            _HINT_CONVERT,
        )


def require_safetensors_folder(folder: Path, what: str) -> None:
    """Check that a single-model folder has a config and .safetensors weights.

    Libraries fall back to pickled ``.bin`` weights when no safetensors file is
    there; this check runs first so that never happens.
    """
    if not folder.is_dir():
        raise NotAPipelineError(
            f"The {what} {folder} is a file, but a model folder was expected.",
            "Give the folder that holds config.json and the .safetensors weights.",
        )
    if not (folder / "config.json").is_file():
        raise NotAPipelineError(
            f"The {what} folder {folder} has no config.json.",
            "Give the folder of that one model (the one holding config.json).",
        )
    # A shard index may name pickle shards beside .safetensors ones: the loader
    # opens each shard by its suffix, so the index is checked before any is read.
    refuse_pickled_shards(folder.parent, folder.name)
    if any(folder.glob(f"*{SAFETENSORS_SUFFIX}")):
        return
    pickles = [p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES]
    if pickles:
        raise UnsafeCheckpointError(
            f"The {what} weights in {folder} are pickle files ({pickles[0].name}), which can "
            "run code when opened, so they are not loaded.",
            _HINT_CONVERT,
        )
    raise NotAPipelineError(
        f"The {what} folder {folder} has no weights.",
        "The download is incomplete; download it again (hf download ID).",
    )


def _from_hub_cache(text: str, what: str) -> Path:
    parts = text.split("/")
    if len(parts) < 2 or not all(_REPO_PART.match(part) for part in parts[:2]):
        raise ModelNotFoundError(
            f"The {what} {text} does not exist.",
            "Check the path, or give a hub id such as h94/IP-Adapter/models/image_encoder.",
        )
    repo_id, inner = "/".join(parts[:2]), "/".join(parts[2:])
    snapshot = _cached_snapshot(repo_id, inner, what)
    target = snapshot / inner if inner else snapshot
    if not target.exists():
        raise ModelNotFoundError(
            f"The {what} {inner} is not in the cached copy of {repo_id} ({snapshot}).",
            f"{download_hint(repo_id, inner)} Or check the path inside the repository.",
        )
    return target


def _cached_snapshot(repo_id: str, inner: str, what: str) -> Path:
    cache = hub_cache_dir()
    try:
        patterns = needed_patterns(repo_id, inner)
        folder = snapshot_download(
            repo_id, cache_dir=cache, local_files_only=True, allow_patterns=patterns
        )
        return Path(folder)
    except (OSError, ValueError):
        raise ModelNotFoundError(
            f"The {what} {repo_id} is neither a local path nor in the local Hugging Face "
            f"cache ({cache}); models are never downloaded while generating.",
            f"{download_hint(repo_id, inner)} Or point to a local folder or file.",
        ) from None
