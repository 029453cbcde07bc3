"""Checkpoint layouts: key namings, shards, hub ids, merged (vLLM-style) variants, LoRA switching."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

import univec
from univec.backends.local.checkpoint import backbone_key, open_checkpoint
from univec.errors import CheckpointError, ConfigurationError, InvalidTaskError

TASKS = ["retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage"]


def _copy(source: Path, target: Path, *, weights: bool = True) -> Path:
    shutil.copytree(
        source, target, ignore=None if weights else shutil.ignore_patterns("model*.safetensors")
    )
    return target


def _old_name(key: str) -> str:
    return key.replace("model.language_model.", "model.").replace("model.visual.", "visual.")


def _encoder(path: Path, **options) -> univec.Encoder:
    return univec.Encoder.local(str(path), device="cpu", dtype="float32", **options)


def _all_outputs(encoder: univec.Encoder, golden) -> dict[str, np.ndarray]:
    items = [*golden["texts"], *(univec.Image(p) for p in golden["images"])]
    outputs = {}
    for task in TASKS:
        both = encoder.encode_both(items, task)
        outputs[f"{task}|dense"] = both.dense
        outputs[f"{task}|multi"] = np.concatenate(both.multi)
    return outputs


@pytest.fixture(scope="module")
def reference_outputs(tiny_encoder, golden):
    return _all_outputs(tiny_encoder, golden)


def test_backbone_key_maps_both_namings():
    assert backbone_key("model.language_model.layers.0.mlp.up_proj.weight") == (
        "language_model.layers.0.mlp.up_proj.weight"
    )
    assert (
        backbone_key("model.layers.0.mlp.up_proj.weight")
        == "language_model.layers.0.mlp.up_proj.weight"
    )
    assert (
        backbone_key("model.visual.blocks.0.attn.qkv.weight") == "visual.blocks.0.attn.qkv.weight"
    )
    assert backbone_key("visual.blocks.0.attn.qkv.weight") == "visual.blocks.0.attn.qkv.weight"
    assert backbone_key("model.embed_tokens.weight") == "language_model.embed_tokens.weight"
    assert backbone_key("lm_head.weight") is None
    assert backbone_key("multi_vector_projector.weight") is None


def test_old_key_naming_gives_identical_outputs(
    tiny_model_path, tmp_path, golden, reference_outputs
):
    target = _copy(tiny_model_path, tmp_path / "old", weights=False)
    state = load_file(tiny_model_path / "model.safetensors")
    renamed = {_old_name(key): value for key, value in state.items()}
    assert (
        "model.layers.0.self_attn.q_proj.weight" in renamed
        and "visual.merger.mlp.0.weight" in renamed
    )
    save_file(renamed, target / "model.safetensors")
    adapters = load_file(tiny_model_path / "adapters" / "adapter_model.safetensors")
    old_adapters = {
        key.replace("model.language_model.", "model."): v for key, v in adapters.items()
    }
    assert any(".model.model.layers.0." in key for key in old_adapters)
    save_file(old_adapters, target / "adapters" / "adapter_model.safetensors")
    outputs = _all_outputs(_encoder(target), golden)
    for key, value in reference_outputs.items():
        np.testing.assert_array_equal(outputs[key], value, err_msg=key)


def test_sharded_checkpoint_gives_identical_outputs(
    tiny_model_path, tmp_path, golden, reference_outputs
):
    target = _copy(tiny_model_path, tmp_path / "sharded", weights=False)
    state = load_file(tiny_model_path / "model.safetensors")
    keys = sorted(state)
    shards = [keys[0::3], keys[1::3], keys[2::3]]
    weight_map = {}
    for number, shard_keys in enumerate(shards, start=1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        save_file({key: state[key] for key in shard_keys}, target / name)
        weight_map.update(dict.fromkeys(shard_keys, name))
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (target / "model.safetensors.index.json").write_text(json.dumps(index))
    checkpoint = open_checkpoint(target)
    assert len({str(file) for file in checkpoint.weight_files.values()}) == 3
    outputs = _all_outputs(_encoder(target), golden)
    for key, value in reference_outputs.items():
        np.testing.assert_array_equal(outputs[key], value, err_msg=key)


def test_task_switching_is_exact(tiny_encoder, golden):
    texts = golden["texts"]
    first = {task: tiny_encoder.encode(texts, task) for task in TASKS}
    for task in [*TASKS[::-1], *TASKS, "code.query", "retrieval.query", "code.query"]:
        np.testing.assert_array_equal(tiny_encoder.encode(texts, task), first[task], err_msg=task)
    # Tasks of different adapters really differ (the adapters are applied at all).
    assert not np.allclose(first["retrieval.query"], first["code.query"], atol=1e-3)
    assert not np.allclose(first["retrieval.query"], first["text-matching"], atol=1e-3)


def test_merged_weights_equal_base_plus_scaled_lora(tiny_model_path, tiny_encoder):
    backend = tiny_encoder.backend
    tiny_encoder.encode(["x"], "code.query")
    adapters = load_file(tiny_model_path / "adapters" / "adapter_model.safetensors")
    base = load_file(tiny_model_path / "model.safetensors")
    config = json.loads((tiny_model_path / "adapters" / "adapter_config.json").read_text())
    scaling = config["lora_alpha"] / config["r"]
    for module, name in (
        (
            "model.language_model.layers.1.self_attn.v_proj",
            "backbone.language_model.layers.1.self_attn.v_proj",
        ),
        ("multi_vector_projector", "multi_vector_projector"),
    ):
        lora_a = adapters[f"base_model.model.{module}.lora_A.code.weight"].float()
        lora_b = adapters[f"base_model.model.{module}.lora_B.code.weight"].float()
        expected = base[f"{module}.weight"].float() + scaling * lora_b @ lora_a
        actual = backend.model.get_submodule(name).weight
        torch.testing.assert_close(actual, expected, rtol=0, atol=1e-6)
    # The vision tower is never adapted.
    assert all("visual" not in str(t.checkpoint_key) for t in backend.adapters.targets)
    assert len(backend.adapters.targets) == 3 * 7 + 1
    assert backend.adapters.tasks == ("retrieval", "text-matching", "code")


def test_no_lm_head_and_info_from_config(tiny_model_path, tmp_path):
    target = _copy(tiny_model_path, tmp_path / "dims")
    config = json.loads((target / "config.json").read_text())
    config["matryoshka_dims"] = [8, 16, 64]
    config["multi_vector_projector_dim"] = 128
    (target / "config.json").write_text(json.dumps(config))
    encoder = _encoder(target)
    assert encoder.matryoshka_dims == (8, 16, 64)
    assert encoder.dim == 64 and encoder.multivector_dim == 128
    vectors = encoder.encode(["hello"], "retrieval.query", dimensions=8)
    assert vectors.shape == (1, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    names = [name for name, _ in encoder.backend.model.named_parameters()]
    assert not any("lm_head" in name for name in names)


def test_merged_vllm_style_checkpoint(tiny_model_path, tmp_path, golden):
    """Stock Qwen2.5-VL weights with the retrieval LoRA merged, an LM head, no adapters, no projector."""
    target = _copy(tiny_model_path, tmp_path / "vllm", weights=False)
    shutil.rmtree(target / "adapters")
    state = {
        key: value.float()
        for key, value in load_file(tiny_model_path / "model.safetensors").items()
    }
    adapters = load_file(tiny_model_path / "adapters" / "adapter_model.safetensors")
    for key, lora_a in adapters.items():
        if ".lora_A.retrieval." not in key or "multi_vector_projector" in key:
            continue
        module = key.removeprefix("base_model.model.").split(".lora_A.")[0]
        lora_b = adapters[key.replace("lora_A", "lora_B")]
        state[f"{module}.weight"] = (
            state[f"{module}.weight"] + 2.0 * lora_b.float() @ lora_a.float()
        )
    del state["multi_vector_projector.weight"], state["multi_vector_projector.bias"]
    state["lm_head.weight"] = state["model.language_model.embed_tokens.weight"].clone()
    save_file(state, target / "model.safetensors")
    processor = json.loads((target / "preprocessor_config.json").read_text())
    processor["max_pixels"] = 12845056
    processor["size"] = {"shortest_edge": 3136, "longest_edge": 12845056}
    (target / "preprocessor_config.json").write_text(json.dumps(processor))

    encoder = _encoder(target, merged_adapters=True)
    assert encoder.backend.preprocessor.image_processor.size["longest_edge"] == 602112
    got = encoder.encode(golden["texts"], "retrieval.query")
    np.testing.assert_allclose(got, golden["arrays"]["text|retrieval.query|single"], atol=1e-4)
    images = [univec.Image(p) for p in golden["images"]]
    got = encoder.encode(images, "retrieval.passage")
    np.testing.assert_allclose(got, golden["arrays"]["image|retrieval.passage|single"], atol=1e-4)
    with pytest.raises(ConfigurationError, match="multi-vector projector"):
        encoder.encode(["x"], "retrieval.query", multivector=True)


def test_hub_id_is_downloaded_with_snapshot_download(tiny_model_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, **kwargs):
        calls.append((repo_id, revision, allow_patterns))
        return str(tiny_model_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    encoder = univec.Encoder.local("someone/tiny-jev4", device="cpu", revision="abc")
    assert calls and calls[0][0] == "someone/tiny-jev4" and calls[0][1] == "abc"
    assert "adapters/*" in calls[0][2] and "*.safetensors" in calls[0][2]
    assert encoder.info.name == "someone/tiny-jev4"
    assert encoder.encode(["hi"], "retrieval.query").shape == (1, 64)


def test_hub_download_failure_is_a_checkpoint_error(monkeypatch):
    import huggingface_hub

    def failing(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", failing)
    with pytest.raises(CheckpointError, match="someone/missing") as info:
        univec.Encoder.local("someone/missing", device="cpu")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", ["./no/such/dir", "/no/such/dir", "not-a-hub-id"])
def test_missing_checkpoint_path(name):
    with pytest.raises(CheckpointError, match=r"no/such/dir|not-a-hub-id") as info:
        univec.Encoder.local(name, device="cpu")
    assert isinstance(info.value, univec.UnivecError) and isinstance(info.value, ValueError)


def test_checkpoint_without_config_or_weights(tiny_model_path, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"config\.json"):
        univec.Encoder.local(str(tmp_path / "empty"), device="cpu")
    target = _copy(tiny_model_path, tmp_path / "noweights", weights=False)
    with pytest.raises(CheckpointError, match="safetensors"):
        univec.Encoder.local(str(target), device="cpu")


def test_checkpoint_with_missing_weight(tiny_model_path, tmp_path):
    target = _copy(tiny_model_path, tmp_path / "partial", weights=False)
    state = load_file(tiny_model_path / "model.safetensors")
    del state["model.language_model.norm.weight"]
    save_file(state, target / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"norm\.weight"):
        univec.Encoder.local(str(target), device="cpu")


def test_unknown_adapter_for_task(tiny_encoder):
    from univec.tasks import TaskSpec

    with pytest.raises(InvalidTaskError, match="'legal'"):
        tiny_encoder.backend.embed(
            ["x"],
            TaskSpec("legal.query", "legal", "Query: "),
            dense=True,
            multi=False,
            dimensions=None,
        )
