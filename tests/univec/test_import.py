"""``import univec`` stays light: no torch, transformers, httpx or frameworks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "torch",
    "transformers",
    "httpx",
    "safetensors",
    "PIL",
    "huggingface_hub",
    "tokenizers",
    "qdrant_client",
    "pymilvus",
    "langchain_core",
    "llama_index",
    "haystack",
    "pypdfium2",
]


def _loaded_after(code: str) -> list[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    modules = json.loads(output.strip().splitlines()[-1])
    return [name for name in HEAVY if name in modules]


def test_import_univec_is_light():
    assert _loaded_after("import univec") == []


def test_public_names_resolve_without_heavy_imports():
    code = (
        "import univec\n"
        "univec.Encoder, univec.Image, univec.errors.UnivecError, univec.TASKS\n"
        "univec.resolve_task('retrieval.query')\n"
        "univec.Image(b'not decoded yet')\n"
        "import univec.backends.base, univec.inputs, univec.tasks, univec.scoring"
    )
    assert _loaded_after(code) == []


def test_local_backend_imports_torch_only_when_used():
    from tests.conftest import TINY_MODEL

    assert _loaded_after("import univec.backends.local") == []
    loaded = _loaded_after(
        f"import univec\nunivec.Encoder.local({str(TINY_MODEL)!r}, device='cpu')"
    )
    assert "torch" in loaded and "transformers" in loaded


def test_heavy_list_is_importable_here():
    # Guards the test above: a typo in HEAVY would make it pass vacuously.
    for name in ("torch", "transformers", "httpx"):
        subprocess.run([sys.executable, "-c", f"import {name}"], check=True)
    assert json.dumps(HEAVY)


BLOCKER = """
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"No module named {{name!r}} (blocked by the test)")
        return None
sys.meta_path.insert(0, Blocker())
"""


@pytest.mark.parametrize(
    ("integration", "blocked", "extra"),
    [
        ("langchain_univec", ["langchain_core"], "langchain"),
        ("llama_index.embeddings.univec", ["llama_index.core"], "llamaindex"),
        ("haystack_integrations.components.embedders.univec", ["haystack"], "haystack"),
        ("univec_qdrant", ["qdrant_client", "qdrant_edge"], "qdrant"),
        ("univec_milvus", ["pymilvus"], "milvus"),
    ],
)
def test_an_integration_without_its_extra_names_the_install_line(integration, blocked, extra):
    roots = sorted({name.split(".")[0] for name in blocked})
    if "llama_index" in roots:  # block only llama_index.core, not our own namespace portion
        code = (
            BLOCKER.replace("name.split('.')[0]", "name")
            .replace('name.split(".")[0]', "name")
            .format(blocked=set(blocked))
        )
    else:
        code = BLOCKER.format(blocked=set(roots))
    done = subprocess.run(
        [sys.executable, "-c", code + f"\nimport {integration}\n"], capture_output=True, text=True
    )
    assert done.returncode != 0
    assert f'pip install "univec[{extra}]"' in done.stderr, done.stderr
    assert "MissingDependencyError" in done.stderr  # an ImportError subclass
