"""`python -m consumer.redrive`: dead-lettered records sent to the function again (run.py)."""
