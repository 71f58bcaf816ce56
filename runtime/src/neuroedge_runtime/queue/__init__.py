"""The job queue: one Redis stream per tenant and pool, consumed at least once by `neuroedge-runtime worker`.

Modules, one concern each: `keys` (key layout), `jobs` (job record, ids, encode/decode, status values),
`producer` (enqueue, read status), `settle` (the single writer that stores outcomes and acknowledges),
`execute` (panic-safe execution of one job), `worker` (the consumer loop), `reclaim` (recovery of jobs of dead
workers and promotion of due retries), `deadletter` (list and re-drive), `lock`, `retry`, `metrics`,
`settings` and `service` (the process entry point).
"""
