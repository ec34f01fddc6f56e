"""The scenarios of issue 8, their default sizes, and the quick sizes for development."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from benchmarks.measure import throughput_bound
from benchmarks.workload import Workload
from consumer.settings.model import BridgeSettings, load_settings

ALL = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9")
# S5: S2 with a two-field pattern that passes one kind of ten.
S5_PATTERNS = '[{"value": {"kind": ["allele"], "pad": [{"prefix": "x"}]}}]'
S5_KIND = "allele"
# S7: end-to-end latency at light load, the records produced while the contender runs.
S7_LIVE_RATE = 100.0
S7_WARM_UP_RECORDS = 200
# S8: members joining and leaving one group under steady load (benchmarks/membership_churn.py).
S8_PARTITIONS = 12
S8_KEYS = 240  # 20 keys per partition: an invocation holds many keys, and a key recurs often
S8_LIVE_RATE = 110.0
S8_WARM_UP_RECORDS = 120


@dataclass(frozen=True)
class Membership:
    """A group whose members come and go on a schedule, and a function slow enough that
    invocations are in flight at every change."""

    members: tuple[int, ...] = (1, 2, 3, 2, 1)  # after each change, the first before any
    spacing_s: float = 25.0  # from live production's start to the first change, and between
    near_change_s: float = 10.0  # records produced this soon after a change are "near" it
    function_latency_s: tuple[float, float] = (1.0, 4.0)  # uniform per invocation, seeded
    function_timeout_s: float = 15.0  # what the function's configuration says

    def __post_init__(self) -> None:
        if not self.members or min(self.members) < 1:
            raise ValueError(f"a schedule keeps at least one member, got {self.members}")
        steps = [abs(b - a) for a, b in zip(self.members, self.members[1:], strict=False)]
        if any(step != 1 for step in steps):
            raise ValueError(f"each change adds or removes one member, got {self.members}")

    @property
    def changes(self) -> int:
        return len(self.members) - 1

    @property
    def live_s(self) -> float:
        """Records are produced from a spacing before the first change to one after the last."""
        return self.spacing_s * (self.changes + 1)


@dataclass(frozen=True)
class Scenario:
    name: str  # "S1", "S3/1000000": a row label
    title: str
    workload: Workload
    records: int  # preloaded before each contender starts
    latency_s: float  # L: the function's fixed latency
    contenders: tuple[str, ...]
    bridge_settings: Mapping[str, str] = field(default_factory=dict)  # over the defaults
    concurrency_limit: int | None = None  # the function's; None: unreserved
    max_window_s: float = 60.0  # a contender's measurement stops then, drained or not
    live_s: float = 0.0  # > 0: then records are produced live for this long, for latency
    live_rate: float | None = None  # their records/s; None: half the first contender's rate
    passing_kind: str | None = None  # filtering: only records of this kind reach the function
    avro: bool = False  # values in Avro with the registry's framing, decoded by the bridge
    membership: Membership | None = None  # members join and leave on this schedule (S8)
    # The function answers with one result per record ({"results": [...]}) (S9).
    per_record_results: bool = False

    @property
    def filters(self) -> bool:
        return self.passing_kind is not None

    def passes(self, index: int) -> bool:
        """Record `index` reaches the function."""
        return self.passing_kind is None or self.workload.kind(index) == self.passing_kind

    def deliveries(self, records: int) -> int:
        """How many of records 0..records-1 reach the function."""
        return sum(1 for index in range(records) if self.passes(index))

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-")

    def bridge(self) -> BridgeSettings:
        """The bridge's effective settings here: its defaults, then the scenario's."""
        required = {
            "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
            "KAFKA_TOPIC": "unused",
            "KAFKA_GROUP_ID": "unused",
            "LAMBDA_FUNCTION_NAME": "unused",
        }
        if self.avro:  # the run's registry; its address is not known before it starts
            required["SCHEMA_REGISTRY_URL"] = "http://unused:8081"
        return load_settings({**required, **self.bridge_settings})

    def bound_records_per_s(self) -> float:
        """P·W·B/L for the bridge's settings (P·W capped by the in-flight total and by the
        function's concurrency limit)."""
        settings = self.bridge()
        return throughput_bound(
            partitions=self.workload.partitions,
            in_flight_per_partition=settings.max_in_flight_per_partition,
            batch_size=settings.batch_size,
            latency_s=self.latency_s,
            in_flight_total=settings.max_in_flight_total,
            function_concurrency=self.concurrency_limit,
        )


@dataclass(frozen=True)
class Sizes:
    s1_records: int = 60_000
    s2_records: int = 1_000_000
    s3_backlogs: tuple[int, ...] = (100_000, 1_000_000)
    s4_records: int = 20_000
    s3_window_s: float = 30.0
    live_s: float = 10.0
    sequential_cap_s: float = 15.0
    s7_live_s: float = 20.0
    s8_spacing_s: float = 25.0
    s8_near_change_s: float = 10.0


QUICK = Sizes(
    s1_records=8_000,
    s2_records=40_000,
    s3_backlogs=(20_000, 200_000),
    s4_records=5_000,
    s3_window_s=10.0,
    live_s=3.0,
    sequential_cap_s=5.0,
    s7_live_s=5.0,
    s8_spacing_s=10.0,
    s8_near_change_s=5.0,
)


def scenarios(
    chosen: tuple[str, ...], sizes: Sizes, *, uvloop: bool = False, partitions: int = 20
) -> list[Scenario]:
    bridges = ("bridge", "bridge+uvloop") if uvloop else ("bridge",)
    # Benthos sends the legacy payload, so the bridge runs with it too: like against like.
    peers = ("bridge-legacy", "benthos")
    # And Benthos as its users first run it (its defaults): one record per invocation, so not
    # in S8, whose few keys break the receiver's reading of a bare value (Workload.locate).
    defaults = "benthos-defaults"
    everyone = (*bridges, *peers, defaults, "sequential", "fire-and-forget")
    floor = "client-floor"  # the Kafka client alone, where reading is most of the work
    workload = Workload(partitions=partitions, record_bytes=1024)
    made: list[Scenario] = []
    if "S1" in chosen:
        made.append(
            Scenario(
                "S1",
                "latency-bound: L = 100 ms, batchSize 10, 2 in flight per partition",
                workload,
                sizes.s1_records,
                latency_s=0.100,
                contenders=everyone,
                bridge_settings={"BATCH_SIZE": "10", "MAX_IN_FLIGHT_PER_PARTITION": "2"},
                live_s=sizes.live_s,
            )
        )
    if "S2" in chosen:
        made.append(
            Scenario(
                "S2",
                "CPU-bound: L = 5 ms, batchSize 500",
                workload,
                sizes.s2_records,
                latency_s=0.005,
                contenders=(*everyone, floor),
                bridge_settings={"BATCH_SIZE": "500"},
                live_s=sizes.live_s,
            )
        )
    if "S5" in chosen:
        made.append(
            Scenario(
                "S5",
                "filtering: S2 with a two-field pattern that passes 10 % of records",
                workload,
                sizes.s2_records,
                latency_s=0.005,
                contenders=(*bridges, floor),
                bridge_settings={
                    "BATCH_SIZE": "500",
                    "FILTER_PATTERNS": S5_PATTERNS,
                    # The run ends when the commit reaches the end: commit often to see it.
                    "COMMIT_INTERVAL_MS": "100",
                },
                passing_kind=S5_KIND,
            )
        )
    if "S6" in chosen:
        made.append(
            Scenario(
                "S6",
                "schema registry: S2 with Avro values, decoded to JSON for the function",
                workload,
                sizes.s2_records,
                latency_s=0.005,
                contenders=bridges,
                bridge_settings={"BATCH_SIZE": "500", "SCHEMA_RECORD_FORMAT": "JSON"},
                avro=True,
            )
        )
    if "S7" in chosen:
        made.append(
            Scenario(
                "S7",
                f"light load: L = 10 ms, {S7_LIVE_RATE:.0f} records/s produced live for "
                f"{sizes.s7_live_s:.0f} s",
                workload,
                # A few records first: their arrival says the contender has joined and reads.
                S7_WARM_UP_RECORDS,
                latency_s=0.010,
                contenders=(*bridges, *peers, defaults),
                live_s=sizes.s7_live_s,
                live_rate=S7_LIVE_RATE,
            )
        )
    if "S8" in chosen:
        membership = Membership(spacing_s=sizes.s8_spacing_s, near_change_s=sizes.s8_near_change_s)
        low, high = membership.function_latency_s
        made.append(
            Scenario(
                "S8",
                f"membership changes: {' → '.join(map(str, membership.members))} members, "
                f"{membership.spacing_s:.0f} s apart, {S8_LIVE_RATE:.0f} records/s live, "
                f"L = {low:.0f} to {high:.0f} s",
                Workload(partitions=S8_PARTITIONS, record_bytes=1024, keys=S8_KEYS),
                # A few records first: their arrival says the first member has joined.
                S8_WARM_UP_RECORDS,
                latency_s=(low + high) / 2,  # the mean, for the bound
                contenders=(*bridges, *peers),
                live_s=membership.live_s,
                live_rate=S8_LIVE_RATE,
                membership=membership,
            )
        )
    if "S9" in chosen:
        made.append(
            Scenario(
                "S9",
                "answers: S2 with a function answering each record, produced to "
                "RESPONSE_TOPIC or not",
                workload,
                sizes.s2_records,
                latency_s=0.005,
                contenders=("bridge", "bridge+answers"),
                bridge_settings={"BATCH_SIZE": "500"},
                per_record_results=True,
            )
        )
    if "S3" in chosen:
        made.extend(
            Scenario(
                f"S3/{backlog}",
                f"backlog memory: {backlog:,} queued records, L = 1 s",
                workload,
                backlog,
                latency_s=1.0,
                contenders=("bridge",),
                max_window_s=sizes.s3_window_s,
            )
            for backlog in sizes.s3_backlogs
        )
    if "S4" in chosen:
        made.append(
            Scenario(
                "S4",
                "throttling: function concurrency 10, bridge 40 in flight, L = 1 s",
                workload,
                sizes.s4_records,
                # A function that takes seconds, like the production one writing 500 records
                # to DynamoDB: fire-and-forget's invokes then outnumber the concurrency.
                latency_s=1.0,
                contenders=("bridge", *peers, defaults, "fire-and-forget"),
                bridge_settings={"MAX_IN_FLIGHT_TOTAL": "40"},
                concurrency_limit=10,
            )
        )
    return made


def with_records(scenario: Scenario, records: int | None) -> Scenario:
    """`--records N` resizes S1, S2, S4, S5, S6 and S9 (S3 has its own backlog sizes; S7's and
    S8's few records only show the contender is reading)."""
    if records is None or scenario.name.startswith("S3") or scenario.live_rate is not None:
        return scenario
    return replace(scenario, records=records)
