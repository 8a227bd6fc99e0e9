"""The motion-model loader refuses pickle files like the panel loader: nothing is unpickled."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from storyboard_app.engine.errors import UnsafeCheckpointError
from storyboard_app.engine.motion.predictor import load_predictor
from storyboard_app.engine.transitions.motion_model import MotionSources, load_motion_model
from storyboard_app.engine.transitions.tiny_motion import tiny_motion_adapter


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps(_RunsCodeWhenUnpickled(marker)))


def _sources(tmp_path: Path, **parts: str) -> MotionSources:
    ip_adapter = tmp_path / "ip-adapter.safetensors"
    ip_adapter.write_bytes(b"not read before the other parts are checked")
    return MotionSources(base="/nowhere/base", ip_adapter=str(ip_adapter), **parts)


def test_a_pickle_shard_named_by_the_motion_adapter_index_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    tiny_motion_adapter().save_pretrained(folder, safe_serialization=True)
    single = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(single)
    single.unlink()
    keys = sorted(state)
    first, second = keys[: len(keys) // 2], keys[len(keys) // 2 :]
    save_file({key: state[key] for key in first}, folder / "part-1.safetensors")
    marker = tmp_path / "was-unpickled"
    _pickle(folder / "part-2.bin", marker)
    weight_map = {key: "part-1.safetensors" for key in first}
    weight_map |= {key: "part-2.bin" for key in second}
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )

    with pytest.raises(UnsafeCheckpointError, match=r"part-2\.bin"):
        load_motion_model(_sources(tmp_path, motion_adapter=str(folder)), device="cpu")
    assert not marker.exists()


@pytest.mark.parametrize("part", ["motion_adapter", "sparse_ctrl"])
def test_a_pickle_file_given_as_a_motion_part_is_refused_unopened(
    tmp_path: Path, part: str
) -> None:
    marker = tmp_path / "was-unpickled"
    weights = tmp_path / "weights.ckpt"
    _pickle(weights, marker)
    adapter = tmp_path / "adapter"
    tiny_motion_adapter().save_pretrained(adapter, safe_serialization=True)
    parts = {"motion_adapter": str(adapter), "sparse_ctrl": str(adapter), part: str(weights)}
    with pytest.raises(UnsafeCheckpointError, match="pickle"):
        load_motion_model(_sources(tmp_path, **parts), device="cpu")
    assert not marker.exists()


def test_a_pickled_motion_predictor_is_refused_unopened(tmp_path: Path) -> None:
    marker = tmp_path / "was-unpickled"
    weights = tmp_path / "predictor.pt"
    _pickle(weights, marker)
    with pytest.raises(UnsafeCheckpointError, match="pickle"):
        load_predictor(weights)
    assert not marker.exists()
