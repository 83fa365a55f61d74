"""``dynamodb:moto``: the DynamoDB API served by moto (moto-ext ships with localstack-core).

LocalStack's own DynamoDB providers forward every call to "DynamoDB Local", a vendor jar under a
non-open licence that is not installed here. This provider implements no operation itself: every
call raises ``NotImplementedError`` in the empty ``DynamodbApi`` base and the
``MotoFallbackDispatcher`` hands it to moto's DynamoDB backend (state per account and region in
``moto.dynamodb.models.dynamodb_backends``, in memory). The CloudFormation ``AWS::DynamoDB::Table``
resource provider talks to this API, so template tables work too.

Not covered: DynamoDB Streams (LocalStack's streams provider reads DynamoDB Local's streams) and
persistence across restarts.
"""

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """Every operation falls through to moto."""


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    provider = MotoDynamoDBProvider()
    return Service.for_provider(provider, dispatch_table_factory=MotoFallbackDispatcher)
