-- What the parse stage noticed about a document, for the user to see in GET /documents/{id}: the pages read
-- by OCR with each one's mean confidence (0..1, in the same order), and the parse's warning codes
-- (ocr_low_confidence:3, ocr_no_text:4, pages_without_text:2: codes and page numbers, never text).
-- Written with page_count in the parse stage's completing transaction; a re-parse overwrites them.
SET LOCAL ROLE docintake_owner;

ALTER TABLE documents
    ADD COLUMN ocr_pages integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN ocr_confidence real[] NOT NULL DEFAULT '{}',
    ADD COLUMN parse_warnings text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT documents_ocr_confidence_per_page CHECK (cardinality(ocr_pages) = cardinality(ocr_confidence));
