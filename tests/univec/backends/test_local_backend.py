"""LocalBackend behaviour: options, device/dtype, batching, truncation, usage, async, outputs."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import torch

import univec
from univec.backends.local.backend import DEFAULT_CPU_TOKEN_BUDGET
from univec.backends.local.device import resolve_device, resolve_dtype
from univec.backends.local.packing import plan_batches
from univec.errors import ClosedError, ConfigurationError, InvalidArgumentError


def test_plan_batches_respects_budget_and_covers_every_index():
    lengths = [5, 40, 7, 33, 12, 12, 1, 64, 3]
    batches = plan_batches(lengths, token_budget=64)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        padded = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * padded <= 64
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)
    assert batches[0] == [7]  # longest first
    assert plan_batches([100, 2], token_budget=10) == [[0], [1]]  # over budget: alone
    assert plan_batches([], token_budget=10) == []
    assert [len(b) for b in plan_batches([1] * 10, token_budget=100, max_batch_size=4)] == [4, 4, 2]


def test_forward_passes_are_packed_by_token_budget(tiny_model_path, monkeypatch):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", token_budget=64)
    model = encoder.backend.model
    shapes = []
    original = model.hidden_states

    def spy(input_ids, attention_mask, **kwargs):
        shapes.append(tuple(input_ids.shape))
        return original(input_ids, attention_mask, **kwargs)

    monkeypatch.setattr(model, "hidden_states", spy)
    texts = ["word " * n for n in (1, 30, 2, 25, 3, 3, 40, 1)]
    vectors = encoder.encode(texts, "retrieval.query")
    assert all(rows == 1 or rows * width <= 64 for rows, width in shapes)
    assert sum(rows for rows, _ in shapes) == len(texts)
    assert max(rows for rows, _ in shapes) > 1  # short texts share a batch
    for i, text in enumerate(texts):  # order restored, batching changes nothing
        np.testing.assert_allclose(
            vectors[i], encoder.encode([text], "retrieval.query")[0], atol=1e-5
        )


def test_only_requested_outputs_are_computed(tiny_model_path, monkeypatch):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu")
    calls = []
    projector = encoder.backend.model.multi_vector_projector
    projector.register_forward_hook(lambda module, args, output: calls.append(args[0].shape))
    result = encoder.backend.embed(
        ["a b c"], univec.resolve_task("retrieval.query"), dense=True, multi=False, dimensions=None
    )
    assert result.multi is None and result.dense.shape == (1, 64) and calls == []
    result = encoder.backend.embed(
        ["a b c"], univec.resolve_task("retrieval.query"), dense=False, multi=True, dimensions=None
    )
    assert result.dense is None and len(result.multi) == 1
    # The projector ran only on the real (non-padding) tokens.
    assert calls == [torch.Size([result.multi[0].shape[0], 64])]


def test_max_length_truncates_text(tiny_model_path):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", max_length=6)
    long_text = "the quick brown fox jumps over the lazy dog " * 50
    multi = encoder.encode([long_text, long_text + "and more"], "retrieval.query", multivector=True)
    assert [m.shape for m in multi] == [(6, 128), (6, 128)]
    np.testing.assert_array_equal(multi[0], multi[1])
    dense = encoder.encode([long_text, long_text + "tail"], "retrieval.query")
    np.testing.assert_allclose(dense[0], dense[1], atol=1e-6)
    assert encoder.info.max_length == 6
    # Images are never truncated: the image template stays whole.
    image = univec.Image(_png(64, 64))
    assert encoder.encode([image], "retrieval.passage", multivector=True)[0].shape[0] > 6


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 30, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("max_length", [0, -1, 32769, 100_000, 1.5, "8192", True])
def test_bad_max_length(tiny_model_path, max_length):
    with pytest.raises(InvalidArgumentError, match=repr(max_length).replace(".", r"\.")) as info:
        univec.Encoder.local(str(tiny_model_path), device="cpu", max_length=max_length)
    assert isinstance(info.value, ValueError) and isinstance(info.value, univec.UnivecError)


def test_max_length_cap_is_accepted(tiny_model_path):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", max_length=32768)
    assert encoder.info.max_length == 32768


@pytest.mark.parametrize("budget", [0, -5, "many"])
def test_bad_token_budget(tiny_model_path, budget):
    with pytest.raises(InvalidArgumentError, match="token_budget"):
        univec.Encoder.local(str(tiny_model_path), device="cpu", token_budget=budget)


def test_unknown_option_is_a_type_error(tiny_model_path):
    with pytest.raises(TypeError, match="batch_sise"):
        univec.Encoder.local(str(tiny_model_path), device="cpu", batch_sise=8)


def test_usage_counts_tokens(tiny_model_path, golden):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu")
    multi = encoder.encode(golden["texts"], "retrieval.query", multivector=True)
    assert encoder.usage.total_tokens == sum(m.shape[0] for m in multi) == 9 + 11 + 8 + 14
    assert encoder.usage.image_tokens == 0
    image = univec.Image(golden["images"][0])
    result = encoder.encode_both([image, "hi"], "retrieval.passage")
    image_total = result.multi[0].shape[0]
    assert result.usage.total_tokens == image_total + result.multi[1].shape[0]
    assert 0 < result.usage.image_tokens < image_total
    assert result.usage.prompt_tokens == result.usage.total_tokens - result.usage.image_tokens
    assert encoder.usage.total_tokens == 42 + result.usage.total_tokens


def test_outputs_are_unit_norm_float32(tiny_encoder, golden):
    items = [*golden["texts"], univec.Image(golden["images"][1])]
    both = tiny_encoder.encode_both(items, "text-matching", dimensions=32)
    assert both.dense.dtype == np.float32 and both.dense.shape == (5, 32)
    np.testing.assert_allclose(np.linalg.norm(both.dense, axis=1), 1.0, atol=1e-5)
    for matrix in both.multi:
        assert matrix.dtype == np.float32 and matrix.shape[1] == 128
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


def test_string_that_looks_like_a_path_is_text(tiny_encoder, golden):
    path = str(golden["images"][0])
    as_text = tiny_encoder.encode([path], "retrieval.passage", multivector=True)[0]
    as_image = tiny_encoder.encode([univec.Image(path)], "retrieval.passage", multivector=True)[0]
    assert as_text.shape[0] != as_image.shape[0]
    image_single = golden["arrays"]["image|retrieval.passage|single"][0]
    assert not np.allclose(
        tiny_encoder.encode([path], "retrieval.passage")[0], image_single, atol=1e-3
    )


def test_image_forms_agree(tiny_encoder, golden):
    from PIL import Image as PILImage

    path = golden["images"][0]
    expected = golden["arrays"]["image|code.passage|single"][0]
    forms = [
        univec.Image(path),
        univec.Image(str(path)),
        path,  # pathlib.Path
        PILImage.open(path),
        univec.Image.from_bytes(path.read_bytes()),
        univec.Image.from_pil(PILImage.open(path)),
    ]
    got = tiny_encoder.encode(forms, "code.passage")
    np.testing.assert_allclose(got, np.stack([expected] * len(forms)), atol=1e-4)


def test_extreme_aspect_ratio_image_is_an_image_load_error(tiny_encoder):
    with pytest.raises(univec.errors.ImageLoadError, match="1x400") as info:
        tiny_encoder.encode([univec.Image(_png(1, 400))], "retrieval.passage")
    assert isinstance(info.value, ValueError)


async def test_aencode_runs_in_a_thread_and_matches(tiny_encoder, golden, monkeypatch):
    expected = tiny_encoder.encode(golden["texts"], "code.query")
    got = await tiny_encoder.aencode(golden["texts"], "code.query")
    np.testing.assert_array_equal(got, expected)
    both = await tiny_encoder.aencode_both(golden["texts"], "code.query")
    np.testing.assert_array_equal(both.dense, expected)

    backend = tiny_encoder.backend
    slow_embed = backend.embed

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return slow_embed(*args, **kwargs)

    monkeypatch.setattr(backend, "embed", slow)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    await tiny_encoder.aencode(["x"], "code.query")
    task.cancel()
    assert ticks >= 10  # the loop kept running while the model worked


def test_resolve_device_and_dtype(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_dtype(None, torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_dtype(None, torch.device("mps")) == torch.bfloat16
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    assert resolve_dtype("torch.float16", torch.device("cpu")) == torch.float16
    assert resolve_dtype(torch.float32, torch.device("cpu")) == torch.float32
    for bad in ("float64", "int8", torch.int8, 3):
        with pytest.raises(ConfigurationError, match="dtype="):
            resolve_dtype(bad, torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device(None) == torch.device("cpu")
    with pytest.raises(ConfigurationError, match="cuda"):
        resolve_device("cuda")
    with pytest.raises(ConfigurationError, match="'tpu-ish'"):
        resolve_device("tpu-ish")
    with pytest.raises(ConfigurationError, match="MPS"):  # not torch's error at model.to()
        resolve_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ConfigurationError, match=r"'cuda:3'.*only 1 CUDA device"):
        resolve_device("cuda:3")


def test_bfloat16_on_cpu_is_close_to_golden(tiny_model_path, golden):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", dtype=torch.bfloat16)
    assert encoder.backend.dtype == torch.bfloat16
    assert next(encoder.backend.model.parameters()).dtype == torch.bfloat16
    got = encoder.encode(golden["texts"], "retrieval.query")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, golden["arrays"]["text|retrieval.query|single"], atol=5e-2)
    rope = encoder.backend.model.backbone.language_model.rotary_emb.inv_freq
    assert rope.dtype == torch.float32  # RoPE frequencies keep full precision


def test_default_device_is_cpu_here(tiny_model_path):
    encoder = univec.Encoder.local(str(tiny_model_path))
    assert encoder.backend.device.type == "cpu" and encoder.backend.dtype == torch.float32
    assert "cpu" in repr(encoder.backend)
    assert encoder.backend.token_budget == DEFAULT_CPU_TOKEN_BUDGET


def test_close_releases_the_model(tiny_model_path):
    with univec.Encoder.local(str(tiny_model_path), device="cpu") as encoder:
        assert encoder.backend.model is not None
    assert not hasattr(encoder.backend, "model")  # the weights were dropped


def test_close_waits_for_the_forward_pass_in_progress(tiny_model_path):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu")
    backend = encoder.backend
    entered, release = threading.Event(), threading.Event()
    activate = backend.adapters.activate

    def slow_activate(adapter):
        entered.set()
        release.wait(5)
        activate(adapter)

    backend.adapters.activate = slow_activate
    results: list[object] = []

    def encode():
        try:
            results.append(encoder.encode(["x"], "retrieval.query"))
        except Exception as exc:  # recorded: the assertion below shows which
            results.append(exc)

    worker = threading.Thread(target=encode)
    worker.start()
    assert entered.wait(5)
    closer = threading.Thread(target=encoder.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # close() waits instead of pulling the model from under the pass
    release.set()
    worker.join(5)
    closer.join(5)
    assert isinstance(results[0], np.ndarray) and results[0].shape == (1, 64)
    assert not hasattr(backend, "model")  # the weights were dropped
    with pytest.raises(ClosedError, match="closed"):
        encoder.encode(["y"], "retrieval.query")
