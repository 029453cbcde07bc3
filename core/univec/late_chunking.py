"""Late chunking: chunk vectors that have seen the whole document.

``Encoder.encode(chunks, task, late_chunking=True)`` treats ``chunks`` as consecutive pieces
of one document: the document is encoded as one sequence and each chunk's vector is the mean
of the final hidden states of its own tokens (Günther et al., 2024, "Late Chunking:
Contextual Chunk Embeddings Using Long-Context Embedding Models"). The hosted API does this
server-side (``late_chunking: true``); the local backend does it itself, with these rules:

* the chunks are joined into one text (:func:`join_chunks`: a space is put between two chunks
  only where neither side already has whitespace, so chunks cut from a text by
  :func:`split_text` join back to exactly that text);
* each token belongs to the chunk whose text its first character falls in; tokens of no
  chunk are pooled into the neighbouring chunk: the task prefix (``"Passage: "``) into the
  first chunk, whitespace between chunks into the following one, anything after the last
  chunk into the last one; a chunk so short that it starts no token of its own takes the
  token that covers its first character;
* a document longer than ``max_length`` tokens is run in consecutive windows of
  ``max_length`` tokens (one forward pass each); a document within ``max_length`` is one
  forward pass.

:func:`embed_chunks` takes a whole document, splits it with a sentence or character budget,
and returns each chunk with its vector.

Example:
    >>> chunks = univec.late_chunking.embed_chunks(encoder, long_text, max_chars=500)
    >>> chunks[0].text, chunks[0].vector.shape
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from univec.errors import InvalidArgumentError, InvalidInputError

if TYPE_CHECKING:
    from univec.encoder import Encoder

__all__ = ["EmbeddedChunk", "chunk_owners", "embed_chunks", "join_chunks", "split_text"]

#: Where a sentence ends: after ., !, ?, or a CJK full stop, plus any closing quotes/brackets.
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])[\"')\]\u201d\u2019]*\s+")


@dataclass(frozen=True)
class EmbeddedChunk:
    """One chunk of a document and its late-chunked vector.

    Attributes:
        text: The chunk's text (``document[start:end]``).
        start: Offset of its first character in the document.
        end: Offset just past its last character.
        vector: Its single vector (in the precision asked for).
    """

    text: str
    start: int
    end: int
    vector: np.ndarray


def join_chunks(chunks: Sequence[str]) -> tuple[str, list[int]]:
    """The document text the chunks form, and the offset where each chunk starts in it.

    A single space is put between two chunks only where neither side has whitespace.

    Raises:
        InvalidInputError: A chunk is not a string or is empty.
    """
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for position, chunk in enumerate(chunks):
        if not isinstance(chunk, str) or not chunk:
            raise InvalidInputError(
                f"Late chunking needs non-empty text chunks; chunk {position} is {chunk!r}. "
                "Drop empty chunks before encoding."
            )
        if parts and not parts[-1][-1:].isspace() and not chunk[:1].isspace():
            parts.append(" ")
            length += 1
        starts.append(length)
        parts.append(chunk)
        length += len(chunk)
    return "".join(parts), starts


def chunk_owners(
    offsets: Sequence[tuple[int, int]], starts: Sequence[int], prefix_length: int
) -> list[list[int]]:
    """The token positions pooled into each chunk (the rules in the module docs).

    Args:
        offsets: ``(start, end)`` character offsets of each token in ``prefix + document``.
        starts: Where each chunk starts in the document (from :func:`join_chunks`).
        prefix_length: Characters of the task prefix in front of the document.

    Returns:
        One list of token positions per chunk; none is empty when ``offsets`` is not.
    """
    boundaries = [0] + [prefix_length + start for start in starts[1:]]
    owners: list[list[int]] = [[] for _ in starts]
    for token, (begin, _) in enumerate(offsets):
        owners[max(0, bisect.bisect_right(boundaries, begin) - 1)].append(token)
    for chunk, tokens in enumerate(owners):
        if tokens or not offsets:
            continue
        first = prefix_length + starts[chunk]
        covering = [t for t, (begin, end) in enumerate(offsets) if begin <= first < end]
        before = [t for t, (begin, _) in enumerate(offsets) if begin <= first]
        owners[chunk] = covering[:1] or before[-1:] or [0]
    return owners


def split_text(
    text: str, *, max_chars: int = 1000, by: Literal["sentence", "character"] = "sentence"
) -> list[tuple[int, int]]:
    """Cut ``text`` into consecutive ``(start, end)`` spans of at most ``max_chars`` characters.

    ``by="sentence"`` packs whole sentences while they fit (a longer sentence is cut at
    whitespace); ``by="character"`` cuts at the last whitespace before the budget. The spans
    cover the text exactly, whitespace included, so the chunks join back to ``text``.

    Raises:
        InvalidArgumentError: ``max_chars`` is not a positive integer, or ``by`` is unknown.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise InvalidArgumentError(f"max_chars={max_chars!r} must be a positive integer.")
    if by not in ("sentence", "character"):
        raise InvalidArgumentError(f"by={by!r} is not a chunker; use 'sentence' or 'character'.")
    if by == "character":
        return _cut(text, 0, len(text), max_chars)
    sentence_ends = [match.end() for match in _SENTENCE_END.finditer(text)] + [len(text)]
    spans: list[tuple[int, int]] = []
    start = previous = 0
    for end in sentence_ends:
        if end - start > max_chars and previous > start:
            spans.append((start, previous))
            start = previous
        if end - start > max_chars:
            pieces = _cut(text, start, end, max_chars)
            spans.extend(pieces[:-1])
            start = pieces[-1][0]
        previous = end
    if start < len(text):
        spans.append((start, len(text)))
    return [span for span in spans if span[1] > span[0]]


def embed_chunks(
    encoder: Encoder,
    document: str,
    task: str = "retrieval.passage",
    *,
    max_chars: int = 1000,
    by: Literal["sentence", "character"] = "sentence",
    dimensions: int | None = None,
    precision: str = "float32",
) -> list[EmbeddedChunk]:
    """Split ``document`` with :func:`split_text` and late-chunk it with ``encoder``.

    Whitespace-only chunks are merged into the previous chunk.

    Returns:
        The chunks in document order, each with its vector.
    """
    spans = _merge_blank(document, split_text(document, max_chars=max_chars, by=by))
    if not spans:
        return []
    texts = [document[start:end] for start, end in spans]
    vectors = encoder.encode(
        texts, task, dimensions=dimensions, precision=precision, late_chunking=True
    )
    return [
        EmbeddedChunk(text, start, end, vectors[i])
        for i, (text, (start, end)) in enumerate(zip(texts, spans, strict=True))
    ]


def _cut(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """``text[start:end]`` in pieces of at most ``max_chars``, cut after whitespace if any."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t")) + 1
        cut = cut if cut > 0 else max_chars
        pieces.append((start, start + cut))
        start += cut
    pieces.append((start, end))
    return pieces


def _merge_blank(document: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and not document[start:end].strip():
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    if merged and not document[merged[0][0] : merged[0][1]].strip():
        return [] if len(merged) == 1 else [(merged[0][0], merged[1][1]), *merged[2:]]
    return merged
