"""AWS errors on demand: fault rules applied to the functions' own calls, set at run time.

A rule is ``service:operation:error:rate[:option...]``; ``RULES`` is a comma-separated list.

- ``operation``: the API operation (``PutItem``), or ``*``.
- ``error``: one of :data:`ERRORS` (AWS's codes, HTTP statuses and bodies, so an SDK classifies
  them as it would on AWS), or ``none`` (only the latency option applies).
- ``rate``: probability in [0, 1] that a matching call faults.
- options: ``resource=NAME`` (table, topic or queue name, not an ARN), ``function=NAME``
  (only calls of functions whose name contains NAME), ``latency=800ms`` (or ``1.5s``: a delay
  before the call runs, then the error if any), ``every=N`` (deterministic: the Nth, 2Nth, ...
  matching call faults, ignoring ``rate``; an SDK's retries of a call, marked
  ``amz-sdk-request: attempt=N``, are attempts of that call, not new calls, so a faulted call
  succeeds on its retry however the calls of concurrent clients interleave), ``applied`` (the
  call takes effect, then the error is returned: a lost response).

Only calls signed with a function's own credentials are candidates (the executor registers
them, :mod:`callers`); the event source mapping's calls, LocalStack's internal calls and
everything signed with long-term keys (deploys, tests, your shell) are never faulted.

Each rule counts the calls it matched, faulted, delayed, and the SDK retries it saw after a fault
(an ``amz-sdk-request: attempt=N`` header with N > 1 on a matching call).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field

# error name -> (services it exists in, code, HTTP status, message)
ERRORS: dict[str, tuple[tuple[str, ...], str, int, str]] = {
    "ThrottlingException": (
        ("dynamodb",),
        "ThrottlingException",
        400,
        "Rate of requests exceeds the allowed throughput.",
    ),
    "ProvisionedThroughputExceededException": (
        ("dynamodb",),
        "ProvisionedThroughputExceededException",
        400,
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    "RequestLimitExceeded": (
        ("dynamodb",),
        "RequestLimitExceeded",
        400,
        "Throughput exceeds the current throughput limit for your account. "
        "Please contact AWS Support at https://aws.amazon.com/support request a limit increase",
    ),
    "InternalServerError": (("dynamodb",), "InternalServerError", 500, "Internal server error"),
    # A request DynamoDB refuses for what it is (an item over 400 KB, a bad expression): the
    # same request meets it again, so nothing should retry it.
    "ValidationException": (
        ("dynamodb",),
        "ValidationException",
        400,
        "Item size has exceeded the maximum allowed size",
    ),
    "ServiceUnavailable": (("dynamodb", "sns", "sqs"), "ServiceUnavailable", 503, "Service Unavailable"),
    # TransactWriteItems: TransactionCanceledException with a TransactionConflict reason;
    # a single-item write: TransactionConflictException (see :func:`build_exception`).
    "TransactionConflict": (("dynamodb",), "TransactionConflict", 400, "Transaction is ongoing for the item"),
    "Throttled": (("sns",), "Throttled", 429, "Rate exceeded"),
    "InternalError": (("sns",), "InternalError", 500, "Internal Error"),
    "RequestThrottled": (("sqs",), "RequestThrottled", 403, "Rate exceeded"),
    "none": (("dynamodb", "sns", "sqs"), "", 0, ""),
}
SERVICES = ("dynamodb", "sns", "sqs")


class RuleError(ValueError):
    pass


@dataclass
class Rule:
    text: str
    service: str
    operation: str
    error: str
    rate: float
    resource: str | None = None
    function: str | None = None
    latency_s: float = 0.0
    every: int | None = None
    applied: bool = False
    matched: int = 0
    calls: int = 0  # first attempts matched (what every=N counts)
    faulted: int = 0
    delayed: int = 0
    retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict:
        return {
            "rule": self.text,
            "service": self.service,
            "operation": self.operation,
            "error": self.error,
            "rate": self.rate,
            "resource": self.resource,
            "function": self.function,
            "latency_ms": round(self.latency_s * 1000),
            "every": self.every,
            "applied": self.applied,
            "matched": self.matched,
            "calls": self.calls,
            "faulted": self.faulted,
            "delayed": self.delayed,
            "retried": self.retried,
        }


def _duration(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", text.strip())
    if not m:
        raise RuleError(f"latency '{text}': expected a number with ms or s, e.g. 800ms")
    value = float(m.group(1))
    return value / 1000 if m.group(2) == "ms" else value


def parse_rule(text: str) -> Rule:
    # before splitting on ":": an ARN would be cut into pieces ("unknown option 'aws'")
    if re.search(r"(?:^|:)\s*resource=arn:", text):
        raise RuleError(f"rule '{text}': resource takes a name, not an ARN")
    parts = [p.strip() for p in text.strip().split(":")]
    if len(parts) < 4:
        raise RuleError(f"rule '{text}': expected service:operation:error:rate[:option...]")
    service, operation, error, rate_s, *options = parts
    if service not in SERVICES:
        raise RuleError(f"rule '{text}': service '{service}' is not one of {', '.join(SERVICES)}")
    if not re.fullmatch(r"\*|[A-Z][A-Za-z]+", operation):
        raise RuleError(f"rule '{text}': operation '{operation}' is not an API operation or *")
    if error not in ERRORS:
        raise RuleError(f"rule '{text}': unknown error '{error}'; known: {', '.join(ERRORS)}")
    if service not in ERRORS[error][0]:
        raise RuleError(f"rule '{text}': {service} has no error '{error}'")
    try:
        rate = float(rate_s)
    except ValueError:
        raise RuleError(f"rule '{text}': rate '{rate_s}' is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise RuleError(f"rule '{text}': rate {rate} is not within [0, 1]")
    rule = Rule(text=text.strip(), service=service, operation=operation, error=error, rate=rate)
    for opt in options:
        key, _, value = opt.partition("=")
        if key == "resource" and value:
            rule.resource = value
        elif key == "function" and value:
            rule.function = value
        elif key == "latency" and value:
            rule.latency_s = _duration(value)
        elif key == "every" and value:
            if not value.isdigit() or int(value) < 1:
                raise RuleError(f"rule '{text}': every={value} must be a whole number >= 1")
            rule.every = int(value)
        elif key == "applied" and not value:
            rule.applied = True
        else:
            raise RuleError(
                f"rule '{text}': unknown option '{opt}' (resource=NAME, function=NAME, latency=800ms, every=N, applied)"
            )
    if error == "none" and not rule.latency_s:
        raise RuleError(f"rule '{text}': error 'none' needs a latency option")
    if rule.applied and error == "none":
        raise RuleError(f"rule '{text}': 'applied' needs an error")
    return rule


def parse_rules(text: str) -> list[Rule]:
    return [parse_rule(t) for t in text.split(",") if t.strip()]


# -- which resource names a call touches ---------------------------------------------------------


def resource_names(service: str, params: dict) -> set[str]:
    params = params or {}
    names: set[str] = set()
    if service == "dynamodb":
        if "TableName" in params:
            names.add(params["TableName"].rsplit("/", 1)[-1])
        for item in params.get("TransactItems", []):
            for body in item.values():
                if isinstance(body, dict) and "TableName" in body:
                    names.add(body["TableName"].rsplit("/", 1)[-1])
        names.update(t.rsplit("/", 1)[-1] for t in params.get("RequestItems", {}))
    elif service == "sns":
        for key in ("TopicArn", "TargetArn"):
            if params.get(key):
                names.add(params[key].rsplit(":", 1)[-1])
    elif service == "sqs":
        if params.get("QueueUrl"):
            names.add(params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1])
        if params.get("QueueName"):
            names.add(params["QueueName"])
    return names


def sdk_attempt(headers) -> int:
    """The attempt number an AWS SDK puts in ``amz-sdk-request`` (1 when absent)."""
    m = re.search(r"attempt=(\d+)", headers.get("amz-sdk-request", "") or "")
    return int(m.group(1)) if m else 1


# -- the engine ----------------------------------------------------------------------------------


@dataclass
class Fault:
    rule: Rule
    error: str | None  # None: latency only
    latency_s: float
    applied: bool


class FaultEngine:
    def __init__(self, seed: int | None = None):
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._random = random.Random(seed)
        self._log: deque[dict] = deque(maxlen=50_000)  # a soak's worth
        self.total_faults = 0

    def set_rules(self, text: str, seed: int | None = None) -> list[Rule]:
        rules = parse_rules(text)  # raises before anything changes
        with self._lock:
            self._rules = rules
            self._log.clear()
            self.total_faults = 0
            if seed is not None:
                self._random.seed(seed)
        return rules

    def add_rules(self, text: str) -> list[Rule]:
        """Adds rules ahead of the others, keeping those and their counters: a test's targeted
        rule decides its calls first, next to a broad pinned set."""
        rules = parse_rules(text)
        with self._lock:
            self._rules = rules + self._rules
        return rules

    def remove_rules(self, text: str) -> int:
        """Removes the rules written exactly so; returns how many."""
        gone = {r.text for r in parse_rules(text)}
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.text not in gone]
            return before - len(self._rules)

    def clear(self) -> None:
        self.set_rules("")

    def snapshot(self) -> dict:
        with self._lock:
            return {"rules": [r.as_dict() for r in self._rules], "total_faults": self.total_faults}

    def log(self) -> list[dict]:
        with self._lock:
            return list(self._log)

    def decide(self, service: str, operation: str, params: dict, function: str, attempt: int) -> Fault | None:
        """The fault for this call, if a rule fires (the first matching rule that fires wins);
        every matching rule counts the call."""
        rules = self._rules
        if not rules:
            return None
        names = None
        chosen = None
        for rule in rules:
            if rule.service != service or rule.operation not in ("*", operation):
                continue
            if rule.function and rule.function not in function:
                continue
            if rule.resource:
                if names is None:
                    names = resource_names(service, params)
                if rule.resource not in names:
                    continue
            with rule.lock:
                rule.matched += 1
                if attempt > 1:
                    rule.retried += 1
                else:
                    rule.calls += 1
                if chosen is not None:
                    continue
                if rule.every is not None:
                    fires = attempt == 1 and rule.calls % rule.every == 0
                else:
                    with self._lock:
                        fires = self._random.random() < rule.rate
                if not fires:
                    continue
                if rule.error != "none":
                    rule.faulted += 1
                if rule.latency_s:
                    rule.delayed += 1
            chosen = Fault(
                rule=rule,
                error=None if rule.error == "none" else rule.error,
                latency_s=rule.latency_s,
                applied=rule.applied,
            )
        if chosen is not None and chosen.error is not None:
            with self._lock:
                self.total_faults += 1
                self._log.append(
                    {
                        "time": time.time(),
                        "rule": chosen.rule.text,
                        "function": function,
                        "service": service,
                        "operation": operation,
                        "resources": sorted(names if names is not None else resource_names(service, params)),
                        "error": chosen.error,
                        "applied": chosen.applied,
                        "attempt": attempt,
                    }
                )
        return chosen


ENGINE = FaultEngine()


def build_exception(service: str, operation: str, error: str, params: dict):
    """The ServiceException LocalStack serializes into AWS's wire format for this error."""
    from localstack.aws.api import CommonServiceException

    _, code, status, message = ERRORS[error]
    if error == "TransactionConflict":
        if operation == "TransactWriteItems":
            return transaction_canceled(len((params or {}).get("TransactItems", [])), {0})
        return CommonServiceException(
            "TransactionConflictException", "Transaction is ongoing for the item", status_code=400, sender_fault=True
        )
    return CommonServiceException(code, message, status_code=status, sender_fault=status < 500)


def transaction_canceled(n_items: int, conflicting: set[int]):
    """DynamoDB's TransactionCanceledException: one reason per item, in request order."""
    from localstack.aws.api.dynamodb import TransactionCanceledException

    reasons = [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        if i in conflicting
        else {"Code": "None"}
        for i in range(max(n_items, 1))
    ]
    codes = ", ".join(r["Code"] for r in reasons)
    exc = TransactionCanceledException(
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
    )
    exc.CancellationReasons = reasons
    return exc
