"""Damaged or hostile diffusers folders are refused with a hinted error, before loading."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from storyboard_app.engine.errors import ModelLoadError, NotAPipelineError, UnsafeCheckpointError
from storyboard_app.engine.loading import load_text_to_image_pipeline


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _copy(tiny_sdxl_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_sdxl_dir, tmp_path / "model"))


def test_pickle_shard_named_by_a_safetensors_index_is_refused(tmp_path, tiny_sdxl_dir) -> None:
    folder = _copy(tiny_sdxl_dir, tmp_path)
    marker = tmp_path / "was-unpickled"
    unet = folder / "unet"
    single = unet / "diffusion_pytorch_model.safetensors"
    state = load_file(single)
    single.unlink()
    keys = sorted(state)
    first, second = keys[: len(keys) // 2], keys[len(keys) // 2 :]
    save_file({key: state[key] for key in first}, unet / "part-1.safetensors")
    (unet / "part-2.bin").write_bytes(pickle.dumps(_RunsCodeWhenUnpickled(marker)))
    weight_map = {key: "part-1.safetensors" for key in first}
    weight_map |= {key: "part-2.bin" for key in second}
    (unet / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )

    with pytest.raises(UnsafeCheckpointError, match=r"part-2\.bin") as error:
        load_text_to_image_pipeline(str(folder), device="cpu")
    assert ".safetensors" in error.value.hint
    assert not marker.exists()


def test_index_shard_outside_the_component_folder_is_refused(tmp_path, tiny_sdxl_dir) -> None:
    folder = _copy(tiny_sdxl_dir, tmp_path)
    (folder / "vae" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "../unet/diffusion_pytorch_model.safetensors"}})
    )
    with pytest.raises(NotAPipelineError, match="shard"):
        load_text_to_image_pipeline(str(folder), device="cpu")


def test_pickle_only_extra_component_is_refused(tmp_path, tiny_sdxl_dir) -> None:
    folder = _copy(tiny_sdxl_dir, tmp_path)
    marker = tmp_path / "was-unpickled"
    index = json.loads((folder / "model_index.json").read_text())
    index["image_encoder"] = ["transformers", "CLIPVisionModelWithProjection"]
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "image_encoder").mkdir()
    (folder / "image_encoder" / "pytorch_model.bin").write_bytes(
        pickle.dumps(_RunsCodeWhenUnpickled(marker))
    )
    with pytest.raises(UnsafeCheckpointError, match="image_encoder"):
        load_text_to_image_pipeline(str(folder), device="cpu")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[]", "list"),
        ('["StableDiffusionXLPipeline"]', "list"),
        ('{"_class_name": ["StableDiffusionXLPipeline"]}', "pipeline class"),
        ('{"_class_name": {"a": 1}}', "pipeline class"),
        ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ('{"a":' * 10_000 + "1" + "}" * 10_000, "nested too deeply"),
        ("", "cannot be read"),
        ('{"_class_name": "StableDiffusionXLPipeline", "unet": 5}', "unet"),
        ('{"_class_name": "StableDiffusionXLPipeline", "unet": "diffusers"}', "unet"),
        ('{"_class_name": "StableDiffusionXLPipeline", "vae": [["x"], 1]}', "vae"),
        ('{"_class_name": "StableDiffusionXLPipeline", "vae": ["diffusers"]}', "vae"),
    ],
)
def test_malformed_model_index_is_refused_with_a_hint(tmp_path, content, expected) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model_index.json").write_text(content)

    with pytest.raises(NotAPipelineError, match=expected) as error:
        load_text_to_image_pipeline(str(folder), device="cpu")
    assert error.value.hint


def test_component_folder_named_by_the_index_but_missing_is_refused(
    tmp_path, tiny_sdxl_dir
) -> None:
    folder = _copy(tiny_sdxl_dir, tmp_path)
    shutil.rmtree(folder / "tokenizer")
    with pytest.raises(NotAPipelineError, match="no tokenizer folder") as error:
        load_text_to_image_pipeline(str(folder), device="cpu")
    assert "download" in error.value.hint


def test_tokenizer_without_a_prompt_length_is_refused_at_load(tmp_path, tiny_sdxl_dir) -> None:
    folder = _copy(tiny_sdxl_dir, tmp_path)
    (folder / "tokenizer_2" / "tokenizer_config.json").unlink()
    with pytest.raises(NotAPipelineError, match=r"tokenizer_2/tokenizer_config\.json") as error:
        load_text_to_image_pipeline(str(folder), device="cpu")
    assert error.value.hint


def test_a_component_config_the_model_cannot_be_built_from_is_one_message(
    tmp_path, tiny_sdxl_dir
) -> None:
    """diffusers' VAE indexes ``block_out_channels[0]``: an empty list was an IndexError."""
    folder = _copy(tiny_sdxl_dir, tmp_path)
    config = folder / "vae" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "block_out_channels": []}))
    with pytest.raises(ModelLoadError, match="could not be loaded") as error:
        load_text_to_image_pipeline(str(folder), device="cpu")
    assert error.value.hint


def test_a_model_index_without_the_text_encoder_is_refused_at_load(tmp_path, tiny_sdxl_dir):
    """It loaded, and the render failed later in the UNet with a shape error."""
    folder = _copy(tiny_sdxl_dir, tmp_path)
    index = json.loads((folder / "model_index.json").read_text())
    del index["text_encoder"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(NotAPipelineError, match="names no text_encoder"):
        load_text_to_image_pipeline(str(folder), device="cpu")
