"""The Lambda side: signed invocations over a keep-alive pool, answers, concurrency, AWS clients."""
