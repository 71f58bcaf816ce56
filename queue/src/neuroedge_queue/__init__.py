"""The job queue's contract, shared by the runtime (which consumes jobs) and the operator (which enqueues
scheduled jobs and reads queue figures): the Redis key layout, the job encoding, the producer, the consumer
group and the figures.

It is its own installable part so that the operator image carries the queue contract without the runtime's
engines and their dependencies; it imports nothing from either side.
"""
