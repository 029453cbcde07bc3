"""Integrations of univec with frameworks (LangChain, LlamaIndex, Haystack) and databases
(Qdrant, Milvus). Each lives in ``univec.integrations.<name>`` and needs its extra."""
