-- An HNSW index for the default model's vectors. Per model and dimension: a partial expression index, so
-- models of other sizes can live beside it during a re-embed (`docintake reembed` creates theirs).
-- Per-user search deliberately does not use it (see search_chunks in queries.sql): pgvector 0.6 filters
-- after the index scan, so a user with few chunks among many would get fewer than k results.
SET LOCAL ROLE docintake_owner;

CREATE INDEX document_chunks_hnsw_docintake_hash_v1_384 ON document_chunks
    USING hnsw ((embedding::vector(384)) vector_cosine_ops)
    WHERE embedding_model = 'docintake-hash-v1' AND embedding_dimensions = 384;
