"""The template writes each consumer's queue family out in full (queue, redrive DLQ,
subscription DLQ, queue policy, subscription, two alarms, outputs, the function's SQS event):
`Fn::ForEach` cannot express them in a form that LocalStack 2026.3 expands the way AWS does
(see docs/design.md). This test keeps the three copies from drifting apart: they must be the
same, except for the family's name, the topic it subscribes to, its filter and the alarm text.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")
FAMILIES = ("Inventory", "OrderStatus", "Notification")
MEMBERS = ("DLQ", "Queue", "SubscriptionDLQ", "QueuePolicy", "Subscription", "DLQAlarm", "SubscriptionDLQAlarm")
OUTPUTS = ("QueueUrl", "DLQUrl", "SubscriptionDLQUrl")


class _Tagged(yaml.SafeLoader):
    """CloudFormation YAML with short-form intrinsics kept: `!Ref X` -> {"!Ref": "X"}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {"!" + suffix: value}


_Tagged.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    with open(TEMPLATE) as f:
        return yaml.load(f, Loader=_Tagged)


def topic_of(template: dict[str, Any], family: str) -> str:
    return template["Resources"][f"{family}Subscription"]["Properties"]["TopicArn"]["!Ref"]


def normalized(template: dict[str, Any], family: str) -> dict[str, Any]:
    """The family's resources with what may differ replaced by placeholders."""
    topic = topic_of(template, family)
    res = template["Resources"]
    parts: dict[str, Any] = {m: res[family + m] for m in MEMBERS}
    parts["outputs"] = {o: template["Outputs"][family + o] for o in OUTPUTS}
    parts["event"] = next(e for e in res[f"{family}Function"]["Properties"]["Events"].values() if e["Type"] == "SQS")[
        "Properties"
    ]

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items() if k not in ("FilterPolicy", "AlarmDescription")}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str):
            return v.replace(topic, "<Topic>").replace(family, "<Family>")
        return v

    return walk(parts)


def test_every_consumer_family_has_the_same_shape(template):
    shapes = {f: normalized(template, f) for f in FAMILIES}
    for family in FAMILIES[1:]:
        assert shapes[family] == shapes[FAMILIES[0]], family


def test_a_queue_accepts_messages_from_the_topic_it_subscribes_to(template):
    for family in FAMILIES:
        policy = template["Resources"][f"{family}QueuePolicy"]["Properties"]["PolicyDocument"]
        source = policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]["!Ref"]
        assert source == topic_of(template, family), family
        types = template["Resources"][f"{family}Subscription"]["Properties"]["FilterPolicy"]["type"]
        assert types and all(isinstance(t, str) for t in types), family


def test_sweeper_runs_cannot_overlap(template: dict[str, Any]) -> None:
    """A run ends before the next scheduled one starts, and Lambda does not retry a failed run
    beside the next one (the issue: timeout equal to the period, plus async retries)."""
    props = template["Resources"]["OutboxSweeperFunction"]["Properties"]
    rate = props["Events"]["EveryMinute"]["Properties"]["Schedule"]
    assert rate == "rate(1 minute)", rate
    assert props["Timeout"] < 60, props["Timeout"]
    invoke = props.get("EventInvokeConfig", {})
    assert invoke.get("MaximumRetryAttempts") == 0, invoke
    assert invoke.get("MaximumEventAgeInSeconds", 21600) <= 60, invoke
