"""Lambda's invocation payload limits, which the open core does not check (LocalStack leaves
them to its Docker runtime's init binary, which host mode does not use).

- synchronous (``RequestResponse``): over 6,291,456 bytes, ``RequestEntityTooLargeException``
  (413) "Request must be smaller than 6291456 bytes for the InvokeFunction operation", AWS's text;
- asynchronous (``Event``): over 1,048,576 bytes (AWS raised it from 256 KB to 1 MB in 2025; the
  Invoke API reference: "For asynchronous invocations, the maximum payload size is 1 MB"), the
  same exception, worded as AWS worded the 256 KB one: "<n> byte payload is too large for the
  Event invocation type (limit 1048576 bytes)".

A request handler in the chain, so every Invoke is checked wherever it comes from: SDKs, and
LocalStack's own calls (API Gateway's Lambda integrations, SNS), except the event source
mappings' (internal calls naming no service principal): AWS's pollers size their batches to fit
the limit, LocalStack's do not, so checking them would fail batches AWS delivers.
"""

from __future__ import annotations

import io
import logging

from localstack.aws.api import CommonServiceException

LOG = logging.getLogger(__name__)

SYNC_LIMIT = 6 * 1024 * 1024
ASYNC_LIMIT = 1024 * 1024


def too_large(message: str) -> CommonServiceException:
    return CommonServiceException("RequestEntityTooLargeException", message, status_code=413, sender_fault=True)


def check(invocation_type: str | None, size: int) -> None:
    if invocation_type == "Event":
        if size > ASYNC_LIMIT:
            raise too_large(
                f"{size} byte payload is too large for the Event invocation type (limit {ASYNC_LIMIT} bytes)"
            )
    elif invocation_type != "DryRun" and size > SYNC_LIMIT:
        raise too_large(f"Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation")


def payload_limits(chain, context, response) -> None:
    if context.service is None or context.operation is None:
        return
    if (context.service.service_name, context.operation.name) != ("lambda", "Invoke"):
        return
    internal = context.internal_request_params
    if internal is not None and not internal.get("service_principal"):
        return  # an event source mapping's batch (see above)
    params = context.service_request or {}
    payload = params.get("Payload")
    if payload is None:
        return
    if hasattr(payload, "read"):
        # the parser hands a stream over: read it once and give the provider a fresh one
        data = payload.read()
        params["Payload"] = io.BytesIO(data)
    else:
        data = payload
    try:
        check(params.get("InvocationType"), len(data))
    except CommonServiceException as e:
        LOG.info("hostmode: Invoke of %s refused: %s", params.get("FunctionName"), e.message)
        raise


def install() -> None:
    from localstack.aws import handlers

    handlers.serve_custom_service_request_handlers.append(payload_limits)
