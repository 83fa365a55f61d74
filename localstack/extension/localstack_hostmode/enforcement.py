"""Where IAM enforcement and fault rules meet LocalStack's request chain, and their control API.

Installed at start-up (``on_infra_start`` hook, see pyproject.toml):

- a request handler in ``serve_custom_service_request_handlers``, which runs after the request
  is parsed (service, operation, parameters, account, region known) and before the service
  serves it: it authorizes role sessions (:mod:`iam`), then applies fault rules to functions'
  own calls (:mod:`faults`);
- a response handler that turns an ``applied`` fault's successful answer into the error (the
  write happened, the caller hears it failed: a lost response);
- routes on the gateway, for ``make faults`` and the tests:

  ``GET/PUT/POST/DELETE /_hostmode/faults``  rules and their counters; PUT ``{"rules": "...",
  "seed": 1}`` replaces them (400 naming the bad rule), POST ``{"rules": "..."}`` adds them
  ahead of the others (they decide their calls first),
  DELETE removes the rules given (``{"rules": "..."}``) or all
  ``GET /_hostmode/faults/log``         every injected error (time, rule, function, resources)
  ``GET/DELETE /_hostmode/iam/denials``  the last denials
  ``GET/DELETE /_hostmode/iam/usage``    per role, the (action, resource) pairs it was allowed
  ``GET/DELETE /_hostmode/capacity``    DynamoDB units per caller, table, index, read/write (:mod:`capacity`)
  ``GET/PUT /_hostmode/contention``     the conflict window (``{"window_ms": 20}``) and counts
  ``POST /_hostmode/kill``              SIGKILL a function's environments (chaos.py);
  ``GET /_hostmode/kills``              what was killed
  ``GET /_hostmode/requests``           requests served, by service, operation, internal or not
  ``GET /_hostmode/mappings``           per SQS mapping: messages, batches, peak in flight (:mod:`esm`)
  ``GET /_hostmode/config``             what is on
  (``GET/PUT /_hostmode/delivery``, the reorder window, lives in :mod:`delivery`)
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter

from localstack.aws.api import CommonServiceException
from localstack.http import Request, Response, route
from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

from . import callers, iam
from .capacity import CAPACITY
from .contention import CONTENTION
from .faults import ENGINE, RuleError, build_exception, sdk_attempt

LOG = logging.getLogger(__name__)

# service -> (code, HTTP status) of its access-denied error
_ACCESS_DENIED = {
    "dynamodb": ("AccessDeniedException", 400),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
}


def enforce_iam() -> bool:
    return os.environ.get("ENFORCE_IAM", "1").strip().lower() not in ("0", "false", "no", "off")


def access_denied(service: str, message: str) -> CommonServiceException:
    code, status = _ACCESS_DENIED.get(service, ("AccessDeniedException", 403))
    return CommonServiceException(code, message, status_code=status, sender_fault=True)


def unsigned_operation(operation) -> bool:
    """Whether AWS's API model marks the operation as unsigned (``authtype: none``, Smithy
    ``noAuth``): Cognito's InitiateAuth, RespondToAuthChallenge, SignUp, GetUser (authorized by
    the user's access token), ..., STS's AssumeRoleWithWebIdentity. AWS evaluates no IAM policy
    for them ("Amazon Cognito doesn't evaluate Identity and Access Management (IAM) policies in
    requests for this API operation"), so a role session that signs one anyway is not checked."""
    return operation.auth_type == "none" or "smithy.api#noAuth" in (getattr(operation, "auth", None) or ())


class RequestCounts:
    """Requests the gateway served, by service, operation and origin (LocalStack's own internal
    calls, e.g. SNS delivering to SQS or Lambda shipping logs, are not in its request log):
    for benchmarks, requests per order (``GET /_hostmode/requests``)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, bool]] = Counter()
        self._lock = threading.Lock()

    def count(self, service: str, operation: str, internal: bool) -> None:
        with self._lock:
            self._counts[(service, operation, internal)] += 1

    def snapshot(self) -> list[dict]:
        with self._lock:
            items = list(self._counts.items())
        return [
            {"service": s, "operation": o, "internal": i, "count": n}
            for (s, o, i), n in sorted(items, key=lambda kv: -kv[1])
        ]


REQUESTS = RequestCounts()


class Guard:
    """The request handler: IAM first (a denied call never reaches a fault rule), then faults."""

    def __call__(self, chain, context, response):
        if context.service is None or context.operation is None:
            return
        service = context.service.service_name
        operation = context.operation.name
        REQUESTS.count(service, operation, context.is_internal_call)
        params = context.service_request or {}
        access_key = extract_access_key_id_from_auth_header(context.request.headers)
        if enforce_iam():
            if (service, operation) == ("lambda", "CreateEventSourceMapping"):
                check_mapping_role(context, params)
            if not unsigned_operation(context.operation):
                self._authorize(context, service, operation, params, access_key)
        if context.is_internal_call:
            return
        function = callers.function_for(access_key)
        if function is None:
            return
        attempt = sdk_attempt(context.request.headers)
        fault = ENGINE.decide(service, operation, params, function, attempt)
        if fault is None:
            return
        if fault.latency_s:
            time.sleep(fault.latency_s)
        if fault.error is None:
            return
        exc = build_exception(service, operation, fault.error, params)
        LOG.info(
            "hostmode fault: %s %s.%s -> %s%s (rule %s)",
            function,
            service,
            operation,
            fault.error,
            " after applying it" if fault.applied else "",
            fault.rule.text,
        )
        if fault.applied:
            context.hostmode_fault = exc
            return
        raise exc

    @staticmethod
    def _authorize(context, service, operation, params, access_key):
        principal = iam.principal_for(access_key, context.account_id)
        if principal is None:
            return
        pairs = iam.authorizations(service, operation, params, context.region, context.account_id)
        if not pairs:
            return
        policies = iam.role_policies(principal)
        for action, resource in pairs:
            decision = iam.evaluate(policies, action, resource)
            if decision.allowed:
                iam.USAGE.add(principal, action, resource)
                continue
            message = iam.denial_message(principal, decision)
            iam.DENIALS.add(principal, service, operation, decision, context.is_internal_call)
            LOG.warning("hostmode IAM denied (%s.%s): %s", service, operation, message)
            raise access_denied(service, message)


# What Lambda checks on an SQS mapping's execution role when the mapping is created.
_SQS_MAPPING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


def check_mapping_role(context, params):
    """AWS refuses an SQS event source mapping whose function's role cannot poll the queue, at
    creation (so a deploy fails), with this error; LocalStack would create it and fail later."""
    source = params.get("EventSourceArn") or ""
    if ":sqs:" not in source:
        return
    from localstack.services.lambda_.invocation.models import lambda_stores

    name = params.get("FunctionName") or ""
    name = name.split(":function:", 1)[-1].split(":", 1)[0]
    function = lambda_stores[context.account_id][context.region].functions.get(name)
    if function is None:
        return  # Lambda answers ResourceNotFoundException itself
    role_arn = function.latest().config.role
    principal = iam.Principal(
        role_name=role_arn.rsplit("/", 1)[-1], session_arn=role_arn, account_id=role_arn.split(":")[4]
    )
    policies = iam.role_policies(principal)
    for action in _SQS_MAPPING_ACTIONS:
        if not iam.evaluate(policies, action, source).allowed:
            LOG.warning("hostmode IAM: mapping refused, %s lacks %s on %s", role_arn, action, source)
            raise CommonServiceException(
                "InvalidParameterValueException",
                f"The provided execution role does not have permissions to call {action[4:]} on SQS",
                status_code=400,
                sender_fault=True,
            )


def lost_response(chain, context, response):
    """Response handler for ``applied`` faults: the call took effect; answer the error."""
    exc = getattr(context, "hostmode_fault", None)
    if exc is None or response.status_code >= 400:
        return
    from localstack.aws.protocol.serializer import create_serializer

    error = create_serializer(context.service).serialize_error_to_response(
        exc, context.operation, context.request.headers, context.request_id
    )
    response.update_from(error)


def _json(body, status=200) -> Response:
    return Response(json.dumps(body, indent=1), status=status, mimetype="application/json")


def _body(request: Request) -> dict:
    try:
        data = json.loads(request.get_data() or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


class ControlApi:
    @route("/_hostmode/faults", methods=["GET"])
    def get_faults(self, request: Request):
        return _json(ENGINE.snapshot())

    @route("/_hostmode/faults", methods=["PUT", "POST", "DELETE"])
    def change_faults(self, request: Request):
        """PUT replaces the rules, POST adds ahead, DELETE removes the given ones (all without a
        body)."""
        try:
            body = _body(request)
            rules = body.get("rules", "")
            if not isinstance(rules, str):
                raise ValueError("'rules' must be a string: service:operation:error:rate[:option...],...")
            if request.method == "PUT":
                seed = body.get("seed")
                ENGINE.set_rules(rules, seed=int(seed) if seed is not None else None)
            elif request.method == "POST":
                ENGINE.add_rules(rules)
            elif rules:
                ENGINE.remove_rules(rules)
            else:
                ENGINE.clear()
        except (RuleError, ValueError) as e:
            return _json({"error": "bad_rules", "message": str(e)}, 400)
        LOG.info("hostmode faults %s: %s", request.method, rules or "(all)")
        return _json(ENGINE.snapshot())

    @route("/_hostmode/faults/log", methods=["GET"])
    def faults_log(self, request: Request):
        return _json({"faults": ENGINE.log()})

    @route("/_hostmode/iam/denials", methods=["GET"])
    def denials(self, request: Request):
        return _json(iam.DENIALS.snapshot())

    @route("/_hostmode/iam/denials", methods=["DELETE"])
    def clear_denials(self, request: Request):
        iam.DENIALS.clear()
        return _json(iam.DENIALS.snapshot())

    @route("/_hostmode/iam/usage", methods=["GET"])
    def usage(self, request: Request):
        return _json(iam.USAGE.snapshot())

    @route("/_hostmode/iam/usage", methods=["DELETE"])
    def clear_usage(self, request: Request):
        iam.USAGE.clear()
        return _json({})

    @route("/_hostmode/capacity", methods=["GET"])
    def get_capacity(self, request: Request):
        return _json(CAPACITY.snapshot())

    @route("/_hostmode/capacity", methods=["DELETE"])
    def clear_capacity(self, request: Request):
        CAPACITY.clear()
        return _json(CAPACITY.snapshot())

    @route("/_hostmode/contention", methods=["GET"])
    def get_contention(self, request: Request):
        return _json(CONTENTION.snapshot())

    @route("/_hostmode/contention", methods=["PUT", "POST"])
    def put_contention(self, request: Request):
        try:
            window = float(_body(request)["window_ms"])
            if window < 0:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            return _json({"error": "bad_request", "message": 'expected {"window_ms": <number >= 0>}'}, 400)
        CONTENTION.set_window(window)
        return _json(CONTENTION.snapshot())

    @route("/_hostmode/kill", methods=["POST"])
    def kill(self, request: Request):
        from . import chaos

        try:
            body = _body(request)
            killed = chaos.kill(str(body.get("function", "")), busy_only=bool(body.get("busy_only", False)))
        except ValueError as e:
            return _json({"error": "bad_request", "message": str(e)}, 400)
        return _json({"killed": killed})

    @route("/_hostmode/kills", methods=["GET"])
    def kills(self, request: Request):
        from . import chaos

        return _json({"kills": chaos.kills()})

    @route("/_hostmode/requests", methods=["GET"])
    def requests(self, request: Request):
        return _json({"requests": REQUESTS.snapshot()})

    @route("/_hostmode/mappings", methods=["GET"])
    def mappings(self, request: Request):
        from . import esm

        return _json({"mappings": esm.stats()})

    @route("/_hostmode/config", methods=["GET"])
    def config(self, request: Request):
        from .delivery import REORDER

        return _json(
            {
                "enforce_iam": enforce_iam(),
                "conflict_window_ms": CONTENTION.snapshot()["window_ms"],
                "fault_rules": len(ENGINE.snapshot()["rules"]),
                "reorder_ms": REORDER.ms,
            }
        )


def install() -> None:
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    handlers.serve_custom_service_request_handlers.append(Guard())
    handlers.run_custom_response_handlers.append(lost_response)
    ROUTER.add(ControlApi())
    LOG.info(
        "hostmode: IAM enforcement %s, DynamoDB conflict window %s ms",
        "on" if enforce_iam() else "off (ENFORCE_IAM=0)",
        CONTENTION.snapshot()["window_ms"],
    )
