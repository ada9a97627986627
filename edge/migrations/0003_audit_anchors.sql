-- The latest audit chain head each origin instance reported (POST /api/v1/internal/audit-anchor).
-- A head only moves forward: a lower seq, or the same seq with another hash, is refused, so a
-- log whose tail was cut or rewritten cannot pull its anchor back with it.
CREATE TABLE audit_anchors (
  instance TEXT PRIMARY KEY CHECK (length(instance) BETWEEN 3 AND 64),
  seq INTEGER NOT NULL CHECK (seq >= 0),
  hash TEXT NOT NULL CHECK (length(hash) = 64),
  entry_at TEXT,
  first_reported_at TEXT NOT NULL,
  reported_at TEXT NOT NULL
);
