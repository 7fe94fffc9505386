-- Where the Koha poller has got to (central/members/koha/feed-mark.ts), shared by every instance: only the leader
-- polls, and a new leader goes on from the mark the last one saved rather than from now.
CREATE TABLE lms_feed_marks (
  feed     text COLLATE "C" PRIMARY KEY,
  -- Koha's updated_on as Koha wrote it (RFC 3339 with its offset): no member data
  mark     text NOT NULL,
  saved_ms bigint NOT NULL
);
