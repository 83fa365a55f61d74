"""`AWS::CloudWatch::Dashboard` for LocalStack's CloudFormation.

The open core has no resource provider for it and skips the resource (unsupported types are
ignored), so a dashboard whose body AWS would refuse deployed "fine" here. This provider creates
it through CloudWatch `PutDashboard`, and first checks the body the way `PutDashboard` does on
AWS (the documented dashboard body structure): a JSON object with a `widgets` list; each widget
of a known type, inside the 24-column grid; a metric widget with a `region` and `metrics` rows
of namespace, metric name, dimension name/value pairs and an optional options object (or `.`
to repeat the row above); a text widget with `markdown`. A refused body fails the stack with
the reasons, as on AWS.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from localstack.services.cloudformation import provider_utils as util
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer"}


def _metric_row_problems(where: str, row: Any) -> list[str]:
    if not isinstance(row, list) or not row:
        return [f"{where}: a metric row must be a non-empty array"]
    if len(row) == 1 and isinstance(row[0], dict) and "expression" in row[0]:
        return []  # a math expression row
    *fields, last = row
    if not isinstance(last, dict):
        fields.append(last)
    if not all(isinstance(f, str) for f in fields):
        return [f"{where}: namespace, metric name and dimensions must be strings"]
    if len(fields) < 2 or len(fields) % 2:
        return [f"{where}: expected namespace, metric name, then dimension name/value pairs; got {len(fields)} strings"]
    return []


def body_problems(body: str) -> list[str]:
    """Why `PutDashboard` would refuse `body`; empty when it is a valid dashboard body."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        return [f"DashboardBody is not JSON: {e}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("widgets"), list):
        return ["DashboardBody must be an object with a widgets array"]
    problems = []
    for i, w in enumerate(doc["widgets"]):
        where = f"widgets[{i}]"
        if not isinstance(w, dict) or w.get("type") not in WIDGET_TYPES:
            problems.append(f"{where}: type must be one of {sorted(WIDGET_TYPES)}")
            continue
        for key, lo, hi in (("x", 0, 23), ("width", 1, 24), ("height", 1, 1000)):
            v = w.get(key)
            if v is not None and not (isinstance(v, int) and lo <= v <= hi):
                problems.append(f"{where}.{key}: must be an integer from {lo} to {hi}")
        if isinstance(w.get("x"), int) and isinstance(w.get("width"), int) and w["x"] + w["width"] > 24:
            problems.append(f"{where}: x + width exceeds the 24 grid columns")
        props = w.get("properties")
        if not isinstance(props, dict):
            problems.append(f"{where}.properties: required")
            continue
        if w["type"] == "text" and not isinstance(props.get("markdown"), str):
            problems.append(f"{where}.properties.markdown: required for a text widget")
        if w["type"] == "metric":
            if not isinstance(props.get("region"), str):
                problems.append(f"{where}.properties.region: required for a metric widget")
            rows = props.get("metrics")
            if not isinstance(rows, list) or not rows:
                problems.append(f"{where}.properties.metrics: a non-empty array is required")
                continue
            for j, row in enumerate(rows):
                if isinstance(row, list) and row and row[0] == "." and j > 0:
                    continue
                problems += _metric_row_problems(f"{where}.properties.metrics[{j}]", row)
    return problems


class DashboardProvider(ResourceProvider[dict]):
    TYPE = "AWS::CloudWatch::Dashboard"
    SCHEMA: ClassVar[dict] = {
        "typeName": TYPE,
        "primaryIdentifier": ["/properties/DashboardName"],
        "required": ["DashboardBody"],
        "createOnlyProperties": ["/properties/DashboardName"],
    }

    def _put(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        model = request.desired_state
        if not model.get("DashboardName"):
            model["DashboardName"] = util.generate_default_name(
                stack_name=request.stack_name, logical_resource_id=request.logical_resource_id
            )
        problems = body_problems(model.get("DashboardBody") or "")
        if problems:
            return ProgressEvent(
                status=OperationStatus.FAILED,
                resource_model=model,
                message="The dashboard body is invalid: " + "; ".join(problems[:10]),
                error_code="InvalidParameterInput",
            )
        request.aws_client_factory.cloudwatch.put_dashboard(
            DashboardName=model["DashboardName"], DashboardBody=model["DashboardBody"]
        )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def create(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        return self._put(request)

    def update(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        return self._put(request)

    def delete(self, request: ResourceRequest[dict]) -> ProgressEvent[dict]:
        name = request.desired_state.get("DashboardName")
        if name:
            request.aws_client_factory.cloudwatch.delete_dashboards(DashboardNames=[name])
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model={})


class DashboardProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::CloudWatch::Dashboard"

    def __init__(self):
        self.factory: type[ResourceProvider] | None = None

    def load(self):
        self.factory = DashboardProvider
