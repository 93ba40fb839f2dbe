"""bench/store: writing chunks + embeddings through docintake's write path against plain binary COPY and
``executemany``, and per-user exact search latency (issue 5, item 5).

``python -m bench.store`` (``make bench-store``) writes 20,000 chunks with vectors at 384 and 1536 dimensions
each way into fresh clones of the migrated template (``bench.store.write``), then loads 200,000 chunks, builds
the migrations' HNSW index and times 200 searches by one user who owns 5,000 of them (``bench.store.search``);
it prints a Markdown report with the target ratios and writes it to ``bench/out/store.md``.
"""
