//! The schema: compiled-in migrations, applied in order at `Store::open`.

/// The schema, one migration per entry, never edited once released: add a new one.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    org TEXT REFERENCES orgs(id),
    hash TEXT NOT NULL,
    admin BIGINT NOT NULL,
    staff BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    created BIGINT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    csrf TEXT NOT NULL,
    expires BIGINT NOT NULL
);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    exercise TEXT NOT NULL,
    exercise_text TEXT NOT NULL,
    files TEXT NOT NULL,
    seed BIGINT NOT NULL,
    speed DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created BIGINT NOT NULL
);
CREATE TABLE staff (
    run TEXT NOT NULL REFERENCES runs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    PRIMARY KEY (run, user_id)
);
CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    run TEXT NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    base TEXT NOT NULL,
    UNIQUE (run, name)
);
CREATE TABLE members (
    run TEXT NOT NULL REFERENCES runs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    team TEXT NOT NULL REFERENCES teams(id),
    role TEXT NOT NULL,
    PRIMARY KEY (run, user_id)
);
CREATE TABLE inputs (
    team TEXT NOT NULL REFERENCES teams(id),
    seq BIGINT NOT NULL,
    t_us BIGINT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (team, seq)
);
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL REFERENCES teams(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    grade DOUBLE PRECISION,
    created BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY,
    run TEXT NOT NULL REFERENCES runs(id),
    role TEXT NOT NULL,
    team TEXT REFERENCES teams(id),
    team_role TEXT NOT NULL,
    expires BIGINT NOT NULL,
    used BIGINT NOT NULL
);
CREATE TABLE messages (
    run TEXT NOT NULL REFERENCES runs(id),
    seq BIGINT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (run, seq)
);
"#,
    // An address block is held by one team at a time: the primary key is the lock that makes
    // two concurrent allocations of one block impossible. A row lives from the team's creation
    // until its run has ended and its listeners are closed (or the team is deleted).
    r#"
CREATE TABLE blocks (
    base TEXT PRIMARY KEY,
    team TEXT NOT NULL UNIQUE REFERENCES teams(id)
);
INSERT INTO blocks (base, team)
    SELECT t.base, MIN(t.id) FROM teams t JOIN runs r ON r.id = t.run WHERE r.status <> 'ended' GROUP BY t.base
"#,
    // The range's rules a run was made under: runs made before hosts could be named by
    // address replay under the old rules (1).
    r#"
ALTER TABLE runs ADD COLUMN rules BIGINT NOT NULL DEFAULT 1
"#,
];
