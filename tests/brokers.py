"""The two Kafka-protocol brokers the suite runs against: the embedded Tansu and real Apache Kafka.

Tansu is the one-command default and has quirks the engine designs around
(end offsets, fetch waits). Apache Kafka, run from its Maven Central jars with
the machine's Java in KRaft mode, is what production runs: a test that passes
on both shows the engine relies on Kafka's contract, not on one broker.
Without Java and Maven the Kafka runs are skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from streams.embedded import EmbeddedBroker, free_port

KAFKA_VERSION = "3.9.1"
CACHE = Path(os.environ.get("LOYALTY_TEST_CACHE", Path.home() / ".cache" / "loyalty-tests"))
KAFKA_LIBS = CACHE / f"kafka-{KAFKA_VERSION}"
BROKERS = ("tansu", "kafka")

_POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>loyalty.tests</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""

_LOG4J = """log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


def kafka_missing() -> str | None:
    """Why Apache Kafka cannot run here, or None."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    return f"Apache Kafka runs need {' and '.join(missing)}" if missing else None


def kafka_libs() -> Path:
    """The broker's jars, fetched from Maven Central once per machine."""
    libs = KAFKA_LIBS / "libs"
    if not (libs.is_dir() and any(libs.glob("kafka_2.13-*.jar"))):
        KAFKA_LIBS.mkdir(parents=True, exist_ok=True)
        (KAFKA_LIBS / "pom.xml").write_text(_POM)
        subprocess.run(["mvn", "-q", "-f", str(KAFKA_LIBS / "pom.xml"), "dependency:copy-dependencies",
                        f"-DoutputDirectory={libs}"], check=True, capture_output=True, timeout=600)
    return libs


@contextlib.contextmanager
def apache_kafka(workdir: Path, timeout: float = 90) -> Iterator[str]:
    """A single-node KRaft Apache Kafka on loopback; yields its bootstrap address."""
    workdir.mkdir(parents=True, exist_ok=True)
    classpath = f"{kafka_libs()}/*"
    port, controller = free_port(), free_port()
    properties = workdir / "server.properties"
    properties.write_text(f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={workdir / "data"}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
""")
    log4j = workdir / "log4j.properties"
    log4j.write_text(_LOG4J)
    java = ["java", f"-Dlog4j.configuration=file:{log4j}", "-cp", classpath]
    cluster_id = subprocess.run([*java, "kafka.tools.StorageTool", "random-uuid"], check=True,
                                capture_output=True, text=True).stdout.split()[-1]
    subprocess.run([*java, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)],
                   check=True, capture_output=True)
    log_path = workdir / "kafka.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([*java[:1], "-Xmx512m", *java[1:], "kafka.Kafka", str(properties)],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    bootstrap = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Apache Kafka exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Apache Kafka not ready in {timeout:.0f} s; see {log_path}") from None
                time.sleep(0.2)
        yield bootstrap
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def started_broker(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh broker of the given kind ("tansu" or "kafka"); yields its bootstrap address."""
    if kind == "kafka":
        reason = kafka_missing()
        if reason:
            pytest.skip(reason)
        with apache_kafka(workdir) as bootstrap:
            yield bootstrap
    else:
        with EmbeddedBroker(log_dir=workdir) as broker:
            yield broker.bootstrap
