"""bench/store: writing chunks + vectors through docintake's write path (chunk rows, then vectors in the
model's own table, migration 0012) against a superuser's plain binary COPY, ``executemany`` and the peers'
store paths (LangChain's PGVector, LlamaIndex's PGVectorStore), and per-user exact search latency (issue 5,
item 5; issue 15, items 5 and 7).

``python -m bench.store`` (``make bench-store``) writes 10,000 chunks with vectors at 384 and 1536 dimensions
each way (``bench.store.write``, ``bench.store.peers``), then loads 200,000 chunks and their vectors and
times 200 exact searches by one user who owns 5,000 of them (``bench.store.search``); it prints a Markdown
report with the target ratios and writes it to ``bench/out/store.md``.
"""
