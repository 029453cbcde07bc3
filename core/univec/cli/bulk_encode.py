"""Bulk encoding of a file of inputs into ``.npy`` or ``.parquet`` (``univec encode``).

Inputs stream through in chunks (bounded memory whatever the file's size). Progress is kept in
``<out>.progress.json`` beside the output: ``.npy`` rows are written into a memory-mapped file
of the final shape, ``.parquet`` chunks into ``<out>.parts/``; a run that stops (killed,
interrupted, failed) resumes from the last finished chunk when run again with the same
arguments, and the sidecar files go away once the output is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from univec.errors import ConfigurationError, InvalidInputError
from univec.inputs import Image

__all__ = ["encode_file", "read_inputs"]

DEFAULT_CHUNK = 256


def read_inputs(path: Path) -> Iterator[str | Image]:
    """The inputs of a ``.txt`` file (one text per line) or a ``.jsonl`` file (one per line: a
    string, ``{"text": ...}`` or ``{"image": <path or URL>}``; blank lines are skipped).

    Raises:
        InvalidInputError: A ``.jsonl`` line is not one of those forms.
        ConfigurationError: The suffix is neither ``.txt`` nor ``.jsonl``.
    """
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".jsonl"):
        raise ConfigurationError(
            f"{str(path)!r}: univec encode reads .txt (one text per line) or .jsonl files."
        )
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            line = line.rstrip("\r\n")
            if suffix == ".txt":
                yield line
                continue
            if not line.strip():
                continue
            yield _jsonl_item(line, path, number)


def _jsonl_item(line: str, path: Path, number: int) -> str | Image:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise InvalidInputError(f"{path}:{number} is not valid JSON ({exc}).") from exc
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("text"), str) and len(value) == 1:
        return value["text"]
    if isinstance(value, dict) and isinstance(value.get("image"), str) and len(value) == 1:
        source = value["image"]
        if "://" in source:
            return Image(source)
        image_path = Path(source)
        return Image(image_path if image_path.is_absolute() else path.parent / image_path)
    raise InvalidInputError(
        f'{path}:{number} must be a JSON string, {{"text": ...}} or {{"image": <path or URL>}}}}.'
    )


def encode_file(
    encoder: Any,
    source: Path,
    out: Path,
    *,
    task: str,
    multivector: bool = False,
    dimensions: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    overwrite: bool = False,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Encode every input of ``source`` into ``out``; resume an interrupted run. Returns rows.

    Raises:
        ConfigurationError: Bad suffixes, ``--multivector`` into ``.npy``, or ``out`` exists
            from another job (pass ``overwrite``).
    """
    from tqdm.auto import tqdm

    fmt = out.suffix.lower()
    if fmt not in (".npy", ".parquet"):
        raise ConfigurationError(f"--out {str(out)!r}: write a .npy or a .parquet file.")
    if multivector and fmt == ".npy":
        raise ConfigurationError(
            "Multi-vectors have a different number of rows per input and do not fit one .npy "
            "array: write them to a .parquet file."
        )
    rows = sum(1 for _ in read_inputs(source))
    if rows == 0:
        raise InvalidInputError(f"{str(source)!r} holds no inputs; nothing to encode.")
    job = {
        "input": str(source.resolve()),
        "input_sha256": _file_digest(source),
        "task": task,
        "multivector": multivector,
        "dimensions": dimensions,
        "chunk_size": chunk_size,
        "model": encoder.info.name,
        "rows": rows,
    }
    progress_file = out.with_name(out.name + ".progress.json")
    parts = out.with_name(out.name + ".parts")
    done = _resume_point(job, progress_file, out, overwrite)
    if done == 0:
        shutil.rmtree(parts, ignore_errors=True)
    dim = dimensions or encoder.info.dim
    matrix = None
    if fmt == ".npy":
        mode = "r+" if done else "w+"
        matrix = np.lib.format.open_memmap(out, mode=mode, dtype=np.float32, shape=(rows, dim))
    _save_progress(progress_file, job, done)
    bar = tqdm(total=rows, initial=done, desc="Encoding", unit="input", disable=not progress)
    try:
        for start, chunk in _chunks(read_inputs(source), chunk_size, skip=done):
            if multivector:
                tokens = encoder.encode(chunk, task, multivector=True)
                _write_part(parts, start, tokens, multivector=True)
            else:
                vectors = encoder.encode(chunk, task, dimensions=dimensions)
                if matrix is not None:
                    matrix[start : start + len(chunk)] = vectors
                    matrix.flush()
                else:
                    _write_part(parts, start, vectors, multivector=False)
            done = start + len(chunk)
            _save_progress(progress_file, job, done)
            bar.update(len(chunk))
            if on_chunk is not None:
                on_chunk(done)
    finally:
        bar.close()
        del matrix
    if fmt == ".parquet":
        _merge_parts(parts, out)
        shutil.rmtree(parts, ignore_errors=True)
    progress_file.unlink(missing_ok=True)
    return rows


def _resume_point(job: dict[str, Any], progress_file: Path, out: Path, overwrite: bool) -> int:
    if progress_file.is_file():
        try:
            saved = json.loads(progress_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        if saved.get("job") == job and not overwrite:
            return int(saved.get("done", 0))
        if not overwrite:
            raise ConfigurationError(
                f"{str(out)!r} holds an unfinished job with other arguments or input. Run that "
                "job again to finish it, or pass --overwrite to start this one."
            )
    elif out.exists() and not overwrite:
        raise ConfigurationError(f"{str(out)!r} exists; pass --overwrite to replace it.")
    return 0


def _save_progress(path: Path, job: dict[str, Any], done: int) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"job": job, "done": done}), encoding="utf-8")
    os.replace(temporary, path)


def _chunks(
    items: Iterator[str | Image], size: int, *, skip: int
) -> Iterator[tuple[int, list[str | Image]]]:
    chunk: list[str | Image] = []
    start = 0
    for position, item in enumerate(items):
        if position >= skip:
            if not chunk:
                start = position
            chunk.append(item)
            if len(chunk) == size:
                yield start, chunk
                chunk = []
    if chunk:
        yield start, chunk


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _table(start: int, vectors: Any, multivector: bool) -> Any:
    import pyarrow as pa

    if multivector:
        matrices = [np.asarray(m, np.float32) for m in vectors]
        width = matrices[0].shape[1] if matrices else 128
        flat = np.concatenate(matrices).ravel() if matrices else np.zeros(0, np.float32)
        inner = pa.FixedSizeListArray.from_arrays(pa.array(flat), width)
        offsets = np.concatenate([[0], np.cumsum([len(m) for m in matrices])]).astype(np.int32)
        column = pa.ListArray.from_arrays(pa.array(offsets), inner)
        count = len(matrices)
    else:
        dense = np.asarray(vectors, np.float32)
        column = pa.FixedSizeListArray.from_arrays(pa.array(dense.ravel()), dense.shape[1])
        count = len(dense)
    rows = pa.array(np.arange(start, start + count, dtype=np.int64))
    return pa.table({"row": rows, "embedding": column})


def _write_part(parts: Path, start: int, vectors: Any, *, multivector: bool) -> None:
    from univec._optional import require

    require("pyarrow", "parquet")
    import pyarrow.parquet as pq

    parts.mkdir(parents=True, exist_ok=True)
    final = parts / f"part-{start:012d}.parquet"
    temporary = final.with_suffix(".tmp")
    pq.write_table(_table(start, vectors, multivector), temporary)
    os.replace(temporary, final)


def _merge_parts(parts: Path, out: Path) -> None:
    import pyarrow.parquet as pq

    files = sorted(parts.glob("part-*.parquet"))
    temporary = out.with_name(out.name + ".tmp")
    writer = None
    try:
        for file in files:  # one part in memory at a time
            table = pq.read_table(file)
            if writer is None:
                writer = pq.ParquetWriter(temporary, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InvalidInputError("The input file holds no inputs; nothing was written.")
    os.replace(temporary, out)
