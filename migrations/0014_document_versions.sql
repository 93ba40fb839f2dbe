-- One copy of each document, versions, and the document's type (issue 15, item 4).
--
-- supersedes: the document this one is a new version of, always of the same user. The reference is on
-- (supersedes, user_id) → (id, user_id) because foreign-key checks bypass RLS: a plain reference to id
-- would let a row point at another user's document. Deleting the old version keeps the new one and
-- clears only its supersedes (SET NULL on that column alone: nulling user_id too would violate NOT NULL).
-- A document is current unless a READY document of the same user supersedes it; search filters on that.
--
-- document_type: what the document is, read from its own words by docintake.document_types (NULL until
-- the chunk stage has classified it, or when unknown).
--
-- The duplicate check at the upload request looks a user's document up by the declared hash (validate
-- rejects bytes that don't match it, so a stored document's declared hash is its content's).
SET LOCAL ROLE docintake_owner;

ALTER TABLE documents
    ADD COLUMN supersedes uuid,
    ADD COLUMN document_type text,
    ADD CONSTRAINT documents_document_type_check
        CHECK (document_type IN ('policy', 'declarations', 'endorsement', 'benefit_summary', 'claim_form', 'other')),
    ADD CONSTRAINT documents_supersedes_same_user
        FOREIGN KEY (supersedes, user_id) REFERENCES documents (id, user_id) ON DELETE SET NULL (supersedes),
    ADD CONSTRAINT documents_supersedes_not_itself CHECK (supersedes <> id);

CREATE INDEX documents_user_sha256 ON documents (user_id, sha256_declared);
-- The successor lookup (superseded_by, search's current-version filter) and the SET NULL on delete.
CREATE INDEX documents_supersedes ON documents (supersedes) WHERE supersedes IS NOT NULL;

-- Metadata, not content: operators may see what kind of document a job is about and its version chain.
GRANT SELECT (document_type, supersedes) ON documents TO docintake_ops;
