"""The SQLite side of a collection: tables, connection settings, and the meta key/value table.

SQLite is the source of truth. It holds every document's text, every chunk's span and its vector (as
a float32 blob), so the FAISS index is a derived cache that can always be rebuilt from it. ``meta``
carries the collection's settings and ``generation``, bumped in the same transaction as every write.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1
DB_NAME = "store.sqlite"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,          -- JSON object
    content_hash TEXT NOT NULL,      -- sha256 of title + text + metadata
    text_hash TEXT NOT NULL,         -- sha256 of what vectors depend on: text, plus title with context
    n_tokens INTEGER NOT NULL,
    sources TEXT NOT NULL,           -- JSON list of absolute paths the document was read from
    run_id INTEGER,
    updated_at REAL NOT NULL
);
-- AUTOINCREMENT: a chunk id is never reused, so a stale FAISS entry can never alias a new chunk.
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    vector BLOB NOT NULL             -- float32 x dim, L2-normalized
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,            -- running | done | failed | interrupted
    pid INTEGER,
    paths TEXT NOT NULL,             -- JSON list
    summary TEXT                     -- JSON: counts and failures (paths and reasons, never text)
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Autocommit connection (transactions are explicit BEGIN/COMMIT), WAL, full durability."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL fsyncs the WAL on every commit: a committed batch survives power loss, not only SIGKILL.
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def initialize(conn: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Create the tables and the collection's settings in one transaction (DDL is transactional)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL.split(";"):
            if statement.strip():
                conn.execute(statement)
        rows = {"schema_version": str(SCHEMA_VERSION), "generation": "0", **meta}
        conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", rows.items())
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def bump_generation(conn: sqlite3.Connection) -> int:
    """Inside a write transaction: the new generation, committed together with the write."""
    (gen,) = conn.execute(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation' RETURNING value"
    ).fetchone()
    return int(gen)


def generation(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0
