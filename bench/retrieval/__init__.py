"""bench/retrieval: can a user find the answer? docintake's search (hybrid, vector, keyword, with and without the
insurance glossary) against LangChain and LlamaIndex on the same embedder and PostgreSQL, over 157 located
questions on generated policies and public-domain NFIP flood forms, asked literally and in a lay user's words.

``python -m bench.retrieval`` (``make bench-retrieval``) writes ``bench/out/retrieval.md`` and ``.json``.
"""
