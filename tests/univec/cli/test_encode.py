"""``univec encode``: the output equals ``Encoder.encode``; interrupted runs resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import univec
from tests.conftest import FIXTURES
from univec.cli import main
from univec.cli.bulk_encode import encode_file

TEXTS = [f"line {i}: a sentence about topic {i % 4}" for i in range(11)]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_txt_to_npy_equals_encoder_encode(tmp_path, counting, tiny_encoder):
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "vectors.npy"
    result = invoke("encode", str(source), "--out", str(out), "--task", "retrieval.query",
                    "--dimensions", "32", "--chunk-size", "4")  # fmt: skip
    assert result.exit_code == 0 and "11 inputs encoded" in result.output
    want = tiny_encoder.encode(TEXTS, task="retrieval.query", dimensions=32)
    np.testing.assert_allclose(np.load(out), want, atol=1e-6)
    assert [len(call) for call in counting.calls] == [4, 4, 3]  # bounded chunks
    assert not list(tmp_path.glob("*.progress.json"))
    again = CliRunner().invoke(main, ["encode", str(source), "--out", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_jsonl_with_images_to_parquet(tmp_path, counting, tiny_encoder):
    pq = pytest.importorskip("pyarrow.parquet")
    image = FIXTURES / "golden" / "golden_images" / "1.png"
    lines = [json.dumps(TEXTS[0]), json.dumps({"text": TEXTS[1]}), "",
             json.dumps({"image": str(image)})]  # fmt: skip
    source = tmp_path / "inputs.jsonl"
    source.write_text("\n".join(lines))
    inputs = [TEXTS[0], TEXTS[1], univec.Image(image)]
    dense_out, multi_out = tmp_path / "dense.parquet", tmp_path / "multi.parquet"
    assert (
        invoke("encode", str(source), "--out", str(dense_out), "--chunk-size", "2").exit_code == 0
    )
    table = pq.read_table(dense_out)
    assert table.column("row").to_pylist() == [0, 1, 2]
    got = np.array(table.column("embedding").to_pylist(), np.float32)
    np.testing.assert_allclose(got, tiny_encoder.encode(inputs, "retrieval.passage"), atol=1e-6)

    result = invoke("encode", str(source), "--out", str(multi_out), "--multivector",
                    "--task", "code.query")  # fmt: skip
    assert result.exit_code == 0
    stored = pq.read_table(multi_out).column("embedding").to_pylist()
    want = tiny_encoder.encode(inputs, "code.query", multivector=True)
    for rows, expected in zip(stored, want, strict=True):
        np.testing.assert_allclose(np.array(rows, np.float32), expected, atol=1e-6)
    assert not (tmp_path / "multi.parquet.parts").exists()


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, tiny_encoder, suffix):
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS))
    out = tmp_path / f"vectors{suffix}"

    def stop_after_two_chunks(done: int) -> None:
        if done >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        encode_file(tiny_encoder, source, out, task="text-matching", chunk_size=3,
                    progress=False, on_chunk=stop_after_two_chunks)  # fmt: skip
    progress = json.loads(out.with_name(out.name + ".progress.json").read_text())
    assert progress["done"] == 6
    calls: list[int] = []
    encode = tiny_encoder.encode

    class Counting:
        info = tiny_encoder.info

        def encode(self, items, *args, **kwargs):
            calls.append(len(items))
            return encode(items, *args, **kwargs)

    encode_file(Counting(), source, out, task="text-matching", chunk_size=3, progress=False)
    assert calls == [3, 2]  # only what was left
    if suffix == ".npy":
        got = np.load(out)
    else:
        import pyarrow.parquet as pq

        got = np.array(pq.read_table(out).column("embedding").to_pylist(), np.float32)
    np.testing.assert_allclose(got, tiny_encoder.encode(TEXTS, "text-matching"), atol=1e-6)


def test_wrong_outputs_are_refused(tmp_path, counting):
    source = tmp_path / "texts.txt"
    source.write_text("a\nb\n")
    multi = CliRunner().invoke(
        main, ["encode", str(source), "--out", str(tmp_path / "m.npy"), "--multivector"]
    )
    assert multi.exit_code == 1 and ".parquet" in multi.output
    csv = CliRunner().invoke(main, ["encode", str(source), "--out", str(tmp_path / "m.csv")])
    assert csv.exit_code == 1 and ".npy or a .parquet" in csv.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"colour": "red"}\n')
    refused = CliRunner().invoke(main, ["encode", str(bad), "--out", str(tmp_path / "b.npy")])
    assert refused.exit_code == 1 and "bad.jsonl:1" in refused.output
