"""The jina-embeddings-v4 network on stock transformers: Qwen2.5-VL backbone + projector.

The backbone is ``transformers.Qwen2_5_VLModel`` built from ``config.json`` (no remote
code, no LM head). Its parameters are created on the ``meta`` device and then assigned
the checkpoint's tensors, so loading the 3B model never allocates random weights.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import nn

from univec.backends.local.checkpoint import (
    Checkpoint,
    backbone_key,
    quiet_transformers,
    read_tensors,
)
from univec.errors import CheckpointError

__all__ = ["JinaEmbeddingsV4", "load_model"]


class JinaEmbeddingsV4(nn.Module):
    """Qwen2.5-VL backbone (without LM head) and the multi-vector projector.

    Attributes:
        backbone: ``transformers.Qwen2_5_VLModel``.
        multi_vector_projector: ``Linear(hidden, 128)``, or ``None`` for checkpoints without it.
    """

    def __init__(
        self, backbone: nn.Module, projector: nn.Linear | None, chunk_tokens: int | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.multi_vector_projector = projector
        #: One text longer than this runs through the decoder this many tokens at a time
        #: (:meth:`text_hidden_states`); ``None``: never.
        self.chunk_tokens = chunk_tokens

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        pixel_values: torch.Tensor | None = None,
        image_grid_thw: torch.Tensor | None = None,
        mm_token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The last hidden state (after the final RMSNorm), ``(batch, seq, hidden)``."""
        # Stale M-RoPE deltas from an earlier image batch must not leak into this one.
        self.backbone.rope_deltas = None  # type: ignore[assignment]
        output = self.backbone(
            input_ids=input_ids,
            attention_mask=attention_mask,
            pixel_values=pixel_values,
            image_grid_thw=image_grid_thw,
            mm_token_type_ids=mm_token_type_ids,
            use_cache=False,
            return_dict=True,
        )
        return output.last_hidden_state

    def text_hidden_states(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The last hidden state of one unpadded text, ``(1, seq, hidden)``.

        A text longer than :attr:`chunk_tokens` runs through each decoder layer
        ``chunk_tokens`` tokens at a time, as a chunked prefill does: a chunk's queries attend
        to the layer's keys and values of every token up to it (kept for that layer only),
        and its output replaces its rows of the residual stream in place. Causal attention
        makes that the same computation as the whole sequence at once (equal up to float
        rounding), but the layer's activations are those of one chunk, not of the document.
        Other cases (short texts, attention kernels other than SDPA, sliding window layers,
        a decoder of another layout) run the backbone whole.
        """
        language_model = getattr(self.backbone, "language_model", None)
        chunk = self.chunk_tokens
        if (
            chunk is None
            or input_ids.shape[0] != 1
            or input_ids.shape[1] <= chunk
            or not _chunkable(language_model)
        ):
            return self.hidden_states(input_ids, torch.ones_like(input_ids))
        self.backbone.rope_deltas = None  # type: ignore[assignment]
        return _chunked_text_forward(language_model, input_ids, chunk)

    def packed_hidden_states(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor
    ) -> torch.Tensor:
        """The last hidden state of texts packed into one row, ``(1, total, hidden)``.

        ``position_ids`` is ``(3, 1, total)`` (M-RoPE axes; equal for text) and restarts at 0
        at each sequence start: transformers then keeps attention within each sequence
        (flash-attention 2's variable-length kernel, or a block-diagonal mask).
        """
        self.backbone.rope_deltas = None  # type: ignore[assignment]
        # A 4th leading row holds the text positions that mark where each sequence starts.
        positions = torch.cat([position_ids[:1], position_ids], dim=0)
        output = self.backbone(
            input_ids=input_ids,
            attention_mask=None,
            position_ids=positions,
            use_cache=False,
            return_dict=True,
        )
        return output.last_hidden_state


@contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Create parameters on ``meta`` (no memory, no init) but keep buffers real.

    Buffers such as the RoPE ``inv_freq`` are computed in ``__init__`` and not stored in
    the checkpoint, so they must be materialised.
    """
    register = nn.Module.register_parameter

    def register_on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        register(module, name, param)
        if param is not None:
            kwargs = {"requires_grad": param.requires_grad}
            module._parameters[name] = type(param)(param.to("meta"), **kwargs)

    nn.Module.register_parameter = register_on_meta  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        nn.Module.register_parameter = register  # type: ignore[method-assign]


def build_backbone(checkpoint: Checkpoint, attn_implementation: str) -> nn.Module:
    """An empty (meta-parameter) ``Qwen2_5_VLModel`` for the checkpoint's config."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLModel

    config_dict = dict(checkpoint.config)
    for key in ("auto_map", "architectures"):
        config_dict.pop(key, None)
    with quiet_transformers():
        config = Qwen2_5_VLConfig.from_dict(config_dict)
        for sub in (config, config.text_config, config.vision_config):
            sub._attn_implementation = attn_implementation  # type: ignore[union-attr]
        with _parameters_on_meta():
            backbone = Qwen2_5_VLModel(config)
    return backbone.eval()


def load_model(
    checkpoint: Checkpoint,
    *,
    device: torch.device,
    dtype: torch.dtype,
    attn_implementation: str = "sdpa",
    mlp_chunk_tokens: int | None = None,
    chunk_tokens: int | None = None,
    fast_paths: bool = True,
) -> JinaEmbeddingsV4:
    """Build the network and load the checkpoint's weights onto ``device`` in ``dtype``.

    ``mlp_chunk_tokens`` runs the decoder's MLPs over at most that many tokens at a time
    (the MLP is per token, so the result is the same): a long document then never holds
    its full ``tokens x intermediate`` activations at once. ``chunk_tokens`` is the chunk of
    :meth:`JinaEmbeddingsV4.text_hidden_states` (one long text through the decoder a chunk
    at a time; ``None``: never). ``fast_paths=False`` keeps
    transformers' own vision patch embedding and window attention (benchmarks compare).

    Raises:
        CheckpointError: Weights are missing, unexpected or of the wrong shape.
    """
    backbone = build_backbone(checkpoint, attn_implementation)
    expected = dict(backbone.named_parameters())
    names = {
        key: name for key in checkpoint.weight_files if (name := backbone_key(key)) in expected
    }
    wanted = list(names)
    state: dict[str, torch.Tensor] = {}
    for key, tensor in read_tensors(checkpoint.weight_files, wanted, "cpu"):
        name = names[key]
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"Weight {key!r} in {str(checkpoint.path)!r} has shape {tuple(tensor.shape)}, "
                f"the config implies {tuple(expected[name].shape)}."
            )
        state[name] = tensor.to(device=device, dtype=dtype)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise CheckpointError(
            f"{str(checkpoint.path)!r} lacks {len(missing)} backbone weights, e.g. {missing[:3]}. "
            "Is it a jina-embeddings-v4 / Qwen2.5-VL checkpoint?"
        )
    backbone.load_state_dict(state, strict=True, assign=True)
    backbone.to(device)  # buffers (RoPE frequencies) keep their float32 dtype
    if fast_paths:
        _patch_embedding_as_matmul(backbone)
    if fast_paths and attn_implementation == "sdpa":
        _batch_window_attention(backbone)
    if mlp_chunk_tokens is not None:
        for layer in getattr(getattr(backbone, "language_model", None), "layers", ()):
            layer.mlp.forward = partial(_chunked_mlp, layer.mlp.forward, mlp_chunk_tokens)
    projector = _load_projector(checkpoint, device, dtype)
    model = JinaEmbeddingsV4(backbone, projector, chunk_tokens=chunk_tokens).eval()
    model.requires_grad_(False)
    return model


class _PatchProjection(nn.Module):
    """The vision patch embedding's ``Conv3d`` as the matmul it is.

    Its kernel equals its stride and covers each whole patch, so the convolution is one
    dot product per patch and output channel; as a matmul it is the same sum, several
    times faster on CPU than the 3-D convolution kernel. Keeps the conv's weight.
    """

    def __init__(self, conv: nn.Conv3d) -> None:
        super().__init__()
        self.weight = conv.weight

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        flat = patches.reshape(patches.shape[0], -1)
        return flat @ self.weight.reshape(self.weight.shape[0], -1).T


def _patch_embedding_as_matmul(backbone: nn.Module) -> None:
    embed = getattr(getattr(backbone, "visual", None), "patch_embed", None)
    conv = getattr(embed, "proj", None)
    if isinstance(conv, nn.Conv3d) and conv.bias is None and conv.kernel_size == conv.stride:
        embed.proj = _PatchProjection(conv)  # type: ignore[union-attr]


def _chunked_mlp(forward: Any, chunk: int, hidden: torch.Tensor) -> torch.Tensor:
    """An MLP over ``hidden`` ``chunk`` tokens at a time (same result, bounded activations)."""
    if hidden.shape[:-1].numel() <= chunk:
        return forward(hidden)
    flat = hidden.reshape(-1, hidden.shape[-1])
    parts = [forward(flat[start : start + chunk]) for start in range(0, flat.shape[0], chunk)]
    return torch.cat(parts).reshape(*hidden.shape[:-1], -1)


def _chunkable(language_model: Any) -> bool:
    """Whether :func:`_chunked_text_forward` can run this text model.

    It needs the Qwen2 decoder layout it re-sequences (pre-norm attention with
    ``q/k/v/o_proj`` and the module's own ``apply_rotary_pos_emb``, then a pre-norm MLP),
    full attention (no sliding window) and SDPA as the configured kernel.
    """
    config = getattr(language_model, "config", None)
    layers = getattr(language_model, "layers", None)
    if config is None or not layers or getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    if getattr(language_model, "has_sliding_layers", True) or not all(
        hasattr(language_model, name) for name in ("embed_tokens", "rotary_emb", "norm")
    ):
        return False
    layer = layers[0]
    attention = getattr(layer, "self_attn", None)
    return (
        all(hasattr(layer, name) for name in ("input_layernorm", "post_attention_layernorm", "mlp"))
        and all(
            hasattr(attention, name)
            for name in ("q_proj", "k_proj", "v_proj", "o_proj", "head_dim", "scaling")
        )
        and callable(
            getattr(sys.modules.get(type(attention).__module__), "apply_rotary_pos_emb", None)
        )
    )


def _chunked_text_forward(language_model: Any, input_ids: torch.Tensor, chunk: int) -> torch.Tensor:
    """The text model's last hidden state of one text, each layer run a chunk at a time.

    Layer by layer, and within a layer chunk by chunk: a chunk's keys and values go into the
    layer's buffers, its queries attend (causally) to every key up to the chunk's end, and
    its output overwrites its rows of the residual stream. Later chunks read only the
    buffers, so the in-place update is safe. Every module is the model's own (LoRA hooks
    included), in the order of the decoder layer's own forward.
    """
    total = input_ids.shape[1]
    device = input_ids.device
    hidden = language_model.embed_tokens(input_ids)  # (1, total, hidden), updated in place
    spans = [(start, min(start + chunk, total)) for start in range(0, total, chunk)]
    # M-RoPE: a text's positions are equal on the three axes.
    positions = torch.arange(total, device=device).view(1, 1, -1).expand(3, 1, -1)
    for layer in language_model.layers:
        attention = layer.self_attn
        rotate = sys.modules[type(attention).__module__].apply_rotary_pos_emb
        keys = values = None
        for start, end in spans:
            rows = hidden[:, start:end]
            x = layer.input_layernorm(rows)
            shape = (1, end - start, -1, attention.head_dim)
            query = attention.q_proj(x).view(shape).transpose(1, 2)
            key = attention.k_proj(x).view(shape).transpose(1, 2)
            value = attention.v_proj(x).view(shape).transpose(1, 2)
            cos, sin = language_model.rotary_emb(x, positions[:, :, start:end])
            query, key = rotate(query, key, cos, sin)
            if keys is None or values is None:
                keys = key.new_empty((*key.shape[:2], total, key.shape[-1]))
                values = value.new_empty((*value.shape[:2], total, value.shape[-1]))
            keys[:, :, start:end] = key
            values[:, :, start:end] = value
            context = _causal_attention(
                query, keys[:, :, :end], values[:, :, :end], start, attention.scaling
            )
            rows = rows + attention.o_proj(context.transpose(1, 2).reshape(1, end - start, -1))
            rows = rows + layer.mlp(layer.post_attention_layernorm(rows))
            hidden[:, start:end] = rows
    for start, end in spans:
        hidden[:, start:end] = language_model.norm(hidden[:, start:end])
    return hidden


#: Queries per SDPA call of :func:`_masked_causal_attention` (bounds its mask).
ATTENTION_ROWS = 256


def _causal_attention(
    query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, offset: int, scale: float
) -> torch.Tensor:
    """Causal attention of queries at positions ``offset ..`` over keys ``0 .. offset + rows``.

    The keys before the chunk are all visible and the chunk's own are a square causal
    block, so on CPU this is two calls of PyTorch's flash kernel, neither with a mask,
    whose outputs are combined by their log-sum-exps (the softmax over both key sets).
    Grouped-query heads go in as they are (no repeated keys).
    """
    gqa = query.shape[1] != keys.shape[1]
    if offset == 0:
        return torch.nn.functional.scaled_dot_product_attention(
            query, keys, values, is_causal=True, scale=scale, enable_gqa=gqa
        )
    flash = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if query.device.type != "cpu" or flash is None:
        return _masked_causal_attention(query, keys, values, offset, scale)
    past_keys, past_values = keys[:, :, :offset], values[:, :, :offset]
    own_keys, own_values = keys[:, :, offset:], values[:, :, offset:]
    past, past_lse = flash(query, past_keys, past_values, 0.0, False, scale=scale)[:2]
    own, own_lse = flash(query, own_keys, own_values, 0.0, True, scale=scale)[:2]
    top = torch.maximum(past_lse, own_lse)
    past_weight = (past_lse - top).exp_().unsqueeze(-1)
    own_weight = (own_lse - top).exp_().unsqueeze(-1)
    mixed = (past.float() * past_weight).add_(own.float() * own_weight)
    return mixed.div_(past_weight + own_weight).to(query.dtype)


def _masked_causal_attention(
    query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, offset: int, scale: float
) -> torch.Tensor:
    """:func:`_causal_attention` with public SDPA calls, a small boolean mask per query block."""
    gqa = query.shape[1] != keys.shape[1]
    rows = query.shape[2]
    parts = []
    for first in range(0, rows, ATTENTION_ROWS):
        last = min(first + ATTENTION_ROWS, rows)
        seen = offset + last  # keys visible to the block's last query
        key_index = torch.arange(seen, device=query.device)
        query_index = torch.arange(offset + first, offset + last, device=query.device)
        parts.append(
            torch.nn.functional.scaled_dot_product_attention(
                query[:, :, first:last],
                keys[:, :, :seen],
                values[:, :, :seen],
                attn_mask=key_index.unsqueeze(0) <= query_index.unsqueeze(1),
                scale=scale,
                enable_gqa=gqa,
            )
        )
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)


def _batch_window_attention(backbone: nn.Module) -> None:
    """Run the vision tower's window attention as one SDPA call per window size.

    transformers' SDPA path calls the kernel once per window (hundreds of tiny calls per
    image, 29 % of an image's time on CPU); windows of equal length are stacked into one
    batched call instead, the same arithmetic. Flash-attention 2 needs none of this (it
    takes the windows' ``cu_seqlens`` directly).
    """
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as qwen

    rotate = getattr(qwen, "apply_rotary_pos_emb_vision", None)
    blocks = getattr(getattr(backbone, "visual", None), "blocks", None)
    if rotate is None or blocks is None:
        return
    for block in blocks:
        attention = getattr(block, "attn", None)
        if attention is not None and hasattr(attention, "qkv") and hasattr(attention, "proj"):
            attention.forward = partial(_window_attention, attention, rotate)


def _window_attention(
    module: Any,
    rotate: Any,
    hidden_states: torch.Tensor,
    cu_seqlens: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
    **kwargs: Any,
) -> torch.Tensor:
    """``Qwen2_5_VLVisionAttention.forward`` with equal-length windows batched."""
    length = hidden_states.shape[0]
    qkv = module.qkv(hidden_states).reshape(length, 3, module.num_heads, -1)
    query, key, value = qkv.permute(1, 0, 2, 3).unbind(0)  # (tokens, heads, head_dim) each
    assert position_embeddings is not None  # the vision tower always passes them
    cos, sin = position_embeddings
    query, key = rotate(query, key, cos, sin)
    output = torch.empty_like(query)
    bounds = cu_seqlens.tolist()
    by_size: dict[int, list[int]] = {}
    for start, end in itertools.pairwise(bounds):
        if end > start:
            by_size.setdefault(end - start, []).append(start)
    for size, starts in by_size.items():
        index = (
            torch.tensor(starts, device=query.device).unsqueeze(1)
            + torch.arange(size, device=query.device)
        ).reshape(-1)
        q, k, v = (
            tensor.index_select(0, index)
            .reshape(len(starts), size, *tensor.shape[1:])
            .transpose(1, 2)
            for tensor in (query, key, value)
        )
        attended = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=module.scaling
        )
        output.index_copy_(0, index, attended.transpose(1, 2).reshape(-1, *query.shape[1:]))
    return module.proj(output.reshape(length, -1).contiguous())


def _load_projector(checkpoint: Checkpoint, device: torch.device, dtype: torch.dtype) -> Any:
    if not checkpoint.has_projector:
        return None
    keys = ["multi_vector_projector.weight", "multi_vector_projector.bias"]
    if keys[1] not in checkpoint.weight_files:
        raise CheckpointError(f"{str(checkpoint.path)!r} has no {keys[1]!r}.")
    tensors = dict(read_tensors(checkpoint.weight_files, keys, "cpu"))
    weight = tensors["multi_vector_projector.weight"]
    projector = nn.Linear(weight.shape[1], weight.shape[0], bias=True, device="meta")
    projector.load_state_dict(
        {
            "weight": weight.to(device=device, dtype=dtype),
            "bias": tensors["multi_vector_projector.bias"].to(device=device, dtype=dtype),
        },
        assign=True,
    )
    return projector
