"""Model loading through the real code path, its errors, devices, schedulers and previews."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import init_empty_weights
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    UNet2DConditionModel,
    UniPCMultistepScheduler,
)
from transformers import CLIPTokenizer

from storyboard_app.engine import devices
from storyboard_app.engine.devices import (
    choose_device,
    choose_dtype,
    classify_cuda_oom,
    translate_oom,
    vram_preset,
)
from storyboard_app.engine.errors import (
    CorruptCheckpointError,
    DeviceError,
    ModelNotFoundError,
    NotAPipelineError,
    OutOfMemoryError,
    UnknownSchedulerError,
    UnsafeCheckpointError,
    UnsupportedModelError,
)
from storyboard_app.engine.loading import (
    SCHEDULER_NAMES,
    LowVramOptions,
    ModelSource,
    architecture_from_checkpoint_keys,
    detect_architecture,
    load_text_to_image_pipeline,
    pipeline_config_dir,
    set_scheduler,
)
from storyboard_app.engine.preview import latents_to_preview

HUB_ID = "tiny-org/tiny-sdxl"


class RunsCodeWhenUnpickled:
    """A pickle payload that creates a marker file if anything ever unpickles it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def write_pickle_bomb(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(RunsCodeWhenUnpickled(marker)))
    return path


def state_dicts_equal(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    a, b = first.state_dict(), second.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def put_in_hub_cache(cache: Path, repo_id: str, folder: Path) -> None:
    """Lay out ``folder`` as huggingface_hub caches a downloaded snapshot."""
    commit = "0" * 40
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)


# Loading that works


def test_folder_loads_and_renders_like_the_saved_pipeline(
    tiny_sdxl_dir, tiny_sdxl_pipeline, render_tiny
) -> None:
    loaded = load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")

    assert loaded.architecture == "sdxl"
    assert (loaded.device, loaded.dtype) == ("cpu", torch.float32)
    assert loaded.source == ModelSource("folder", str(tiny_sdxl_dir.resolve()))
    assert np.array_equal(render_tiny(loaded.pipe), render_tiny(tiny_sdxl_pipeline))


def test_sd15_folder_loads_without_safety_checker(tiny_sd15_dir) -> None:
    loaded = load_text_to_image_pipeline(str(tiny_sd15_dir), device="cpu")

    assert loaded.architecture == "sd15"
    assert loaded.pipe.safety_checker is None


def test_single_file_loads_bit_identical_weights(
    tiny_sdxl_single_file, tiny_sdxl_dir, tiny_sdxl_pipeline
) -> None:
    loaded = load_text_to_image_pipeline(
        str(tiny_sdxl_single_file), device="cpu", config_dir=tiny_sdxl_dir
    )

    assert loaded.architecture == "sdxl"
    assert loaded.source.kind == "single_file"
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        assert state_dicts_equal(getattr(loaded.pipe, name), getattr(tiny_sdxl_pipeline, name))


def test_cached_hub_id_loads_offline(tmp_path, monkeypatch, tiny_sd15_dir) -> None:
    put_in_hub_cache(tmp_path / "hub", HUB_ID, tiny_sd15_dir)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))

    loaded = load_text_to_image_pipeline(HUB_ID, device="cpu")

    assert loaded.architecture == "sd15"
    assert loaded.source == ModelSource("hub", HUB_ID)


def test_architecture_is_detected_without_loading(tiny_sdxl_dir, tiny_sdxl_single_file) -> None:
    assert detect_architecture(ModelSource.parse(str(tiny_sdxl_dir))) == "sdxl"
    assert detect_architecture(ModelSource.parse(str(tiny_sdxl_single_file))) == "sdxl"


def test_checkpoint_keys_tell_sd15_and_refuse_other_models() -> None:
    unet = "model.diffusion_model.input_blocks.0.0.weight"
    sd15 = [unet, "cond_stage_model.transformer.text_model.final_layer_norm.weight"]
    sd2 = [unet, "cond_stage_model.model.transformer.resblocks.0.ln_1.weight"]
    refiner = [unet, "conditioner.embedders.0.model.text_projection"]
    lora = ["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"]

    assert architecture_from_checkpoint_keys(sd15) == "sd15"
    for keys in (sd2, refiner):
        with pytest.raises(UnsupportedModelError):
            architecture_from_checkpoint_keys(keys)
    with pytest.raises(UnsupportedModelError, match="inpainting"):
        architecture_from_checkpoint_keys(sd15, inpainting=True)
    with pytest.raises(NotAPipelineError, match="LoRA"):
        architecture_from_checkpoint_keys(lora)


# Sources that are refused, each with a hint


def test_pickle_checkpoints_are_refused_and_never_unpickled(tmp_path) -> None:
    marker = tmp_path / "was-unpickled"
    for name in ("model.ckpt", "model.bin", "model.pt", "model.pth"):
        bomb = write_pickle_bomb(tmp_path / name, marker)
        with pytest.raises(UnsafeCheckpointError) as error:
            load_text_to_image_pipeline(str(bomb), device="cpu")
        assert ".safetensors" in error.value.hint
    assert not marker.exists()


def test_folder_with_only_pickled_weights_is_refused(tmp_path, tiny_sdxl_dir) -> None:
    folder = Path(shutil.copytree(tiny_sdxl_dir, tmp_path / "pickled"))
    marker = tmp_path / "was-unpickled"
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    write_pickle_bomb(folder / "unet" / "diffusion_pytorch_model.bin", marker)

    with pytest.raises(UnsafeCheckpointError, match="unet"):
        load_text_to_image_pipeline(str(folder), device="cpu")
    assert not marker.exists()


def test_missing_path_names_the_path(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "model.safetensors"

    with pytest.raises(ModelNotFoundError, match="does not exist") as error:
        load_text_to_image_pipeline(str(missing), device="cpu")
    assert str(missing) in error.value.message


def test_folder_that_is_not_a_pipeline(tmp_path, tiny_sdxl_dir) -> None:
    with pytest.raises(NotAPipelineError) as error:
        load_text_to_image_pipeline(str(tmp_path), device="cpu")
    assert "model_index.json" in error.value.hint

    with pytest.raises(NotAPipelineError) as error:
        load_text_to_image_pipeline(str(tiny_sdxl_dir / "unet"), device="cpu")
    assert "parent folder" in error.value.hint


def test_hub_id_not_in_cache_says_how_to_download_it() -> None:
    with pytest.raises(ModelNotFoundError) as error:
        load_text_to_image_pipeline("stabilityai/stable-diffusion-xl-base-1.0", device="cpu")

    assert "Hugging Face cache" in error.value.message
    assert "`storyboard models download sdxl-base`" in error.value.hint


def test_hub_id_outside_the_catalogue_names_the_hub_download() -> None:
    with pytest.raises(ModelNotFoundError) as error:
        load_text_to_image_pipeline("someone/their-finetune", device="cpu")

    assert "hf download someone/their-finetune" in error.value.hint


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00" * 64, b"not a checkpoint at all"],
    ids=["empty", "zeros", "text"],
)
def test_unreadable_safetensors_is_reported_as_corrupt(tmp_path, content) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)

    with pytest.raises(CorruptCheckpointError) as error:
        load_text_to_image_pipeline(str(path), device="cpu")
    assert "download it again" in error.value.hint


def test_truncated_safetensors_is_reported_as_corrupt(tmp_path, tiny_sdxl_single_file) -> None:
    data = tiny_sdxl_single_file.read_bytes()
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(CorruptCheckpointError):
        load_text_to_image_pipeline(str(path), device="cpu")


def test_forced_architecture_must_match_the_folder(tiny_sdxl_dir) -> None:
    with pytest.raises(UnsupportedModelError, match="SDXL"):
        load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu", architecture="sd15")


# Schedulers and low-VRAM options


SCHEDULER_CLASSES = {
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "dpmpp_2m": DPMSolverMultistepScheduler,
    "dpmpp_2m_karras": DPMSolverMultistepScheduler,
    "dpmpp_2m_sde": DPMSolverMultistepScheduler,
    "ddim": DDIMScheduler,
    "unipc": UniPCMultistepScheduler,
}


def test_every_scheduler_name_builds_its_scheduler(tiny_sdxl_dir) -> None:
    loaded = load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu", scheduler="ddim")
    assert isinstance(loaded.pipe.scheduler, DDIMScheduler)

    for name in SCHEDULER_NAMES:
        loaded = set_scheduler(loaded, name)
        assert type(loaded.pipe.scheduler) is SCHEDULER_CLASSES[name]
        assert loaded.scheduler == name


def test_karras_sigmas_do_not_leak_into_the_next_scheduler(tiny_sdxl_dir) -> None:
    loaded = load_text_to_image_pipeline(
        str(tiny_sdxl_dir), device="cpu", scheduler="dpmpp_2m_karras"
    )
    assert loaded.pipe.scheduler.config.use_karras_sigmas

    loaded = set_scheduler(loaded, "dpmpp_2m")
    assert not loaded.pipe.scheduler.config.use_karras_sigmas


def test_unknown_scheduler_is_refused_before_anything_is_loaded(tmp_path) -> None:
    with pytest.raises(UnknownSchedulerError) as error:
        load_text_to_image_pipeline(str(tmp_path / "missing"), scheduler="heun_fancy")
    assert "euler" in error.value.hint


def test_low_vram_options_never_raise_on_cpu(tiny_sdxl_dir) -> None:
    everything = LowVramOptions(cpu_offload=True, vae_slicing=True, vae_tiling=True)

    loaded = load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu", low_vram=everything)

    assert loaded.low_vram == LowVramOptions(cpu_offload=False, vae_slicing=True, vae_tiling=True)
    assert loaded.pipe.vae.use_slicing and loaded.pipe.vae.use_tiling


def test_low_vram_presets() -> None:
    assert LowVramOptions.for_preset("low").cpu_offload
    assert LowVramOptions.for_preset("medium") == LowVramOptions(vae_slicing=True, vae_tiling=True)
    assert LowVramOptions.for_preset("high") == LowVramOptions()


# Shipped configs


@pytest.mark.parametrize(
    ("architecture", "unet_parameters"),
    [("sdxl", 2_567_463_684), ("sd15", 859_520_964)],
)
def test_shipped_configs_describe_the_real_models(architecture, unet_parameters) -> None:
    folder = pipeline_config_dir(architecture)
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet"))

    assert sum(parameter.numel() for parameter in unet.parameters()) == unet_parameters
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


# Devices and memory


def test_device_and_dtype_choice() -> None:
    assert choose_device("cpu") == "cpu"
    assert choose_dtype("cpu") == torch.float32
    assert choose_dtype("cuda") == torch.float16
    assert choose_dtype("mps") == torch.float16
    assert choose_dtype("cpu", "bf16") == torch.bfloat16
    with pytest.raises(DeviceError):
        choose_dtype("cpu", "int3")
    with pytest.raises(DeviceError, match="fp16"):
        choose_dtype("cpu", "fp16")
    with pytest.raises(DeviceError):
        choose_device("quantum")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_names_the_fix() -> None:
    assert choose_device(None) in ("cpu", "mps")
    with pytest.raises(DeviceError) as error:
        choose_device("cuda")
    assert "--device cpu" in error.value.hint


def test_bf16_is_refused_on_a_gpu_without_it(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)

    with pytest.raises(DeviceError, match="bf16"):
        choose_dtype("cuda", "bf16")


def test_vram_presets() -> None:
    assert [vram_preset(gb) for gb in (4, 8, 8.5, 16, 16.5, 80)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_out_of_memory_becomes_a_hinted_error(monkeypatch) -> None:
    released = []
    monkeypatch.setattr(devices, "release_cached_memory", lambda: released.append(True))
    message = "CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 8.00 GiB total capacity)"

    with pytest.raises(OutOfMemoryError) as error, translate_oom():
        raise torch.OutOfMemoryError(message)

    assert "2.50 GiB" in error.value.message
    assert "low-VRAM" in error.value.hint and "identity images" in error.value.hint
    assert error.value.__cause__ is None
    assert released == [True]


def test_other_errors_pass_through_translate_oom() -> None:
    assert classify_cuda_oom(ValueError("out of memory")) is None
    assert classify_cuda_oom(RuntimeError("MPS backend out of memory")) is not None
    with pytest.raises(RuntimeError, match="shape mismatch"), translate_oom():
        raise RuntimeError("shape mismatch")


# Previews


@pytest.mark.parametrize("architecture", ["sdxl", "sd15"])
def test_preview_is_a_small_uint8_rgb_array(architecture) -> None:
    latents = torch.randn(2, 4, 16, 12, dtype=torch.float16)

    preview = latents_to_preview(latents, architecture, index=1)

    assert preview.shape == (16, 12, 3)
    assert preview.dtype == np.uint8
    assert isinstance(preview, np.ndarray)


def test_preview_of_zero_latents_is_the_bias_colour() -> None:
    preview = latents_to_preview(torch.zeros(4, 2, 2), "sdxl")

    assert preview[0, 0].tolist() == [141, 125, 127]


def test_preview_refuses_wrong_channel_count() -> None:
    with pytest.raises(ValueError, match="4 latent channels"):
        latents_to_preview(torch.zeros(1, 16, 8, 8), "sdxl")
