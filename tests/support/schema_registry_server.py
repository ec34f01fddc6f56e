"""A real Confluent-compatible schema registry for the tests: Apicurio Registry in a child JVM.

Apicurio Registry 2.4.2.Final (Quarkus 2.16.4.Final) with in-memory storage serves the
Confluent API at `/apis/ccompat/v7`. It is built once with Maven from the project in
`tests/support/apicurio/` into `.cache/apicurio-registry-2.4.2/`; a finished build leaves a
stamp holding a fingerprint of that project, and with it present Maven is never called again,
so later runs start the registry offline.

The project is Apicurio's app jar rebuilt as a Quarkus application, with three work-arounds:
- `com.github.everit-org.json-schema:org.everit.json.schema` is not on Maven Central; the POM
  excludes it for `com.github.erosb:everit-json-schema`, the same classes under another name;
- `io.apicurio:apicurio-common-app-components-config-index-deployment:0.1.18.Final` is not on
  Maven Central either; its 0.1.10.Final jar (the same build step and recorder API) is
  installed into the local Maven repository under 0.1.18.Final with the POM in `apicurio/shim/`;
- the app jar has no Jandex index, so `application.properties` (the jar's own, plus overrides
  at its end) has Quarkus index it; `META-INF/web.xml` is the jar's.

HTTP basic auth (Quarkus' mechanism, embedded users) is built in but off; `basic_auth` turns it
on for one server. Why it takes two small classes in `apicurio/src/main/java`: see there.

Run it directly to build ahead of the tests: `python -m tests.support.schema_registry_server`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from consumer.local.broker_process import (
    BrokerStartError,
    free_loopback_port,
    log_tail,
    start_broker_process,
    stop_broker_process,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_SOURCE = Path(__file__).resolve().parent / "apicurio"
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "apicurio-registry-2.4.2"
CCOMPAT_PATH = "/apis/ccompat/v7"
START_TIMEOUT_S = 120.0
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
INSTALL_PLUGIN = "org.apache.maven.plugins:maven-install-plugin:3.1.2"
_SHIM_ARTIFACT = "io.apicurio:apicurio-common-app-components-config-index-deployment"
_SHIM_POM = PROJECT_SOURCE / "shim" / "config-index-deployment-0.1.18.Final.pom"
_SHIM_JAR = "apicurio-common-app-components-config-index-deployment-0.1.10.Final.jar"
_STAMP = "built.ok"
# Small heap, serial GC and the quick JIT tier, for a registry that holds a few schemas: on
# two cores it is ready in 1.5-2 s with ~140 MB resident, against 2.5-3.3 s and ~200 MB.
_JVM_OPTIONS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


class SchemaRegistryBuildError(RuntimeError):
    """The registry could not be built; one line naming what is missing or where the log is."""


@dataclass(frozen=True)
class BasicAuthUser:
    username: str
    password: str


def registry_run_jar(cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    return cache_dir / "project" / "target" / "quarkus-app" / "quarkus-run.jar"


def _project_fingerprint() -> str:
    # A change to the POM, the shim or the resources rebuilds; nothing else does.
    digest = hashlib.sha256()
    for path in sorted(p for p in PROJECT_SOURCE.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(PROJECT_SOURCE)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _is_built(cache_dir: Path, fingerprint: str) -> bool:
    stamp = cache_dir / _STAMP
    return (
        stamp.is_file()
        and stamp.read_text().strip() == fingerprint
        and registry_run_jar(cache_dir).is_file()
    )


@contextlib.contextmanager
def _build_lock(cache_dir: Path) -> Iterator[None]:
    # Two test processes starting at once must not both run Maven into the same folder.
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_registry_built(
    cache_dir: Path = DEFAULT_CACHE_DIR, maven_args: tuple[str, ...] = ()
) -> Path:
    """Returns the registry's `quarkus-run.jar`, building it with Maven only if not built yet."""
    fingerprint = _project_fingerprint()
    if _is_built(cache_dir, fingerprint):
        return registry_run_jar(cache_dir)
    with _build_lock(cache_dir):
        if not _is_built(cache_dir, fingerprint):  # another process may have built it meanwhile
            _build(cache_dir, fingerprint, maven_args)
    return registry_run_jar(cache_dir)


def _build(cache_dir: Path, fingerprint: str, maven_args: tuple[str, ...]) -> None:
    mvn, java = shutil.which("mvn"), shutil.which("java")
    if mvn is None or java is None:
        missing = "Maven (mvn)" if mvn is None else "Java 17 (java)"
        raise SchemaRegistryBuildError(
            f"{missing} is not on PATH, and the test schema registry is not built yet in "
            f"{cache_dir}: install it (apt-get install maven openjdk-17-jdk-headless)."
        )
    (cache_dir / _STAMP).unlink(missing_ok=True)
    project = cache_dir / "project"
    shutil.rmtree(project, ignore_errors=True)  # a half-finished earlier build
    shutil.copytree(PROJECT_SOURCE, project)
    log_path = cache_dir / "build.log"
    log_path.unlink(missing_ok=True)
    print(
        f"building the test schema registry once (~250 MB from Maven Central) into {project}...",
        file=sys.stderr,
        flush=True,
    )
    started = time.monotonic()
    with log_path.open("ab") as log:
        for step in _maven_steps([mvn, "-B", "-q", "-Dstyle.color=never", *maven_args], cache_dir):
            log.write(f"$ {' '.join(step)}\n".encode())
            log.flush()
            done = subprocess.run(
                step, cwd=project, stdout=log, stderr=subprocess.STDOUT, check=False
            )
            if done.returncode != 0:
                raise SchemaRegistryBuildError(
                    f"building the test schema registry failed (Maven exit {done.returncode}"
                    f"{_first_maven_error(log_path)}); the whole log is {log_path}"
                )
    if not registry_run_jar(cache_dir).is_file():
        raise SchemaRegistryBuildError(
            f"Maven finished but left no {registry_run_jar(cache_dir)}; see {log_path}"
        )
    (cache_dir / _STAMP).write_text(fingerprint + "\n")
    print(
        f"built the test schema registry in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def _maven_steps(maven: list[str], cache_dir: Path) -> list[list[str]]:
    shim_dir = cache_dir / "shim"
    return [
        # The stand-in for the deployment artifact Maven Central lacks (module docstring):
        # fetch the 0.1.10.Final jar, install it as 0.1.18.Final into the local repository.
        [
            *maven,
            f"{DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={_SHIM_ARTIFACT}:0.1.10.Final",
            f"-DoutputDirectory={shim_dir}",
        ],
        [
            *maven,
            f"{INSTALL_PLUGIN}:install-file",
            f"-Dfile={shim_dir / _SHIM_JAR}",
            f"-DpomFile={_SHIM_POM}",
        ],
        [*maven, "package", "-DskipTests"],
    ]


def _first_maven_error(log_path: Path) -> str:
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("[ERROR]") and len(line) > len("[ERROR] "):
            return ": " + line.removeprefix("[ERROR] ")[:300]
    return ""


class SchemaRegistryServer:
    """Owns one registry JVM on a free loopback port: `start`, `stop`. Storage is in memory,
    so a stop forgets every schema. With `basic_auth`, the API answers 401 to requests
    without that user's credentials; `/health` stays open."""

    def __init__(
        self, run_jar: Path, log_path: Path, basic_auth: BasicAuthUser | None = None
    ) -> None:
        self._run_jar = run_jar
        self.log_path = log_path
        self.basic_auth = basic_auth
        self.port = free_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The Confluent-compatible API's base URL, what clients take as `url`."""
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def client_conf(self) -> dict[str, str]:
        """Configuration for confluent-kafka's `SchemaRegistryClient`, credentials included."""
        conf = {"url": self.url}
        if self.basic_auth is not None:
            conf["basic.auth.user.info"] = f"{self.basic_auth.username}:{self.basic_auth.password}"
        return conf

    def start(self) -> None:
        """Starts the JVM and returns once `/health/ready` answers 200."""
        if shutil.which("java") is None:
            raise BrokerStartError(
                "Java 17 (java) is not on PATH, and the test schema registry runs on it: "
                "install it (apt-get install openjdk-17-jdk-headless)."
            )
        self._process = start_broker_process(self._command(), self.log_path)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            stop_broker_process(self._process)
            self._process = None

    def _command(self) -> list[str]:
        properties = [
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={self.port}",
        ]
        if self.basic_auth is not None:
            user = self.basic_auth
            properties += [
                "-Dtest-registry.basic-auth-required=true",
                f"-Dquarkus.security.users.embedded.users.{user.username}={user.password}",
            ]
        return ["java", *_JVM_OPTIONS, *properties, "-jar", str(self._run_jar)]

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        ready_url = f"http://127.0.0.1:{self.port}/health/ready"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise BrokerStartError(
                    f"the schema registry exited with code {self._process.returncode} while "
                    f"starting; its log ({self.log_path}) ends with:\n{log_tail(self.log_path)}"
                )
            # OSError: refused (not listening yet), or a 503 (not ready yet).
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(ready_url, timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            if time.monotonic() > deadline:
                raise BrokerStartError(
                    f"the schema registry was not ready on port {self.port} within "
                    f"{START_TIMEOUT_S:.0f} s; its log ({self.log_path}) ends with:\n"
                    f"{log_tail(self.log_path)}"
                )
            # Quarkus offers no readiness signal but this endpoint, so ask again shortly.
            time.sleep(0.2)


def main() -> int:
    try:
        print(ensure_registry_built())
    except SchemaRegistryBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
