-- Documents: bytes live in R2 under chittyid/{owner}/{type}/{id}/v{version}; everything else here.
-- status: 'pending' while bytes are being stored (reserved_bytes is held in storage_quotas),
-- 'active' once readable, 'deleting' while its objects are being removed. Only 'active' is served.
CREATE TABLE documents (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('evidence', 'cases', 'attachments')),
  name TEXT NOT NULL,
  mime_type TEXT NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  sha256 TEXT,
  current_version INTEGER NOT NULL DEFAULT 0,
  last_version INTEGER NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'deleting')),
  reserved_bytes INTEGER NOT NULL DEFAULT 0,
  index_status TEXT NOT NULL DEFAULT 'pending'
    CHECK (index_status IN ('pending', 'indexed', 'skipped', 'index_failed')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX documents_owner_created ON documents (owner, status, created_at, id);
CREATE INDEX documents_status_updated ON documents (status, updated_at);

CREATE TABLE document_versions (
  document_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  r2_key TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  sha256 TEXT,
  mime_type TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (document_id, version)
);

CREATE TABLE document_permissions (
  document_id TEXT NOT NULL,
  grantee TEXT NOT NULL,
  permission TEXT NOT NULL CHECK (permission IN ('read', 'write')),
  granted_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (document_id, grantee)
);
CREATE INDEX document_permissions_grantee ON document_permissions (grantee, document_id);

CREATE TABLE document_tags (
  document_id TEXT NOT NULL,
  tag TEXT NOT NULL,
  PRIMARY KEY (document_id, tag)
);
CREATE INDEX document_tags_tag ON document_tags (tag, document_id);

CREATE TABLE document_relationships (
  source_id TEXT NOT NULL,
  target_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('relatesTo', 'supersedes', 'references', 'attachmentOf')),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (source_id, target_id, kind)
);
CREATE INDEX document_relationships_target ON document_relationships (target_id);

-- Kept after a document is deleted: the trail of who did what outlives the bytes.
CREATE TABLE document_access_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  document_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  version INTEGER,
  detail TEXT,
  request_id TEXT,
  at TEXT NOT NULL
);
CREATE INDEX document_access_log_document ON document_access_log (document_id, seq);

-- Usage counts reserved bytes too, so concurrent uploads can never overshoot the limits.
-- NULL limits mean the deployment's defaults (DOCUMENT_QUOTA_BYTES / DOCUMENT_QUOTA_COUNT).
CREATE TABLE storage_quotas (
  owner TEXT PRIMARY KEY,
  bytes_used INTEGER NOT NULL DEFAULT 0 CHECK (bytes_used >= 0),
  document_count INTEGER NOT NULL DEFAULT 0 CHECK (document_count >= 0),
  bytes_limit INTEGER,
  count_limit INTEGER,
  updated_at TEXT NOT NULL
);

-- R2 multipart uploads in progress (the Workers binding cannot list parts, so they are kept here).
CREATE TABLE document_uploads (
  id TEXT PRIMARY KEY,
  document_id TEXT NOT NULL UNIQUE,
  owner TEXT NOT NULL,
  r2_key TEXT NOT NULL,
  r2_upload_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  part_size INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX document_uploads_expires ON document_uploads (expires_at);

CREATE TABLE document_upload_parts (
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  etag TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (upload_id, part_number)
);

CREATE VIRTUAL TABLE documents_fts USING fts5 (
  document_id UNINDEXED,
  name,
  tags,
  metadata,
  content,
  tokenize = 'unicode61 remove_diacritics 2'
);
