-- An occupancy event and the chart sample it makes, in one call: one round trip instead of a transaction of five
-- (central takes a branch's messages one at a time per connection, so each round trip is an event's wait). A
-- function's statements each see what others committed before them, so the sample reads the site's latest capacity
-- after the site's lock is taken, as the transaction did. Returns whether the event was new (false: a resend).
CREATE FUNCTION oag_store_occupancy_event(
  p_lock_namespace integer, p_id text, p_site text, p_at_ms bigint, p_received_ms bigint, p_payload jsonb, p_inside integer
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  stored integer;
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_namespace, hashtext(p_site));
  INSERT INTO events (id, site, type, at_ms, received_ms, payload)
    VALUES (p_id, p_site, 'occupancy', p_at_ms, p_received_ms, p_payload)
    ON CONFLICT (id, at_ms) DO NOTHING;
  GET DIAGNOSTICS stored = ROW_COUNT;
  IF stored = 0 THEN
    RETURN false;
  END IF;
  -- The sample keeps the capacity of the site's latest sample (an occupancy event does not carry one).
  INSERT INTO occupancy_samples (site, at_ms, inside, capacity)
    SELECT p_site, p_at_ms, p_inside, (SELECT capacity FROM occupancy_samples WHERE site = p_site ORDER BY at_ms DESC LIMIT 1)
    ON CONFLICT (site, at_ms) DO UPDATE SET inside = excluded.inside, capacity = excluded.capacity;
  RETURN true;
END;
$$;
