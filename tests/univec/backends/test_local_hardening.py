"""Local backend hardening (issue 12): incomplete and changed checkpoints."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import univec
from univec.errors import CheckpointError


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _encoder(path: Path, **options) -> univec.Encoder:
    return univec.Encoder.local(str(path), device="cpu", dtype="float32", **options)


@pytest.mark.parametrize("removed", ["adapters", "adapters/adapter_config.json"])
def test_checkpoint_without_adapters_is_refused(tiny_model_path, tmp_path, removed):
    """Item 2: what an interrupted download leaves gave un-adapted vectors, silently."""
    target = _copy(tiny_model_path, tmp_path / "partial")
    gone = target / removed
    shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
    with pytest.raises(CheckpointError, match=rf"{removed}' is missing.*merged_adapters=True"):
        _encoder(target)


def test_merged_adapters_must_be_said_explicitly_and_truly(tiny_model_path, tmp_path):
    """Item 2: ``merged_adapters=True`` accepts no adapters/, and refuses a checkpoint with them."""
    with pytest.raises(CheckpointError, match="Drop merged_adapters=True"):
        _encoder(tiny_model_path, merged_adapters=True)
    target = _copy(tiny_model_path, tmp_path / "merged")
    shutil.rmtree(target / "adapters")
    encoder = _encoder(target, merged_adapters=True)
    first = encoder.encode(["x"], "retrieval.query")
    np.testing.assert_array_equal(first, encoder.encode(["x"], "code.query"))  # no adapters
    encoder.close()


def _replace_weights(file: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = {key: value + 0.5 for key, value in load_file(file).items()}
    staged = file.with_suffix(".new")
    save_file(state, staged)
    os.replace(staged, file)  # what a re-download does


@pytest.mark.parametrize("change", ["replace", "delete"])
def test_changed_checkpoint_fails_the_switch_and_never_mixes(tiny_model_path, tmp_path, change):
    """Item 6: a task switch re-reads base weights; a changed checkpoint is detected."""
    target = _copy(tiny_model_path, tmp_path / "model")
    encoder = _encoder(target)
    before = encoder.encode(["hello"], "retrieval.query")
    if change == "replace":
        _replace_weights(target / "model.safetensors")
    else:
        shutil.rmtree(target)
    message = "was replaced or modified" if change == "replace" else "was deleted"
    for _ in range(2):
        with pytest.raises(CheckpointError, match=rf"model.safetensors' {message} after"):
            encoder.encode(["hello"], "code.query")  # another adapter: a switch
    # The task that worked keeps working, with the weights it was loaded with.
    np.testing.assert_array_equal(encoder.encode(["hello"], "retrieval.query"), before)
    encoder.close()


def _random_text(rng: np.random.Generator, words: int) -> str:
    vocabulary = [
        "cat",
        "Paris",
        "é",
        "naïve",
        "東京",
        "123456",
        "  ",
        "\n",
        "\n\n",
        "—",
        "'s",
        "x1",
    ]
    vocabulary += ["supercalifragilistic", "😀", ".", ",", "   spaced", "\t", "a" * 40]
    return " ".join(rng.choice(vocabulary, size=words).tolist())


@pytest.mark.parametrize("max_length", [1, 7, 64, 300])
def test_long_texts_are_cut_before_tokenising_with_the_exact_ids(tiny_model_path, max_length):
    """Item 16: the whole text was tokenised before truncation; the ids must not change."""
    from univec.backends.local.checkpoint import open_checkpoint
    from univec.backends.local.preprocessing import Preprocessor

    preprocessor = Preprocessor(open_checkpoint(tiny_model_path), max_length)
    rng = np.random.default_rng(max_length)
    texts = [_random_text(rng, n) for n in (1, 5, 50, 400, 3000, 20000)]
    texts += [" " * 5000 + "x", "word " * 4000, "\n" * 3000 + "end"]
    prefix = "Query: "
    got = preprocessor.texts(texts, prefix)
    tokenizer = preprocessor.tokenizer
    for text, encoded in zip(texts, got, strict=True):
        expected = tokenizer.encode(prefix + text, add_special_tokens=False).ids[:max_length]
        assert encoded.input_ids == expected


def test_a_huge_text_is_not_tokenised_whole(tiny_model_path, monkeypatch):
    """Item 16: a 5 MB text cost 26-38 s and up to 1.9 GB."""
    from univec.backends.local.checkpoint import open_checkpoint
    from univec.backends.local.preprocessing import Preprocessor

    preprocessor = Preprocessor(open_checkpoint(tiny_model_path), 8192)
    seen: list[int] = []
    original = preprocessor.tokenizer

    class Spy:
        def __getattr__(self, name):
            return getattr(original, name)

        def encode_batch(self, texts, **kwargs):
            seen.extend(len(text) for text in texts)
            return original.encode_batch(texts, **kwargs)

    preprocessor.tokenizer = Spy()
    text = _random_text(np.random.default_rng(0), 1_000_000)  # ~5 MB
    (encoded,) = preprocessor.texts([text], "Passage: ")
    assert len(encoded.input_ids) == 8192
    assert max(seen) < len(text) // 10
    window = text[: max(seen)]
    assert encoded.input_ids == original.encode("Passage: " + window).ids[:8192]
