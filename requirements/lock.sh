#!/usr/bin/env bash
# Re-pins every requirements/*.txt from the *.in files. dev.txt is resolved first as one
# set (consumer + infra + tools); the consumer, infra, local and bench locks are then
# resolved inside it, so all of them agree on every shared package.
# Usage: requirements/lock.sh [--upgrade]    (needs uv: pip install uv)
set -euo pipefail
cd "$(dirname "$0")"
compile() { uv pip compile --universal --python-version 3.11 --quiet "$@"; }
compile ${1:+"$1"} dev.in -o dev.txt
# grpcio-tools declares grpcio and setuptools, but its protoc (all the bridge runs of it)
# imports neither: the image (installed --no-deps) leaves those 26 MB out.
compile consumer.in -c dev.txt -o consumer.txt --no-emit-package grpcio --no-emit-package setuptools
compile infra.in -c dev.txt -o infra.txt
# make local: the consumer's set plus the embedded broker, so a first run installs only that.
compile local.in -c dev.txt -o local.txt --no-emit-package grpcio --no-emit-package setuptools
# The benchmarks' charts only (make bench): complete, as it is installed --no-deps too.
compile bench.in -c dev.txt -o bench.txt
