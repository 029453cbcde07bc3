"""The local backend's speed machinery: exact whatever path it takes.

Task switches without re-merging, packed (variable-length) batches, the image thread pool,
the dtype and attention choices, and the forward pass's small context object.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import univec
from univec.backends.local import device as device_module
from univec.backends.local import forward
from univec.backends.local.device import choose_dtype, resolve_attention
from univec.backends.local.forward import ForwardContext, run_batches
from univec.backends.local.packing import pack_varlen, plan_batches
from univec.errors import ConfigurationError, InvalidTaskError

TASKS = ["retrieval.query", "code.query", "text-matching", "retrieval.passage", "code.passage"]


@pytest.fixture
def encoder(tiny_model_path):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", dtype="float32")
    yield encoder
    encoder.close()


# --------------------------------------------------------------------------- task switches
def test_alternating_tasks_match_the_goldens_without_re_merging(encoder, golden):
    adapters = encoder.backend.adapters
    merges = []
    original = adapters.activate

    def activate(task: str) -> None:
        if task != adapters.active:
            merges.append(task)  # a real merge (activating the active task is a no-op)
        original(task)

    adapters.activate = activate  # type: ignore[method-assign]
    texts = golden["texts"]
    for _ in range(2):
        for task in TASKS:
            for number, text in enumerate(texts):  # one short query per call
                got = encoder.encode([text], task)[0]
                expected = golden["arrays"][f"text|{task}|single"][number]
                np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=f"{task} #{number}")
            multi = encoder.encode(texts[:2], task, multivector=True)
            for number, matrix in enumerate(multi):
                expected = golden["arrays"][f"text|{task}|multi|{number}"]
                np.testing.assert_allclose(matrix, expected, atol=1e-5)
    assert merges == ["retrieval"]  # the first call merged; every switch after was an overlay
    assert adapters.active == "retrieval"
    # No correction hook is left behind on any adapted layer.
    assert all(not target.module._forward_hooks for target in adapters.targets)


def test_a_run_of_small_calls_for_one_task_merges_it_once(encoder, golden):
    backend = encoder.backend
    encoder.encode(["warm up"], "retrieval.query")
    backend.switch_tokens = 40  # a run of small calls merges once it adds up to 40 tokens
    texts, expected = golden["texts"], golden["arrays"]["text|code.query|single"]
    seen = []
    for _ in range(3):
        for number, text in enumerate(texts):
            got = encoder.encode([text], "code.query")[0]
            np.testing.assert_allclose(got, expected[number], atol=1e-5)
            seen.append(backend.adapters.active)
    assert seen[0] == "retrieval"  # overlaid at first ...
    assert seen[-1] == "code"  # ... merged once the run added up
    assert seen.count("code") == len(seen) - seen.index("code")  # and merged only once


def test_alternating_small_calls_never_add_up_to_a_merge(encoder):
    encoder.encode(["warm up"], "retrieval.query")
    encoder.backend.switch_tokens = 40
    for _ in range(20):
        for task in ("code.query", "text-matching"):  # each call breaks the other's run
            encoder.encode(["a short query of a few words"], task)
    assert encoder.backend.adapters.active == "retrieval"


def test_a_big_call_merges_its_task(encoder, golden):
    encoder.encode(["warm up"], "retrieval.query")
    encoder.backend.switch_tokens = 1  # every call counts as big
    got = encoder.encode(golden["texts"], "code.passage")
    assert encoder.backend.adapters.active == "code"
    np.testing.assert_allclose(got, golden["arrays"]["text|code.passage|single"], atol=1e-5)


def test_overlay_of_an_unknown_adapter_is_an_invalid_task(encoder):
    encoder.encode(["warm up"], "retrieval.query")
    with (
        pytest.raises(InvalidTaskError, match="summarise"),
        encoder.backend.adapters.overlay("summarise"),
    ):
        pass
    assert all(not target.module._forward_hooks for target in encoder.backend.adapters.targets)


# --------------------------------------------------------------------------- varlen packing
def test_pack_varlen_lays_sequences_end_to_end():
    batch = pack_varlen([[5, 6, 7], [8, 9], [4]])
    assert batch.input_ids == [5, 6, 7, 8, 9, 4]
    assert batch.position_ids == [0, 1, 2, 0, 1, 0]
    assert batch.segment_ids == [0, 0, 0, 1, 1, 2]
    assert batch.cu_seqlens == [0, 3, 5, 6] and batch.lengths == [3, 2, 1]
    with pytest.raises(ValueError):
        pack_varlen([[1], []])
    with pytest.raises(ValueError):
        pack_varlen([])


def test_plan_batches_can_count_packed_tokens():
    lengths = [10, 1, 1, 1, 1, 1, 1]
    assert plan_batches(lengths, token_budget=16) == [[0], [1, 2, 3, 4, 5, 6]]
    assert plan_batches(lengths, token_budget=15, padded=False) == [[0, 1, 2, 3, 4, 5], [6]]
    assert plan_batches(lengths, token_budget=16, padded=False) == [list(range(7))]


def test_packed_batches_give_the_padded_results(encoder, golden):
    """The flash-attention path's packing, run here through SDPA's block-diagonal mask."""
    backend = encoder.backend
    backend.adapters.activate("retrieval")
    texts = [*golden["texts"], "a much longer text " * 12]
    task = univec.resolve_task("retrieval.passage")
    context = _context(backend, varlen=False)
    padded_dense, padded_multi, usage = run_batches(context, texts, task, dense=True, multi=True)
    packed_dense, packed_multi, packed_usage = run_batches(
        _context(backend, varlen=True), texts, task, dense=True, multi=True
    )
    np.testing.assert_allclose(np.stack(packed_dense), np.stack(padded_dense), atol=1e-5)
    for got, expected in zip(packed_multi, padded_multi, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert packed_usage == usage
    np.testing.assert_allclose(
        np.stack(packed_dense)[: len(golden["texts"])],
        golden["arrays"]["text|retrieval.passage|single"],
        atol=1e-5,
    )


def _context(backend, *, varlen: bool, token_budget: int = 64) -> ForwardContext:
    return ForwardContext(
        model=backend.model,
        preprocessor=backend.preprocessor,
        device=backend.device,
        token_budget=token_budget,
        varlen=varlen,
    )


# --------------------------------------------------------------------------- images
def test_images_prepared_in_the_pool_keep_input_order(encoder, golden, monkeypatch):
    monkeypatch.setattr(forward, "IMAGE_CHUNK", 1)  # every image its own chunk, prepared ahead
    threads = set()
    original = encoder.backend.preprocessor.image

    def spy(image, timeout):
        import threading

        threads.add(threading.current_thread().name)
        return original(image, timeout)

    monkeypatch.setattr(encoder.backend.preprocessor, "image", spy)
    images = golden["images"]
    items = [images[1], golden["texts"][0], images[0], images[1]]
    got = encoder.encode(items, "retrieval.passage")
    expected = golden["arrays"]["image|retrieval.passage|single"]
    np.testing.assert_allclose(got[[0, 2, 3]], expected[[1, 0, 1]], atol=1e-5)
    np.testing.assert_allclose(
        got[1], golden["arrays"]["text|retrieval.passage|single"][0], atol=1e-5
    )
    assert threads and all(name.startswith("univec-image") for name in threads)


def test_a_bad_image_mid_list_raises_and_leaves_no_thread(encoder, golden):
    import threading

    items = [univec.Image(golden["images"][0]), univec.Image(b"not an image")]
    with pytest.raises(univec.errors.ImageLoadError):
        encoder.encode(items, "retrieval.passage")
    assert not [t for t in threading.enumerate() if t.name.startswith("univec-image")]


# --------------------------------------------------------------------------- dtype, attention
def test_auto_dtype_is_float32_on_cpu_and_info_says_why(encoder, tiny_model_path):
    assert encoder.info.dtype_choice == "float32 as asked"
    auto = univec.Encoder.local(str(tiny_model_path), device="cpu")
    info = auto.info
    auto.close()
    assert info.dtype == "float32" and info.device == "cpu" and info.attention == "sdpa"
    assert info.dtype_choice is not None and info.dtype_choice.startswith("auto: float32 on CPU")
    dtype, reason = choose_dtype(None, torch.device("cpu"))
    assert dtype == torch.float32 and "auto" in reason


def test_explicit_bfloat16_on_a_cpu_without_bf16_hardware_warns_once(monkeypatch, caplog):
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(device_module, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="univec"):
        for _ in range(3):
            dtype, reason = choose_dtype("bfloat16", torch.device("cpu"))
    assert dtype == torch.bfloat16 and "emulated" in reason
    warnings = [r for r in caplog.records if "bfloat16 hardware" in r.getMessage()]
    assert len(warnings) == 1
    assert choose_dtype(None, torch.device("cpu"))[0] == torch.float32  # never chosen silently
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="univec"):
        assert choose_dtype("bf16", torch.device("cpu")) == (torch.bfloat16, "bfloat16 as asked")
    assert not caplog.records


def test_attention_is_chosen_explicitly():
    cpu = torch.device("cpu")
    assert resolve_attention(None, cpu, torch.float32) == "sdpa"
    assert resolve_attention("auto", cpu, torch.bfloat16) == "sdpa"
    assert resolve_attention("eager", cpu, torch.float32) == "eager"
    with pytest.raises(ConfigurationError, match="flash-attn"):
        resolve_attention("flash_attention_2", cpu, torch.bfloat16)
    with pytest.raises(ConfigurationError, match="not supported"):
        resolve_attention("xformers", cpu, torch.float32)


def test_flash_attention_is_auto_on_cuda_when_installed(monkeypatch):
    monkeypatch.setattr(device_module.importlib.util, "find_spec", lambda name: object())
    cuda = torch.device("cuda")
    assert resolve_attention(None, cuda, torch.bfloat16) == "flash_attention_2"
    assert resolve_attention(None, cuda, torch.float32) == "sdpa"  # flash-attn is 16-bit only
    monkeypatch.setattr(device_module.importlib.util, "find_spec", lambda name: None)
    assert resolve_attention(None, cuda, torch.bfloat16) == "sdpa"


# --------------------------------------------------------------------------- context
def test_forward_module_does_not_reach_back_into_the_backend():
    import inspect

    source = inspect.getsource(forward)
    assert "backend import" not in source and "LocalBackend" not in source
    fields = set(ForwardContext.__dataclass_fields__)
    assert fields == {
        "model",
        "preprocessor",
        "device",
        "token_budget",
        "max_batch_size",
        "download_timeout",
        "varlen",
    }


# --------------------------------------------------------------------------- fast paths
def test_chunked_mlp_and_vision_fast_paths_change_nothing(tiny_model_path, golden):
    from univec.backends.local.checkpoint import open_checkpoint
    from univec.backends.local.model import _PatchProjection, load_model

    checkpoint = open_checkpoint(str(tiny_model_path))
    cpu = torch.device("cpu")
    stock = load_model(checkpoint, device=cpu, dtype=torch.float32, fast_paths=False)
    fast = load_model(checkpoint, device=cpu, dtype=torch.float32, mlp_chunk_tokens=5)
    assert isinstance(fast.backbone.visual.patch_embed.proj, _PatchProjection)
    assert isinstance(stock.backbone.visual.patch_embed.proj, torch.nn.Conv3d)
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", dtype="float32")
    encoded = [
        *encoder.backend.preprocessor.texts(golden["texts"][:2], "Query: "),
        encoder.backend.preprocessor.image(univec.Image(golden["images"][0])),
    ]
    encoder.close()
    for item in encoded:  # 23+ tokens: the MLP runs in chunks of 5
        ids = torch.tensor([item.input_ids])
        mask = torch.ones_like(ids)
        kwargs = {}
        if item.is_image:
            kwargs = {
                "pixel_values": item.pixel_values,
                "image_grid_thw": item.image_grid_thw,
                "mm_token_type_ids": (ids == _image_id(checkpoint)).int(),
            }
        with torch.inference_mode():
            expected = stock.hidden_states(ids, mask, **kwargs)
            got = fast.hidden_states(ids, mask, **kwargs)
        assert len(item.input_ids) > 5
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def _image_id(checkpoint) -> int:
    return checkpoint.token_id("image_token_id")


# --------------------------------------------------------------------------- long texts in chunks
def test_one_long_text_in_chunks_equals_the_whole_forward(tiny_model_path, golden):
    from univec.backends.local import model as model_module
    from univec.backends.local.checkpoint import open_checkpoint
    from univec.backends.local.model import load_model

    checkpoint = open_checkpoint(str(tiny_model_path))
    cpu = torch.device("cpu")
    whole = load_model(checkpoint, device=cpu, dtype=torch.float32)
    chunked = load_model(checkpoint, device=cpu, dtype=torch.float32, chunk_tokens=7)
    assert whole.chunk_tokens is None and chunked.chunk_tokens == 7
    assert model_module._chunkable(chunked.backbone.language_model)
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", dtype="float32")
    long_text = " ".join(golden["texts"])
    encoded = encoder.backend.preprocessor.texts([*golden["texts"][:2], long_text], "Passage: ")
    encoder.close()
    runs = []
    original = model_module._chunked_text_forward

    def spy(*args):
        runs.append(args[1].shape[1])
        return original(*args)

    model_module._chunked_text_forward = spy
    try:
        for item in encoded:
            ids = torch.tensor([item.input_ids])
            with torch.inference_mode():
                expected = whole.hidden_states(ids, torch.ones_like(ids))
                got = chunked.text_hidden_states(ids)
                unchunked = whole.text_hidden_states(ids)  # chunk_tokens None: the whole path
            torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(unchunked, expected, atol=0.0, rtol=0.0)
    finally:
        model_module._chunked_text_forward = original
    lengths = [len(item.input_ids) for item in encoded]
    assert runs == lengths  # every text ran in chunks (the long one in many, with a remainder)
    assert lengths[-1] > 5 * 7 and lengths[-1] % 7


def test_long_text_chunks_keep_every_task_on_the_goldens(tiny_model_path, golden):
    """Chunked texts through the public API, task switches (LoRA overlays) included."""
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", dtype="float32")
    encoder.backend.model.chunk_tokens = 4  # every golden text runs in several chunks
    try:
        for task in TASKS:
            for number, text in enumerate(golden["texts"]):
                got = encoder.encode([text], task)[0]
                expected = golden["arrays"][f"text|{task}|single"][number]
                np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=f"{task} #{number}")
                if number < 2:
                    matrix = encoder.encode([text], task, multivector=True)[0]
                    expected = golden["arrays"][f"text|{task}|multi|{number}"]
                    np.testing.assert_allclose(matrix, expected, atol=1e-5)
    finally:
        encoder.close()


@pytest.mark.parametrize("offset", [0, 5, 300])
@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_causal_attention_of_a_chunk_equals_masked_attention(offset, kv_heads):
    from univec.backends.local.model import _causal_attention, _masked_causal_attention

    generator = torch.Generator().manual_seed(offset + kv_heads)
    rows = 37  # offset 0: a square first chunk; else a chunk after ``offset`` keys
    query = torch.randn(1, 4, rows, 8, generator=generator)
    keys = torch.randn(1, kv_heads, offset + rows, 8, generator=generator)
    values = torch.randn(1, kv_heads, offset + rows, 8, generator=generator)
    positions = torch.arange(offset, offset + rows)
    mask = torch.arange(offset + rows).unsqueeze(0) <= positions.unsqueeze(1)
    repeat = 4 // kv_heads
    expected = torch.nn.functional.scaled_dot_product_attention(
        query,
        keys.repeat_interleave(repeat, dim=1),
        values.repeat_interleave(repeat, dim=1),
        attn_mask=mask,
        scale=0.3,
    )
    for attend in (_causal_attention, _masked_causal_attention):
        got = attend(query, keys, values, offset, 0.3)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_long_texts_run_whole_where_chunks_cannot(tiny_model_path):
    """Eager attention (no SDPA path to re-sequence) keeps the whole forward."""
    from univec.backends.local import model as model_module
    from univec.backends.local.checkpoint import open_checkpoint
    from univec.backends.local.model import load_model

    checkpoint = open_checkpoint(str(tiny_model_path))
    eager = load_model(
        checkpoint,
        device=torch.device("cpu"),
        dtype=torch.float32,
        attn_implementation="eager",
        chunk_tokens=4,
    )
    assert not model_module._chunkable(eager.backbone.language_model)
    ids = torch.arange(3, 20).unsqueeze(0)
    with torch.inference_mode():
        torch.testing.assert_close(
            eager.text_hidden_states(ids), eager.hidden_states(ids, torch.ones_like(ids))
        )
