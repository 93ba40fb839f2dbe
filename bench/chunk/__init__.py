"""bench/chunk: docintake's chunker against LangChain's text splitters, semchunk and chonkie (issue 4, item 7).

``python -m bench.chunk`` (``make bench-chunk``) chunks about 1 MB and 8 MB of synthetic policy Markdown with
every splitter at the same settings (1000 characters, 200 of overlap), in one process, and reports MB/s, chunk
counts and how each scales from 1 MB to 8 MB; it prints a Markdown table and the target ratios and writes
them to ``bench/out/chunk.md``.
"""
