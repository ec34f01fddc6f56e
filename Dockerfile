# The consumer container: the bridge and its pinned runtime dependencies, nothing else.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements/consumer.txt requirements/consumer.txt
RUN pip install --no-deps -r requirements/consumer.txt
COPY consumer/ consumer/

# No root in the task, and nothing to write: the task definition mounts the root fs read-only.
USER 10001:10001
CMD ["python", "-m", "consumer"]
