"""docintake: insurance documents from a presigned upload to per-user chunks and embeddings in pgvector."""

__version__ = "0.1.0"
