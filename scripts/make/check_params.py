"""Checks the template parameters that must agree with each other, before a deploy to either
target. CloudFormation `Rules` cannot compute (no arithmetic) and LocalStack does not evaluate
them, so the deploy scripts run this instead: a bad combination fails here, with the reason,
before anything is deployed.

    python scripts/make/check_params.py infra/template.yaml [Name=Value ...]

Values not given come from the template's defaults. Exit 0 when consistent, 2 otherwise.
"""

from __future__ import annotations

import sys

import yaml

# API Gateway's integration timeout (REST, default) and the longest Lambda's init phase may take.
API_GATEWAY_LIMIT = 29
LAMBDA_INIT_LIMIT = 10


class _AnyTag(yaml.SafeLoader):
    """Reads CloudFormation YAML: short-form intrinsics (!Ref, !Sub, ...) become plain values."""


_AnyTag.add_multi_constructor("!", lambda loader, suffix, node: None)


def parameters(template_path: str, overrides: list[str]) -> dict[str, str]:
    with open(template_path) as f:
        template = yaml.load(f, Loader=_AnyTag)
    values = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    for o in overrides:
        name, sep, value = o.partition("=")
        if not sep:
            raise SystemExit(f"error: parameter override {o!r} is not Name=Value")
        if name not in values:
            raise SystemExit(f"error: the template has no parameter {name!r}")
        values[name] = value
    return values


def problems(p: dict[str, str]) -> list[str]:
    def num(name: str) -> float:
        try:
            return float(p[name])
        except ValueError:
            raise SystemExit(f"error: {name}={p[name]!r} is not a number") from None

    out = []
    visibility, consumer = num("QueueVisibilityTimeoutSeconds"), num("ConsumerTimeoutSeconds")
    if visibility < 6 * consumer:
        out.append(
            f"QueueVisibilityTimeoutSeconds ({visibility:g}) must be at least 6 x ConsumerTimeoutSeconds "
            f"({consumer:g} -> {6 * consumer:g}): otherwise a message whose batch is still running, or "
            "whose function is being retried, becomes visible again and is processed twice at once "
            "(AWS guidance for SQS event sources)"
        )
    grace, api = num("OutboxGraceSeconds"), num("ApiTimeoutSeconds")
    if grace <= api:
        out.append(
            f"OutboxGraceSeconds ({grace:g}) must exceed ApiTimeoutSeconds ({api:g}): otherwise the sweeper "
            "republishes an order whose request is still running, and may publish one that request "
            "is about to roll back"
        )
    # API Gateway's 29 s run from the request, a cold start's init phase included (Lambda lets it
    # take up to 10 s); the function's timeout starts after it. Past 19 s a cold request can
    # still be inside its timeout when the gateway gives up with a bare 504.
    if api + LAMBDA_INIT_LIMIT > API_GATEWAY_LIMIT:
        out.append(
            f"ApiTimeoutSeconds ({api:g}) + Lambda's init limit ({LAMBDA_INIT_LIMIT} s, a cold start) must "
            f"fit in API Gateway's {API_GATEWAY_LIMIT} s: at most {API_GATEWAY_LIMIT - LAMBDA_INIT_LIMIT} s, "
            "or a cold request answers API Gateway's bare 504 while the function still runs"
        )
    pending = num("PendingTimeoutSeconds")
    if pending <= grace:
        out.append(
            f"PendingTimeoutSeconds ({pending:g}) must exceed OutboxGraceSeconds ({grace:g}): otherwise an "
            "order whose event was only waiting to be republished is rejected first"
        )
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    found = problems(parameters(argv[1], argv[2:]))
    for p in found:
        print(f"error: {p}", file=sys.stderr)
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
