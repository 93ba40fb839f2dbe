-- The heading path of every section a chunk holds text of, in document order, as a JSON array of arrays
-- of headings ([["POLICY", "SECTION I", "A. Aircraft"], ["POLICY", "SECTION I", "B. Theft"]]); the chunk's
-- heading_path is their common prefix. A chunk can span sibling sections, and a citation that names only
-- the first one sends the reader to the wrong heading. Chunks written before this migration keep an empty
-- list (not known) until their document is chunked again; their heading_path may name only the first
-- section. Content-derived like heading_path: ops has no grant on document_chunks (0003, 0006) and gains none.
SET LOCAL ROLE docintake_owner;

ALTER TABLE document_chunks
    ADD COLUMN sections jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD CONSTRAINT document_chunks_sections_is_array CHECK (jsonb_typeof(sections) = 'array');
