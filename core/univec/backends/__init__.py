"""Encoder backends: ``local`` (PyTorch) and ``api`` (hosted Jina API)."""
