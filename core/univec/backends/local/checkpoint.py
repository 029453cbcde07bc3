"""Find a jina-embeddings-v4 checkpoint and read its config and weights.

Accepts a local directory or a Hugging Face hub id, weights in one ``model.safetensors``
or sharded with ``model.safetensors.index.json``, and both key namings of Qwen2.5-VL
checkpoints: ``model.language_model.*`` / ``model.visual.*`` (transformers >= 4.52) and the
older ``model.layers.*`` / ``visual.*``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from univec._optional import require
from univec.errors import CheckpointError

__all__ = ["Checkpoint", "backbone_key", "check_adapters", "open_checkpoint"]

#: Files a download needs: config, weights, tokenizer, image processor, adapters.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "adapters/*"]
#: Largest image area the model was trained with (768 image tokens).
MAX_PIXELS = 602112


@dataclass(frozen=True)
class Checkpoint:
    """A resolved checkpoint directory and what its ``config.json`` says.

    Attributes:
        path: The checkpoint directory.
        config: The raw ``config.json``.
        weight_files: Map from the checkpoint's weight key to the safetensors file holding it.
        file_signatures: Identity (device, inode, size, mtime) of each weight file when it was
            opened; :meth:`check_unchanged` compares the files on disk with it.
    """

    path: Path
    config: dict[str, Any]
    weight_files: dict[str, Path]
    file_signatures: dict[Path, tuple[int, ...]] = field(default_factory=dict)

    @property
    def text_config(self) -> dict[str, Any]:
        """The language model's config (top level for old flat configs)."""
        return self.config.get("text_config") or self.config

    @property
    def hidden_size(self) -> int:
        """Width of the language model, i.e. of the full single vector."""
        return int(self.text_config["hidden_size"])

    @property
    def matryoshka_dims(self) -> tuple[int, ...]:
        """Dimensions single vectors may be truncated to (``config.matryoshka_dims``)."""
        dims = self.config.get("matryoshka_dims") or [self.hidden_size]
        return tuple(sorted(int(dim) for dim in dims))

    @property
    def multivector_dim(self) -> int:
        """Width of a token vector (``config.multi_vector_projector_dim``)."""
        return int(self.config.get("multi_vector_projector_dim") or 128)

    @property
    def has_projector(self) -> bool:
        """Whether the checkpoint carries the multi-vector projector (vLLM variants do not)."""
        return "multi_vector_projector.weight" in self.weight_files

    @property
    def adapter_dir(self) -> Path | None:
        """The PEFT adapter directory, or ``None`` for checkpoints with the LoRA merged in."""
        adapters = self.path / "adapters"
        return adapters if (adapters / "adapter_config.json").is_file() else None

    def check_unchanged(self, files: Iterable[Path] | None = None) -> None:
        """Raise :class:`CheckpointError` if a weight file was replaced or deleted since opening.

        Task switches re-read pristine weights from these files: reading a replaced file
        would silently mix two sets of weights.
        """
        for file in files if files is not None else self.file_signatures:
            expected = self.file_signatures.get(file)
            if expected is None:
                continue
            try:
                current = file_signature(file)
            except OSError:
                current = None
            if current != expected:
                what = "was deleted" if current is None else "was replaced or modified"
                raise CheckpointError(
                    f"{str(file)!r} {what} after the model was loaded from it; univec reads "
                    "it again on task switches and will not mix two sets of weights. Restore "
                    "the checkpoint, or create a new encoder to load the new one."
                )

    def token_id(self, name: str) -> int:
        """A special token id from the config, e.g. ``"image_token_id"``."""
        value = self.config.get(name)
        if value is None:
            raise CheckpointError(f"{self.path / 'config.json'} has no {name!r}.")
        return int(value)

    def image_processor_config(self) -> dict[str, Any]:
        """``preprocessor_config.json`` with ``max_pixels`` capped to the trained 602112."""
        file = self.path / "preprocessor_config.json"
        config = json.loads(file.read_text()) if file.is_file() else {}
        size: dict[str, Any] = dict(config.get("size") or {})
        min_pixels = int(config.get("min_pixels", size.get("shortest_edge", 3136)))
        max_pixels = int(config.get("max_pixels", size.get("longest_edge", MAX_PIXELS)))
        max_pixels = min(max_pixels, MAX_PIXELS)
        config["min_pixels"], config["max_pixels"] = min_pixels, max_pixels
        config["size"] = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
        for key in ("processor_class", "auto_map", "image_processor_type", "video_processor_type"):
            config.pop(key, None)
        return config


def resolve_path(model: str | Path, revision: str | None = None) -> Path:
    """A local checkpoint directory for ``model`` (a directory or a hub id, downloaded once)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if path.exists() or str(model).startswith((".", "/", "~")) or str(model).count("/") != 1:
        raise CheckpointError(
            f"Model {str(model)!r} is neither a checkpoint directory nor a Hugging Face hub id "
            "like 'jinaai/jina-embeddings-v4'."
        )
    hub = require("huggingface_hub", "local")
    try:
        return Path(
            hub.snapshot_download(str(model), revision=revision, allow_patterns=HUB_PATTERNS)
        )
    except Exception as exc:  # network, auth and not-found errors have many types
        raise CheckpointError(
            f"Cannot download {str(model)!r} from the Hugging Face hub ({type(exc).__name__}: "
            f"{exc}). Check the id and your connection, or pass a local directory."
        ) from exc


def open_checkpoint(model: str | Path, revision: str | None = None) -> Checkpoint:
    """Resolve ``model`` and index its config and weight files.

    Raises:
        CheckpointError: No ``config.json``, no weights, or a broken shard index.
    """
    path = resolve_path(model, revision)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{str(path)!r} has no config.json; is it a model checkpoint?")
    config = json.loads(config_file.read_text())
    weight_files = _index_weights(path)
    signatures = {file: file_signature(file) for file in set(weight_files.values())}
    return Checkpoint(
        path=path, config=config, weight_files=weight_files, file_signatures=signatures
    )


def check_adapters(checkpoint: Checkpoint, *, merged_adapters: bool) -> None:
    """Refuse a checkpoint whose task adapters are missing, unless told they are merged in.

    A download interrupted before ``adapters/`` leaves a checkpoint that loads and encodes
    every task without its LoRA adapter: vectors that look fine and are wrong.

    Raises:
        CheckpointError: ``adapters/adapter_config.json`` is missing (and ``merged_adapters``
            is false), or present although ``merged_adapters`` is true.
    """
    config_file = checkpoint.path / "adapters" / "adapter_config.json"
    if merged_adapters:
        if config_file.is_file():
            raise CheckpointError(
                f"{str(checkpoint.path)!r} has task adapters ({str(config_file)!r}), but "
                "merged_adapters=True says it has none. Drop merged_adapters=True."
            )
        return
    if not config_file.is_file():
        missing = config_file if config_file.parent.is_dir() else config_file.parent
        raise CheckpointError(
            f"{str(missing)!r} is missing: the checkpoint at {str(checkpoint.path)!r} has no "
            "task adapters (an interrupted download?), so every task would give un-adapted "
            "vectors. Download it again (all of adapters/), or pass merged_adapters=True for "
            "a checkpoint with the adapter merged into its weights (the vLLM variants)."
        )


def file_signature(file: Path) -> tuple[int, ...]:
    """What identifies one version of a file: device, inode, size, modification time."""
    status = file.stat()
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _index_weights(path: Path) -> dict[str, Path]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text()).get("weight_map") or {}
        files = {key: path / name for key, name in weight_map.items()}
        missing = sorted({str(file) for file in files.values() if not file.is_file()})
        if missing:
            raise CheckpointError(f"{str(index)!r} names missing shard files: {missing}.")
        return files
    safetensors = require("safetensors", "local")
    shards = sorted(path.glob("model*.safetensors"))
    if not shards:
        raise CheckpointError(
            f"{str(path)!r} has no model*.safetensors weights (only safetensors are loaded)."
        )
    files = {}
    for shard in shards:
        with safetensors.safe_open(str(shard), framework="pt") as handle:
            files.update(dict.fromkeys(handle.keys(), shard))
    return files


def backbone_key(key: str) -> str | None:
    """The ``Qwen2_5_VLModel`` parameter name of a checkpoint key, or ``None`` to skip it.

    ``model.language_model.x`` / ``model.layers.x`` become ``language_model.x`` /
    ``language_model.layers.x``; ``model.visual.x`` / ``visual.x`` become ``visual.x``; the LM
    head and the projector are not part of the backbone.
    """
    for prefix, target in (
        ("model.language_model.", "language_model."),
        ("model.visual.", "visual."),
        ("visual.", "visual."),
        ("language_model.", "language_model."),
        ("model.", "language_model."),
    ):
        if key.startswith(prefix):
            return target + key[len(prefix) :]
    return None


def read_tensors(files: dict[str, Path], keys: list[str], device: Any) -> Iterator[tuple[str, Any]]:
    """Yield ``(key, tensor)`` for ``keys``, opening each safetensors file once (memory-mapped)."""
    safetensors = require("safetensors", "local")
    by_file: dict[Path, list[str]] = {}
    for key in keys:
        by_file.setdefault(files[key], []).append(key)
    for file, file_keys in by_file.items():
        with safetensors.safe_open(str(file), framework="pt", device=str(device)) as handle:
            for key in file_keys:
                yield key, handle.get_tensor(key)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings about the checkpoint's extra config keys."""
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
