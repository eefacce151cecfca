-- Cluster membership: every orchestration node registers itself, heartbeats
-- on its own connection, and sweeps nodes whose heartbeat went stale. A node
-- found dead loses its task claims in the same statement, so another node can
-- claim its tasks at once instead of waiting for each claim to lapse.

CREATE TABLE nodes (
  node_id text PRIMARY KEY CHECK (node_id <> ''),
  hostname text NOT NULL,
  pid integer NOT NULL,
  inspector_address text NOT NULL DEFAULT '',
  http_address text NOT NULL DEFAULT '',
  pools jsonb NOT NULL DEFAULT '[]'::jsonb,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'dead', 'stopped'))
);

CREATE INDEX nodes_live_heartbeat_idx ON nodes (heartbeat_at) WHERE status = 'live';

-- Registers (or re-registers after a restart) a node as live.
CREATE FUNCTION tasker_register_node(p_node_id text, p_hostname text, p_pid integer,
                                     p_inspector_address text, p_http_address text,
                                     p_pools jsonb)
RETURNS void
LANGUAGE sql AS $$
  INSERT INTO nodes (node_id, hostname, pid, inspector_address, http_address, pools,
                     started_at, heartbeat_at, status)
  VALUES (p_node_id, p_hostname, p_pid, p_inspector_address, p_http_address, p_pools,
          now(), now(), 'live')
  ON CONFLICT (node_id) DO UPDATE
    SET hostname = EXCLUDED.hostname, pid = EXCLUDED.pid,
        inspector_address = EXCLUDED.inspector_address,
        http_address = EXCLUDED.http_address, pools = EXCLUDED.pools,
        started_at = now(), heartbeat_at = now(), status = 'live';
$$;

-- Records a heartbeat; a node swept as dead while it was merely slow comes
-- back as live (its released claims stay released). Returns the status the
-- node had before, or no row when it is not registered.
CREATE FUNCTION tasker_heartbeat_node(p_node_id text)
RETURNS TABLE (previous_status text)
LANGUAGE sql AS $$
  UPDATE nodes n SET heartbeat_at = now(), status = 'live'
    FROM (SELECT node_id, status FROM nodes WHERE node_id = p_node_id FOR UPDATE) old
   WHERE n.node_id = old.node_id
  RETURNING old.status;
$$;

-- Marks a node as stopped (orderly exit). Returns whether it was registered.
CREATE FUNCTION tasker_mark_node_stopped(p_node_id text)
RETURNS boolean
LANGUAGE sql AS $$
  WITH stopped AS (
    UPDATE nodes SET status = 'stopped', heartbeat_at = now()
     WHERE node_id = p_node_id
    RETURNING node_id)
  SELECT EXISTS (SELECT 1 FROM stopped);
$$;

-- Marks every live node whose heartbeat is older than p_stale_after as dead
-- and releases the task claims those nodes held; returns the dead node ids.
-- One statement: no claim of a node can survive the node being found dead.
CREATE FUNCTION tasker_mark_dead_nodes(p_stale_after interval)
RETURNS TABLE (node_id text)
LANGUAGE sql AS $$
  WITH dead AS (
    UPDATE nodes n SET status = 'dead'
     WHERE n.status = 'live' AND n.heartbeat_at < now() - p_stale_after
    RETURNING n.node_id),
  released AS (
    UPDATE tasks t SET claimed_by = NULL, claimed_at = NULL, updated_at = now()
     WHERE t.claimed_by = ANY (ARRAY(SELECT d.node_id FROM dead d))
    RETURNING t.task_uuid)
  SELECT d.node_id FROM dead d ORDER BY d.node_id;
$$;
