-- A connection admitted as an administrator rather than a team member.
ALTER TABLE ws_connections ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;
