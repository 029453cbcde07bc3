"""The local backend reproduces the reference outputs (golden.npz) to 1e-4 in float32."""

from __future__ import annotations

import random

import numpy as np
import pytest

import univec

TOLERANCE = 1e-4
TEXT_TASKS = ["retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage"]
IMAGE_TASKS = ["retrieval.passage", "text-matching", "code.passage"]


def _inputs(golden, kind: str) -> list:
    return list(golden["texts"]) if kind == "text" else [univec.Image(p) for p in golden["images"]]


def _expected_single(golden, kind: str, task: str, dim: int | None) -> np.ndarray:
    suffix = f"@{dim}" if dim else ""
    return golden["arrays"][f"{kind}|{task}|single{suffix}"]


def _expected_multi(golden, kind: str, task: str, count: int) -> list[np.ndarray]:
    return [golden["arrays"][f"{kind}|{task}|multi|{i}"] for i in range(count)]


def _assert_close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.dtype == np.float32, what
    assert actual.shape == expected.shape, f"{what}: {actual.shape} != {expected.shape}"
    diff = float(np.abs(actual - expected).max()) if expected.size else 0.0
    assert diff <= TOLERANCE, f"{what}: max abs diff {diff:.2e}"


def test_every_golden_key_is_checked(golden):
    checked = set()
    for kind, tasks, count in (("text", TEXT_TASKS, 4), ("image", IMAGE_TASKS, 2)):
        for task in tasks:
            checked.add(f"{kind}|{task}|single")
            checked.update(f"{kind}|{task}|multi|{i}" for i in range(count))
    dims = {key.split("@")[1] for key in golden["arrays"] if "@" in key}
    for key in golden["arrays"]:
        if "@" in key:
            checked.add(key)
    assert set(golden["arrays"]) == checked
    assert dims == {"16", "32"}


@pytest.mark.parametrize(
    ("kind", "task"),
    [("text", task) for task in TEXT_TASKS] + [("image", task) for task in IMAGE_TASKS],
)
def test_golden_single_and_matryoshka(tiny_encoder, golden, kind, task):
    inputs = _inputs(golden, kind)
    _assert_close(
        tiny_encoder.encode(inputs, task), _expected_single(golden, kind, task, None), task
    )
    for key in golden["arrays"]:
        if key.startswith(f"{kind}|{task}|single@"):
            dim = int(key.split("@")[1])
            actual = tiny_encoder.encode(inputs, task, dimensions=dim)
            _assert_close(actual, golden["arrays"][key], key)


@pytest.mark.parametrize(
    ("kind", "task"),
    [("text", task) for task in TEXT_TASKS] + [("image", task) for task in IMAGE_TASKS],
)
def test_golden_multivector(tiny_encoder, golden, kind, task):
    inputs = _inputs(golden, kind)
    actual = tiny_encoder.encode(inputs, task, multivector=True)
    expected = _expected_multi(golden, kind, task, len(inputs))
    assert isinstance(actual, list) and len(actual) == len(expected)
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        _assert_close(got, want, f"{kind}|{task}|multi|{i}")


@pytest.mark.parametrize(
    ("kind", "task"),
    [("text", task) for task in TEXT_TASKS] + [("image", task) for task in IMAGE_TASKS],
)
def test_golden_batch_size_one(tiny_encoder, golden, kind, task):
    inputs = _inputs(golden, kind)
    expected = _expected_single(golden, kind, task, None)
    multi = _expected_multi(golden, kind, task, len(inputs))
    for i, item in enumerate(inputs):
        both = tiny_encoder.encode_both([item], task)
        _assert_close(both.dense[0], expected[i], f"{kind}|{task}|single[{i}] alone")
        _assert_close(both.multi[0], multi[i], f"{kind}|{task}|multi|{i} alone")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_golden_mixed_shuffled_batches(tiny_encoder, golden, seed):
    """Text and images mixed in one call, shuffled, duplicated: every row matches."""
    task = "retrieval.passage"
    pool = [("text", i, t) for i, t in enumerate(_inputs(golden, "text"))]
    pool += [("image", i, im) for i, im in enumerate(_inputs(golden, "image"))]
    pool = pool * 2
    random.Random(seed).shuffle(pool)
    both = tiny_encoder.encode_both([item for _, _, item in pool], task)
    assert both.dense.shape == (len(pool), 64)
    for row, (kind, i, _) in enumerate(pool):
        _assert_close(both.dense[row], _expected_single(golden, kind, task, None)[i], f"row {row}")
        _assert_close(both.multi[row], golden["arrays"][f"{kind}|{task}|multi|{i}"], f"row {row}")


def test_golden_with_tiny_token_budget(tiny_model_path, golden):
    """Packing by a small token budget (many batches, different padding) changes nothing."""
    encoder = univec.Encoder.local(
        str(tiny_model_path), device="cpu", dtype="float32", token_budget=20
    )
    inputs = _inputs(golden, "text") + _inputs(golden, "image")
    got = encoder.encode(inputs, "code.passage")
    want = np.concatenate(
        [_expected_single(golden, k, "code.passage", None) for k in ("text", "image")]
    )
    _assert_close(got, want, "token_budget=20")
