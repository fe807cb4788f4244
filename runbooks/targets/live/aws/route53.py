"""Route 53 as the live target's `Router`: the weighted A records of the service's public
name (under `weighted.<name>` when a failover pair sits on the name itself), read page by page,
UPSERTed in one change batch keeping their targets, TTL and health checks, then waited on until
the change is INSYNC; rotation from the health checkers' reports (Route 53's 18 % rule)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runbooks.errors import LiveTargetError
from runbooks.targets.live.target import Propagation

# GetChange answers PENDING until the change has propagated to every Route 53 DNS server of the
# zone, then INSYNC (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html,
# checked 2026-11-30). Route 53 usually propagates within 60 s; boto3's own waiter
# (resource_record_sets_changed) polls every 30 s for 60 tries: this one polls more often.
INSYNC_POLL_S = 2.0
INSYNC_TIMEOUT_S = 300.0
# Route 53 considers an endpoint healthy when MORE than 18 % of its health checkers report it
# healthy (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html,
# checked 2026-11-30), not when most of them do.
HEALTHY_SHARE = 0.18


def _name(value: str) -> str:
    return value.rstrip(".").lower()


def router(
    traffic: Mapping[str, Any], dns_name: str, *, session: Any | None = None
) -> Route53Router:
    """The router of the `exitplan:traffic` config: its hosted zone found by `zone` unless it
    names a `zone_id`. `session`: a boto3 Session (default: the default credential chain)."""
    if session is None:
        import boto3

        session = boto3.Session()
    route53 = session.client("route53")
    zone_id = traffic.get("zone_id") or _zone_id(route53, str(traffic.get("zone", "")))
    return Route53Router(route53, str(zone_id), dns_name)


class Route53Router:
    """The weighted records of one name in one hosted zone."""

    def __init__(
        self,
        route53: Any,
        zone_id: str,
        dns_name: str,
        *,
        timeout_s: float = INSYNC_TIMEOUT_S,
        poll_s: float = INSYNC_POLL_S,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`route53`: a boto3 client; a weight change waits up to `timeout_s` for INSYNC,
        asking every `poll_s` (`sleep` and `clock` are the waiting, for tests)."""
        self.route53 = route53
        self.zone_id = zone_id.rsplit("/", 1)[-1]
        self.dns_name = _name(dns_name)
        self.timeout_s, self.poll_s = timeout_s, poll_s
        self.sleep, self.clock = sleep, clock

    def _aws(self, what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise LiveTargetError(f"{what} failed: {exc}") from exc

    def _records(self, name: str) -> Iterator[dict[str, Any]]:
        """The weighted records named `name`, following Route 53's pages. They are A records
        (components/providers/aws/dns.py: an alias A for the NLB, A for IP endpoints, one type
        per weighted set); Route 53 lists a name's types in order, so listing starts at A."""
        start: dict[str, str] = {"StartRecordName": name, "StartRecordType": "A"}
        seen: set[tuple[str, ...]] = set()
        while True:
            page = self._aws(f"listing the records of zone {self.zone_id}",
                             self.route53.list_resource_record_sets,
                             HostedZoneId=self.zone_id, MaxItems="300", **start)  # fmt: skip
            for record in page["ResourceRecordSets"]:
                key = (record["Name"], record["Type"], record.get("SetIdentifier", ""))
                if key not in seen and _name(record["Name"]) == name and "Weight" in record:
                    seen.add(key)
                    yield record
            names = [_name(r["Name"]) for r in page["ResourceRecordSets"]]
            if not page.get("IsTruncated") or (names and names[-1] != name):
                return
            following = {"StartRecordName": page["NextRecordName"],
                         "StartRecordType": page["NextRecordType"]}  # fmt: skip
            if "NextRecordIdentifier" in page:
                following["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            if following == start:  # a server that ignores the identifier: no progress
                return
            start = following

    def _weighted(self) -> list[dict[str, Any]]:
        """`weighted.<dns_name>`'s records (under failover), else `<dns_name>`'s."""
        found = list(self._records(f"weighted.{self.dns_name}"))
        return found or list(self._records(self.dns_name))

    def weights(self) -> dict[str, int]:
        """Set identifier (= stack) -> weight of the name's weighted records."""
        return {str(r["SetIdentifier"]): int(r["Weight"]) for r in self._weighted()}

    def set_weights(
        self, weights: Mapping[str, int], notify: Callable[[str], None] = lambda _: None
    ) -> Propagation:
        """UPSERT the given stacks' weighted records in one change batch, keeping each
        record's targets, TTL and health check, and wait until Route 53 has the change INSYNC
        (`notify` hears each PENDING answer). The resulting weights must sum to 100. Returns
        how long it took and the records' TTL, which resolvers may still answer from."""
        records = {str(r["SetIdentifier"]): r for r in self._weighted()}
        unknown = sorted(set(weights) - set(records))
        bad = {s: w for s, w in weights.items() if type(w) is not int or not 0 <= w <= 100}
        result = {s: int(r["Weight"]) for s, r in records.items()} | dict(weights)
        if unknown:
            raise LiveTargetError(
                f"no weighted record for {unknown} under {self.dns_name}",
                fix=f"use the stacks {sorted(records)}",
            )
        if bad or sum(result.values()) != 100:
            raise LiveTargetError(
                f"weights must be integers 0-100 summing to 100, got {result}",
                fix="give every stack's weight",
            )
        changes = [
            {"Action": "UPSERT", "ResourceRecordSet": {**records[stack], "Weight": weight}}
            for stack, weight in weights.items()
        ]
        started = self.clock()
        submitted = self._aws(
            f"changing the weights under {self.dns_name}",
            self.route53.change_resource_record_sets,
            HostedZoneId=self.zone_id,
            ChangeBatch={"Comment": "exitplan live target", "Changes": changes},
        )
        change = submitted["ChangeInfo"]
        self._wait_insync(str(change["Id"]), str(change["Status"]), started, notify)
        ttl = max((int(records[stack].get("TTL", 0)) for stack in weights), default=0)
        return Propagation(str(change["Id"]).rsplit("/", 1)[-1], self.clock() - started, ttl)

    def _wait_insync(
        self, change_id: str, status: str, started: float, notify: Callable[[str], None]
    ) -> None:
        """Poll GetChange until the change is INSYNC; refuse after `timeout_s`."""
        short_id = change_id.rsplit("/", 1)[-1]
        while status != "INSYNC":
            waited = self.clock() - started
            if waited >= self.timeout_s:
                raise LiveTargetError(
                    f"Route 53 change {short_id} under {self.dns_name} is still {status} after "
                    f"{waited:.0f} s: the new weights are submitted but not on every Route 53 "
                    "DNS server yet",
                    fix=f"aws route53 get-change --id {short_id} until INSYNC, then go on (or "
                    "roll back with exitplan drill rollback JOURNAL)",
                )
            notify(
                f"Route 53 change {short_id}: {status} after {waited:.0f} s "
                f"(waiting for INSYNC, up to {self.timeout_s:g} s)"
            )
            self.sleep(self.poll_s)
            answer = self._aws(f"reading Route 53 change {short_id}",
                               self.route53.get_change, Id=short_id)  # fmt: skip
            status = str(answer["ChangeInfo"]["Status"])

    def in_rotation(self, stack: str) -> bool:
        """Whether Route 53 answers with the stack: its weighted record has no health check,
        or more than 18 % of the health checkers report success (Route 53's own rule)."""
        record = next((r for r in self._weighted() if r["SetIdentifier"] == stack), None)
        if record is None:
            raise LiveTargetError(
                f"no weighted record for {stack} under {self.dns_name}",
                fix="use a stack the router weighs",
            )
        check = record.get("HealthCheckId")
        if not check:
            return True
        status = self._aws(f"reading health check {check}",
                           self.route53.get_health_check_status, HealthCheckId=check)  # fmt: skip
        reports = [o["StatusReport"]["Status"] for o in status["HealthCheckObservations"]]
        return sum(r.startswith("Success") for r in reports) > HEALTHY_SHARE * len(reports)


def _zone_id(route53: Any, zone: str) -> str:
    """The id of the public hosted zone named `zone`."""
    try:
        found = route53.list_hosted_zones_by_name(DNSName=zone, MaxItems="10")["HostedZones"]
    except (ClientError, BotoCoreError) as exc:
        raise LiveTargetError(f"looking up hosted zone {zone} failed: {exc}") from exc
    public = [
        z for z in found
        if _name(z["Name"]) == _name(zone) and not z.get("Config", {}).get("PrivateZone")
    ]  # fmt: skip
    if not public:
        raise LiveTargetError(f"no public Route 53 hosted zone {zone!r}", fix="check traffic.zone")
    return str(public[0]["Id"]).rsplit("/", 1)[-1]
