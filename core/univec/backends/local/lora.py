"""The per-task LoRA adapters of jina-embeddings-v4, merged into the weights once per task.

Why merge, and how switching stays exact:
    Running LoRA unmerged costs two extra skinny matmuls per targeted linear on every
    forward pass. Merging ``W = W0 + (alpha / r) * B @ A`` once per task makes the forward
    pass as cheap as the plain backbone. Merging is done in float32 and cast to the model
    dtype once.

    Switching tasks must not drift: subtracting the old delta and adding the new one would
    accumulate rounding error, and keeping a pristine copy of every targeted linear would
    double the memory of the 3B model (the targeted linears are ~90 % of its weights,
    ~5.5 GB in bfloat16). Instead the pristine ``W0`` is re-read from the checkpoint's
    memory-mapped safetensors files, which the OS page cache keeps warm without charging
    the process, and the new task's delta is merged into it. A switch therefore costs one
    pass over the targeted weights (seconds for the 3B model, a no-op when the task does
    not change) and every task's weights are bit-for-bit what a fresh load would give.

The low-rank factors of all tasks stay on the CPU in float32 (~1 % of the model).

Cheap task switches (:meth:`TaskAdapters.overlay`):
    Alternating small calls (a ``retrieval.query``, then a ``code.query``, ...) would pay
    a full re-merge each time. For those, the merged task stays in the weights and the
    other task is applied unmerged on top, as one grouped low-rank correction per adapted
    linear: ``y = W_active x + [A_new; A_active] x`` mapped through
    ``[s B_new, -s B_active]``, i.e. ``(W0 + s B_new A_new) x`` up to float rounding
    (~1e-7 relative in float32). Two skinny matmuls of rank ``2r`` per linear cost a few
    percent of the layer, against a pass over every adapted weight for a merge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from univec.backends.local.checkpoint import (
    Checkpoint,
    backbone_key,
    open_safetensors,
    read_json,
    read_tensors,
)
from univec.errors import CheckpointError, InvalidTaskError

__all__ = ["TaskAdapters"]

_KEY = re.compile(
    r"^base_model\.model\.(?P<module>.+)\.lora_(?P<side>[AB])\.(?P<task>[^.]+)\.weight$"
)


@dataclass(frozen=True)
class _Target:
    """One adapted linear layer."""

    module: nn.Linear
    checkpoint_key: str  # where its pristine weight lives in the checkpoint
    scaling: float
    factors: dict[str, tuple[torch.Tensor, torch.Tensor]]  # task -> (A, B), float32 on CPU


class TaskAdapters:
    """The PEFT LoRA adapters of a checkpoint, applied to a model one task at a time.

    Args:
        checkpoint: The checkpoint (its ``adapters/`` directory is read, if present).
        model: The loaded :class:`~univec.backends.local.model.JinaEmbeddingsV4`.

    A checkpoint without ``adapters/`` (the vLLM variants, with one task merged in) has
    no adapters: :meth:`activate` is then a no-op for every task.
    """

    def __init__(self, checkpoint: Checkpoint, model: nn.Module) -> None:
        self.checkpoint = checkpoint
        self.active: str | None = None
        self.targets: list[_Target] = []
        # (active task, task) -> the overlay's grouped corrections (see overlay()).
        self._groups: dict[tuple[str, str], list[_OverlayGroup]] = {}
        self.tasks: tuple[str, ...] = ()
        if checkpoint.adapter_dir is not None:
            self._load(checkpoint.adapter_dir, model)

    def _load(self, adapter_dir: Path, model: nn.Module) -> None:
        config = read_json(adapter_dir / "adapter_config.json")
        if config.get("use_dora"):
            raise CheckpointError(f"{str(adapter_dir)!r} uses DoRA, which univec does not support.")
        weights_file = adapter_dir / "adapter_model.safetensors"
        if not weights_file.is_file():
            raise CheckpointError(f"{str(adapter_dir)!r} has no adapter_model.safetensors.")
        factors: dict[str, dict[str, dict[str, torch.Tensor]]] = {}
        files = _keys_of(weights_file)
        for key, tensor in read_tensors(files, list(files), "cpu"):
            match = _KEY.match(key)
            if match is None:
                continue
            sides = factors.setdefault(match["module"], {}).setdefault(match["task"], {})
            sides[match["side"]] = tensor.float()
        modules = dict(model.named_modules())
        pristine_keys = {backbone_key(key): key for key in self.checkpoint.weight_files}
        tasks: set[str] = set()
        for path, per_task in sorted(factors.items()):
            if not _is_targeted(path, config):
                continue
            name = _module_name(path)
            weight_key = _checkpoint_key(path, self.checkpoint, pristine_keys)
            module = modules.get(name)
            if not isinstance(module, nn.Linear) or weight_key is None:
                raise CheckpointError(
                    f"Adapter module {path!r} in {str(adapter_dir)!r} has no matching linear "
                    "layer in the model."
                )
            pairs = {}
            for task, sides in per_task.items():
                if set(sides) != {"A", "B"}:
                    raise CheckpointError(f"Adapter {path!r} task {task!r} lacks lora_A or lora_B.")
                pairs[task] = (sides["A"], sides["B"])
                tasks.add(task)
            rank = next(iter(pairs.values()))[0].shape[0]
            scaling = _scaling(path, rank, config)
            self.targets.append(_Target(module, weight_key, scaling, pairs))
        order = self.checkpoint.config.get("task_names") or sorted(tasks)
        self.tasks = tuple(task for task in order if task in tasks)

    def activate(self, task: str) -> None:
        """Make the model compute ``task``'s adapter (merging it from pristine weights).

        Raises:
            InvalidTaskError: The checkpoint has no adapter named ``task``.
        """
        if not self.targets or task == self.active:
            return
        if task not in self.tasks:
            raise InvalidTaskError(
                f"Checkpoint {str(self.checkpoint.path)!r} has no {task!r} adapter; it has "
                f"{list(self.tasks)}."
            )
        by_key = {target.checkpoint_key: target for target in self.targets}
        files = {self.checkpoint.weight_files[key] for key in by_key}
        # Checked before any weight changes: a replaced or deleted checkpoint fails the switch
        # and leaves the active task's weights intact and usable.
        self.checkpoint.check_unchanged(files)
        self.active = None  # a failure half-way leaves no task claimed
        with torch.no_grad():
            for key, pristine in read_tensors(self.checkpoint.weight_files, list(by_key), "cpu"):
                target = by_key[key]
                weight = target.module.weight
                lora_a, lora_b = target.factors[task]
                merged = pristine.to(weight.device, torch.float32)
                merged.addmm_(
                    lora_b.to(weight.device), lora_a.to(weight.device), alpha=target.scaling
                )
                weight.copy_(merged)
        # Replaced while being read: the weights may mix two files; no task is claimed.
        self.checkpoint.check_unchanged(files)
        self.active = task
        self._groups.clear()

    @contextmanager
    def overlay(self, task: str) -> Iterator[None]:
        """Compute ``task`` for the duration of the block without re-merging the weights.

        The active (merged) task stays in the weights; ``task``'s adapter is swapped in
        unmerged, as one grouped low-rank correction per adapted linear. Linears that read
        the same input (a layer's ``q/k/v_proj``; its ``gate/up_proj``) share one down
        projection, and each correction is added into the layer's output in place. With no
        task merged yet, or ``task`` already active, this merges (:meth:`activate`) instead.

        Raises:
            InvalidTaskError: The checkpoint has no adapter named ``task``.
        """
        if not self.targets or task == self.active or self.active is None:
            self.activate(task)
            yield
            return
        if task not in self.tasks:
            self.activate(task)  # raises InvalidTaskError
        handles = []
        try:
            for group in self._overlay_groups(self.active, task):
                for target, up, columns in group.members:
                    handle = target.module.register_forward_hook(group.hook(up, columns))
                    handles.append(handle)
            yield
        finally:
            for handle in handles:
                handle.remove()
            for group in self._groups.get((self.active, task), ()):
                group.forget()

    def _overlay_groups(self, active: str, task: str) -> list[_OverlayGroup]:
        """The corrections of ``task`` over ``active``, grouped by shared input (cached)."""
        key = (active, task)
        groups = self._groups.get(key)
        if groups is None:
            by_input: dict[str, list[_Target]] = {}
            for target in self.targets:
                by_input.setdefault(_input_group(target.checkpoint_key), []).append(target)
            groups = [_OverlayGroup.build(members, active, task) for members in by_input.values()]
            self._groups[key] = groups
        return groups


@dataclass
class _OverlayGroup:
    """Adapted linears that read one input: one shared down projection, an up per linear.

    ``down`` is ``[A_new; A_active]`` of every member side by side (``in x members * 2r``);
    member ``i``'s correction is ``(x @ down)[:, columns_i] @ up_i`` with
    ``up_i = [s B_new, -s B_active]^T``. The down product of an input is computed by the
    first member that sees it and reused by the others.
    """

    down: torch.Tensor
    members: list[tuple[_Target, torch.Tensor, slice]]
    _input: torch.Tensor | None = None
    _product: torch.Tensor | None = None

    @classmethod
    def build(cls, targets: list[_Target], active: str, task: str) -> _OverlayGroup:
        downs, members, start = [], [], 0
        for target in targets:
            weight = target.module.weight
            new_a, new_b = target.factors[task]
            old_a, old_b = target.factors[active]
            downs.append(torch.cat([new_a, old_a]))
            up = (torch.cat([new_b, -old_b], dim=1) * target.scaling).T
            width = up.shape[0]
            columns = slice(start, start + width)
            members.append((target, up.to(weight.device, weight.dtype).contiguous(), columns))
            start += width
        weight = targets[0].module.weight
        down = torch.cat(downs).T.to(weight.device, weight.dtype).contiguous()
        return cls(down, members)

    def hook(self, up: torch.Tensor, columns: slice) -> Any:
        def add_correction(
            module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor
        ) -> torch.Tensor:
            x = args[0]
            if self._input is not x:
                self._input, self._product = x, x.reshape(-1, x.shape[-1]) @ self.down
            assert self._product is not None
            low = self._product[:, columns]
            if output.is_contiguous():
                output.view(-1, output.shape[-1]).addmm_(low, up)
                return output
            return output + (low @ up).view(output.shape)

        return add_correction

    def forget(self) -> None:
        """Drop the last input and its product (they belong to a finished forward pass)."""
        self._input = self._product = None


def _input_group(checkpoint_key: str) -> str:
    """Adapted linears reading the same input share a group: a layer's q/k/v, its gate/up."""
    module = checkpoint_key.removesuffix(".weight")
    parent, _, name = module.rpartition(".")
    if name in ("q_proj", "k_proj", "v_proj"):
        return f"{parent}.qkv"
    if name in ("gate_proj", "up_proj"):
        return f"{parent}.gate_up"
    return module


def _keys_of(file: Path) -> dict[str, Path]:
    with open_safetensors(file) as handle:
        return dict.fromkeys(handle.keys(), file)


def _is_targeted(path: str, config: dict) -> bool:
    """PEFT's rule: ``target_modules`` (regex or list of suffixes), minus ``exclude_modules``."""
    exclude = config.get("exclude_modules")
    if isinstance(exclude, str) and re.fullmatch(exclude, path):
        return False
    if isinstance(exclude, list) and any(path == e or path.endswith("." + e) for e in exclude):
        return False
    target = config.get("target_modules")
    if isinstance(target, str):
        return re.fullmatch(target, path) is not None
    if isinstance(target, list):
        return any(path == t or path.endswith("." + t) for t in target)
    return True


def _scaling(path: str, rank: int, config: dict) -> float:
    alpha = float(config.get("lora_alpha", rank))
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.fullmatch(f".*\\.{pattern}$", path) or path == pattern:
            alpha = float(value)
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def _module_name(path: str) -> str:
    """The module name in our model of an adapter module path (either key naming)."""
    if path == "multi_vector_projector":
        return path
    name = backbone_key(path + ".weight")
    return "backbone." + name[: -len(".weight")] if name else path


def _checkpoint_key(
    path: str, checkpoint: Checkpoint, pristine_keys: dict[str | None, str]
) -> str | None:
    """The checkpoint key holding the pristine weight of adapter module ``path``."""
    if path == "multi_vector_projector":
        key = "multi_vector_projector.weight"
        return key if key in checkpoint.weight_files else None
    return pristine_keys.get(backbone_key(path + ".weight"))
