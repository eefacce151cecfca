-- Where a linear4 task's latency goes: the median and mean of every hop, from
-- the transition tables of a latency run kept with
--   tasker-bench --database-url URL --scenarios latency --keep-databases
-- Run: psql <URL of tasker_bench_latency> -f tools/bench/latency_breakdown.sql
-- Timestamps are each transaction's start; the last two rows (with the
-- server's track_commit_timestamp on) end at the completing commit.
WITH st AS (
  SELECT s.task_uuid, s.name, tr.to_state, tr.created_at
  FROM workflow_steps s JOIN workflow_step_transitions tr USING (workflow_step_uuid)
), t AS (
  SELECT t.task_uuid, to_timestamp((t.context->>'submitted_us')::float8 / 1e6) AS submitted,
         t.created_at,
         (SELECT created_at FROM task_transitions x WHERE x.task_uuid = t.task_uuid AND x.to_state = 'in_progress') AS started,
         (SELECT created_at FROM task_transitions x WHERE x.task_uuid = t.task_uuid AND x.to_state = 'complete') AS completed,
         CASE WHEN current_setting('track_commit_timestamp') = 'on' THEN
           (SELECT pg_xact_commit_timestamp(x.xmin) FROM task_transitions x
             WHERE x.task_uuid = t.task_uuid AND x.to_state = 'complete') END AS committed
  FROM tasks t
), hops AS (
  SELECT 'submit -> task created' AS hop, 1 AS o, t.created_at - t.submitted AS d FROM t
  UNION ALL SELECT 'task created -> started', 2, started - created_at FROM t
  UNION ALL SELECT 'prev done -> ' || e.name || ' enqueued', 3 + ascii(e.name) - 97, e.created_at - coalesce(p.created_at, t.started)
    FROM st e JOIN t USING (task_uuid)
    LEFT JOIN st p ON p.task_uuid = e.task_uuid AND p.to_state = 'complete' AND p.name = chr(ascii(e.name) - 1)
    WHERE e.to_state = 'enqueued'
  UNION ALL SELECT e.name || ' enqueued -> in_progress', 10 + ascii(e.name) - 97, i.created_at - e.created_at
    FROM st e JOIN st i ON i.task_uuid = e.task_uuid AND i.name = e.name AND i.to_state = 'in_progress' WHERE e.to_state = 'enqueued'
  UNION ALL SELECT e.name || ' in_progress -> complete', 20 + ascii(e.name) - 97, c.created_at - e.created_at
    FROM st e JOIN st c ON c.task_uuid = e.task_uuid AND c.name = e.name AND c.to_state = 'complete' WHERE e.to_state = 'in_progress'
  UNION ALL SELECT 'd complete -> task complete', 30, t.completed - c.created_at
    FROM t JOIN st c ON c.task_uuid = t.task_uuid AND c.name = 'd' AND c.to_state = 'complete'
  -- with track_commit_timestamp on: until the completing transaction commits
  UNION ALL SELECT 'task complete -> committed', 31, t.committed - t.completed FROM t
    WHERE t.committed IS NOT NULL
  UNION ALL SELECT 'submit -> committed (the latency)', 32, t.committed - t.submitted FROM t
    WHERE t.committed IS NOT NULL
)
SELECT hop, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d)) * 1000)::numeric, 1) AS p50_ms,
       round((avg(extract(epoch FROM d)) * 1000)::numeric, 1) AS mean_ms
FROM hops GROUP BY hop, o ORDER BY o;
