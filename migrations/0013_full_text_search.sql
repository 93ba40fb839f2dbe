-- Keyword search over chunks: a generated tsvector (headings weighted A, text B) under a GIN index, with a
-- text search configuration and a normalisation that keep insurance form numbers and amounts findable.
-- Search fuses this ranking with the vector one (docintake/search.py).
--
-- What the english parser does to the codes users type (ts_debug), and what this migration changes:
--   "HO 04 61", "CG 00 01 04 13"  → ho, 04, 61 …    kept as is: a phrase query finds them in order.
--   "HO-3", "2-4 family"          → ho, -3 / 2, -4  the hyphen becomes a signed integer, so "HO 3" missed
--                                                    "HO-3": a hyphen before a digit becomes a space.
--   "HO3"                         → ho3             one to four letters glued to digits are split: "ho 3".
--   "$1,000", "$250,000"          → 1, 000          "$1000" missed "$1,000": thousands separators go.
--   "80%"                         → 80              "%" is read as "percent", so "80 percent" finds it.
-- The same normalisation runs on the query side (docintake_search_query), so both sides agree.
-- Known loss: single letters are english stop words, so "Coverage A" indexes as "coverag" alone.
SET LOCAL ROLE docintake_owner;

CREATE TEXT SEARCH CONFIGURATION docintake_english (COPY = pg_catalog.english);

-- Immutable (regexp_replace is) so the generated column may use it. Rules, in order: thousands separators,
-- a hyphen before a digit, letters glued to digits, per cent.
CREATE FUNCTION docintake_search_text(body text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(body, '([0-9]),(?=[0-9]{3}([^0-9]|$))', '\1', 'g'),
                '([[:alnum:]])-(?=[0-9])', '\1 ', 'g'),
            '(^|[^[:alnum:]])([[:alpha:]]{1,4})([0-9])', '\1\2 \3', 'g'),
        '%', ' percent ');

-- A chunk's searchable text: its heading path (weight A), the headings of the sibling sections it spans
-- (weight A; heading_path is their common parent and would not name them), its text (weight B).
-- array_to_string and the jsonpath are immutable for these types; the function says so for the column.
CREATE FUNCTION docintake_chunk_tsvector(heading_path text[], sections jsonb, content text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    BEGIN ATOMIC
        SELECT setweight(to_tsvector('public.docintake_english'::regconfig,
                                     docintake_search_text(array_to_string(heading_path, ' '))), 'A')
            || setweight(to_tsvector('public.docintake_english'::regconfig,
                                     docintake_search_text(CASE WHEN jsonb_array_length(sections) > 1
                                         THEN jsonb_path_query_array(sections, '$[*][last]')::text
                                         ELSE '' END)), 'A')
            || setweight(to_tsvector('public.docintake_english'::regconfig, docintake_search_text(content)), 'B');
    END;

-- A question as a tsquery with websearch syntax ("quoted phrase", or, -word), normalised like the chunks.
CREATE FUNCTION docintake_search_query(question text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN websearch_to_tsquery('public.docintake_english'::regconfig, docintake_search_text(question));

-- The same text as one phrase (stop words keep their gaps): ranks a chunk holding a form number or a
-- quoted clause in order above chunks that hold its words apart.
CREATE FUNCTION docintake_search_phrase(question text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN phraseto_tsquery('public.docintake_english'::regconfig, docintake_search_text(question));

-- Generated and stored: computed once, when the chunk row is written, and filled here for existing rows by
-- the table rewrite this ALTER does. Its cost is the parser's: an INSERT … SELECT of 22,619 chunks (896
-- characters on average) took 2.2 s without the column and 34.6 s with it (35.1 s with the GIN index too),
-- about 1.4 ms per chunk on the 2-core test machine under load; to_tsvector with the simple configuration
-- costs the same, so the english stemmer and the normalisation are not what costs.
ALTER TABLE document_chunks
    ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (docintake_chunk_tsvector(heading_path, sections, content)) STORED;

-- Per user, like every search: the GIN index answers "which chunks match", RLS and user_id filter after.
CREATE INDEX document_chunks_search_vector ON document_chunks USING gin (search_vector);
