"""The targets of the table, in one place (issue 14); relative ones are computed from the baseline run."""

ENGINE_OVER_BARE = 6.0  # part 2: Alur.complete at most 6x a bare SpiffWorkflow user step
FLAT_RATIO = 1.5  # part 3: a step after the most returns / a fresh one
HTTP_FLAT_RATIO = 1.2  # part 3: the same loop through the API (GET instance, GET task, POST complete)
HTTP_SPEEDUP = 3.0  # part 4: completions/s at the most clients, at least 3x the baseline's
HTTP_P99_MS = 150.0  # part 4: p99 of the completion requests at the most clients
LIST_P95_MS = 20.0  # part 5: the inbox and every instance-list filter at 100,000 instances
STORED_KB = 8.0  # part 6: bytes stored per completed request
WORKER_RSS_MB = 150.0  # part 6: peak RSS of a gunicorn worker
RSS_GROWTH = 0.05  # part 6: from the first 16-client run to the last
REPORT_P95_MS = 500.0  # part 7: GET /reports
