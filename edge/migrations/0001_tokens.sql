-- API tokens for /api/v1/*. Only the SHA-256 of a token is stored; the token itself is shown once.
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
  owner TEXT NOT NULL,
  scopes TEXT NOT NULL,
  label TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT,
  revoked_at TEXT,
  last_used_at TEXT
);

CREATE INDEX api_tokens_owner_created ON api_tokens (owner, created_at, id);
CREATE INDEX api_tokens_created ON api_tokens (created_at, id);
