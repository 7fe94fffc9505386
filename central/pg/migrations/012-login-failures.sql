-- Central's sign-in limit, shared by every instance (central/auth/pg-login-limit.ts): behind a load balancer a guesser's
-- attempts are spread over the instances, and a limit each kept in its own memory would let through one limit's worth
-- per instance. One row a wrong password for each of its keys: the account's (the name typed, hashed) and the
-- address's. Rows older than the window are deleted as new ones come.

CREATE TABLE central_login_failures (
  key text COLLATE "C" NOT NULL CHECK (length(key) <= 200),
  at  timestamptz NOT NULL
);
CREATE INDEX central_login_failures_key ON central_login_failures (key, at);
CREATE INDEX central_login_failures_at ON central_login_failures (at);
