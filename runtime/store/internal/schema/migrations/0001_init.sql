-- The region store's first schema. Written once for both databases: {{timestamp}}, {{bytes}} and {{uuid}} are
-- replaced by each dialect's type (schema.go). Times are UTC with microsecond precision; IDs come from the
-- application (UUIDv7), so no database function makes them.

-- Each applied workflow version. A version is immutable once stored: the store refuses another digest or tag
-- object under the same (name, version), and the same digest under another version.
CREATE TABLE workflows (
    name        TEXT        NOT NULL,
    version     TEXT        NOT NULL, -- semver without "v"
    digest      TEXT        NOT NULL, -- graph digest, sha256:<hex>
    "commit"    TEXT        NOT NULL,
    tag         TEXT        NOT NULL,
    tag_object  TEXT        NOT NULL,
    frozen      BOOLEAN     NOT NULL,
    tenant      TEXT        NOT NULL,
    definition  {{bytes}}   NOT NULL, -- the normalized model as JSON, byte for byte
    signer      TEXT        NOT NULL,
    promoter    TEXT        NOT NULL,
    log_index   BIGINT      NOT NULL,
    promoted_at {{timestamp}},
    applied_at  {{timestamp}} NOT NULL,
    CONSTRAINT workflows_pkey PRIMARY KEY (name, version),
    CONSTRAINT workflows_name_digest_key UNIQUE (name, digest)
);

-- The reconciler's view of each workflow, replaced on every reconcile.
CREATE TABLE sync_status (
    workflow        TEXT    NOT NULL PRIMARY KEY,
    desired_version TEXT    NOT NULL,
    applied_version TEXT    NOT NULL,
    synced          BOOLEAN NOT NULL,
    last_error      TEXT    NOT NULL,
    last_attempt    {{timestamp}},
    last_success    {{timestamp}}
);

-- What the reconciler applied or refused, when and why; read newest first.
CREATE TABLE reconcile_history (
    id         TEXT NOT NULL PRIMARY KEY,
    at         {{timestamp}} NOT NULL,
    region     TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    tag        TEXT NOT NULL,
    action     TEXT NOT NULL,
    check_name TEXT NOT NULL,
    reason     TEXT NOT NULL,
    "commit"   TEXT NOT NULL
);
CREATE INDEX reconcile_history_at ON reconcile_history (at);
CREATE INDEX reconcile_history_workflow_at ON reconcile_history (workflow, at);

-- The first-seen index of promotions (promote.Index): the first record claimed under a key wins.
CREATE TABLE first_seen (
    key        TEXT      NOT NULL PRIMARY KEY,
    record     {{bytes}} NOT NULL,
    created_at {{timestamp}} NOT NULL
);

-- Windows of the hourly event export (sprint plan §6).
CREATE TABLE events_export_jobs (
    id           {{uuid}} NOT NULL PRIMARY KEY,
    window_start {{timestamp}} NOT NULL,
    window_end   {{timestamp}} NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    created_at   {{timestamp}} NOT NULL,
    CHECK (window_end > window_start)
);
CREATE INDEX events_export_jobs_window_start ON events_export_jobs (window_start);
