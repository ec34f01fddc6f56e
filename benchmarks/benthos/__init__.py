"""Benthos v4.27 (MIT), a peer contender: a stream processor that reads Kafka and invokes
Lambda, run against the same broker and local Lambda as the bridge.

- `go.mod`, `go.sum`, `main.go`: a Go module of our own with only the components the pipeline
  uses (Kafka, AWS, the pure processors), so the build is minutes and the binary one file.
- `build.py`: builds it once on first use into .cache/benthos/ (never in CI).
- `pipeline.py`: its configuration for one run, from the bridge's own settings.
"""
