-- Policy fields as data (issue 18, item 4): one row per document, what docintake.fields extracted from its
-- Markdown: the insurance type (homeowners, personal auto, …; not documents.document_type, which says what
-- paper it is: policy, declarations, …) with its confidence, the values with their text, the coverages and
-- each value's evidence (page, chunk, span), as docintake.fields.model.DocumentFields serializes them.
--
-- Written by the chunk stage in the transaction that replaces the document's chunks (readers see the old
-- chunks and fields or the new), so a re-chunk replaces it and evidence names chunks that exist. The values
-- are document content (names, policy numbers): the same row-level security and grants as document_chunks
-- (0003): the worker writes its user's rows, the API reads its user's rows, operators and the sweeper get
-- nothing. The reference is on (document_id, user_id), as the chunks' is, so a row can only name a document
-- of its own user, and deleting the document deletes its fields.
SET LOCAL ROLE docintake_owner;

CREATE TABLE document_fields (
    document_id              uuid PRIMARY KEY,
    user_id                  uuid NOT NULL,
    document_type            text NOT NULL CHECK (document_type IN ('homeowners', 'personal_auto',
                                 'commercial_general_liability', 'summary_of_benefits', 'endorsement',
                                 'claim_form', 'other')),
    document_type_confidence real NOT NULL CHECK (document_type_confidence BETWEEN 0 AND 1),
    -- {field name: {value, text, currency, cost_share, confidence, source}}
    fields                   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(fields) = 'object'),
    -- [{name, limit, deductible, premium, page, evidence, source}]
    coverages                jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(coverages) = 'array'),
    -- {field name: {page, chunk_id, start, end, quote}}
    evidence                 jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(evidence) = 'object'),
    extractor                text NOT NULL,
    notes                    text[] NOT NULL DEFAULT '{}',
    extracted_at             timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (document_id, user_id) REFERENCES documents (id, user_id) ON DELETE CASCADE
);
-- Search's field filters: a user's documents of a type.
CREATE INDEX document_fields_user_type ON document_fields (user_id, document_type);

ALTER TABLE document_fields ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_fields FORCE ROW LEVEL SECURITY;
CREATE POLICY document_fields_own ON document_fields FOR ALL TO docintake_api, docintake_worker
    USING (user_id = app_user_id()) WITH CHECK (user_id = app_user_id());

GRANT SELECT ON document_fields TO docintake_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON document_fields TO docintake_worker;
