"""Obtains the Apache Kafka broker jars from Maven Central, once, into a git-ignored cache.

The broker is `org.apache.kafka:kafka_2.13` plus `kafka-tools` (for the ACL command) with
their runtime dependencies, copied by Maven into `.cache/kafka/<version>/libs`. A finished
fetch leaves a stamp file; with the stamp present Maven is never called again, so later
runs start the broker offline.

Run it directly to prefetch: `python -m tests.support.kafka_dist`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

KAFKA_VERSION = os.environ.get("KAFKA_TEST_VERSION", "4.1.1")
# Kafka logs through slf4j 1.x; this binding routes it to log4j2 so broker logs are readable.
LOG4J_VERSION = "2.24.3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "kafka"
_STAMP = "fetched.ok"

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-to-lambda.tests</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
</project>
"""


class KafkaDistributionError(RuntimeError):
    """Apache Kafka could not be obtained; the message carries Maven's own words and the fix."""


def kafka_libs_dir(version: str = KAFKA_VERSION, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    return cache_dir / version / "libs"


def ensure_kafka_jars(
    version: str = KAFKA_VERSION,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    maven_args: tuple[str, ...] = (),
) -> Path:
    """Returns the folder of broker jars, fetching them with Maven only if not cached yet."""
    home = cache_dir / version
    libs = home / "libs"
    if (home / _STAMP).is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaDistributionError(
            "Maven (mvn) is not on PATH, and the Apache Kafka jars are not cached in "
            f"{home}. Install Maven (apt-get install maven) or set KAFKA_TEST_BOOTSTRAP "
            "to an existing broker."
        )
    home.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(libs, ignore_errors=True)  # a half-finished earlier fetch
    (home / "pom.xml").write_text(_POM.format(kafka=version, log4j=LOG4J_VERSION))
    print(
        f"fetching Apache Kafka {version} jars from Maven Central into {libs} (once)...",
        file=sys.stderr,
        flush=True,
    )
    command = [
        mvn,
        "--batch-mode",
        "--quiet",
        "-Dstyle.color=never",
        *maven_args,
        f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:"
        "copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    done = subprocess.run(command, cwd=home, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        maven_said = (done.stdout + done.stderr).strip()[-3000:]
        raise KafkaDistributionError(
            f"Maven could not fetch org.apache.kafka:kafka_2.13:{version} "
            f"(exit {done.returncode}). Check access to Maven Central, or set "
            f"KAFKA_TEST_BOOTSTRAP to an existing broker. Maven said:\n{maven_said}"
        )
    (home / _STAMP).write_text(version + "\n")
    return libs


if __name__ == "__main__":
    print(ensure_kafka_jars())
