# The consumer container: the bridge and its pinned runtime dependencies, nothing else.
# The base is pinned by version; the locks in requirements/ are resolved for Python 3.11.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Stage 1: install requirements/consumer.txt, exactly as pinned, into a virtualenv made
# without pip: the base's pip installs into it, so it never holds pip or setuptools.
FROM ${PYTHON_IMAGE} AS dependencies
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/consumer.txt /tmp/consumer.txt
RUN python -m venv --without-pip /opt/bridge \
    && python -m pip --python /opt/bridge/bin/python install --no-deps -r /tmp/consumer.txt

# Stage 2: the runtime: that virtualenv and consumer/ (the build context leaves out the rest).
FROM ${PYTHON_IMAGE}
# The base's own pip, setuptools (with pkg_resources) and wheel are all its site-packages
# holds: nothing here runs them, the bridge's virtualenv cannot import them, and image
# scanners (ECR's scan on push) report their vulnerabilities as the image's.
RUN rm -rf /usr/local/lib/python3.11/site-packages/* /usr/local/bin/pip* /usr/local/bin/wheel
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/bridge/bin:$PATH
COPY --from=dependencies /opt/bridge /opt/bridge
WORKDIR /app
COPY consumer/ consumer/
# Compiled now: at run time the root filesystem is read-only.
RUN python -m compileall -q consumer
# /tmp (the heartbeat file) is the one writable place: the task mounts a volume there, which
# Fargate creates with this directory's owner and mode.
RUN chown 10001:10001 /tmp && chmod 1777 /tmp
VOLUME ["/tmp"]
# No root in the task.
USER 10001:10001
# The same check, with the same timings, as the ECS task definition's (infra/container.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "consumer.health"]
CMD ["python", "-m", "consumer"]
