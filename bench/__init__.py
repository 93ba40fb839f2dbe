"""Benchmarks of docintake against peer libraries; each subpackage is one benchmark (``python -m bench.NAME``)."""
