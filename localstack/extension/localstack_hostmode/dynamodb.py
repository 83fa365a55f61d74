"""``dynamodb:moto``: the DynamoDB API served by moto (moto-ext ships with localstack-core).

LocalStack's own DynamoDB providers forward every call to "DynamoDB Local", a vendor jar under a
non-open licence that is not installed here. This provider implements no operation itself: every
call raises ``NotImplementedError`` in the empty ``DynamodbApi`` base and the
``MotoFallbackDispatcher`` hands it to moto's DynamoDB backend (state per account and region in
``moto.dynamodb.models.dynamodb_backends``, in memory). The CloudFormation ``AWS::DynamoDB::Table``
resource provider talks to this API, so template tables work too.

Requests are serialized. moto's DynamoDB backend is not thread-safe, and LocalStack serves
requests on many threads: a transaction backs up every table it touches with ``deepcopy`` and
restores that copy when it fails, so a failing transaction running beside other writes wipes
them (lost updates), and the copy itself can crash on a table another thread is changing
("dictionary changed size during iteration"). DynamoDB itself is atomic per item and per
transaction; one lock restores that guarantee at the cost of parallelism, which a local
emulator can afford (each request takes about a millisecond in moto).

Transaction conflicts are modelled on top of the lock (:mod:`contention`): a request that would
have met an ongoing transaction on DynamoDB gets DynamoDB's conflict error before moto runs it.

A transaction backs up only the items it names, not whole tables (:mod:`moto_transactions`).

Every request's consumed capacity is computed as on-demand DynamoDB bills it, answered for
``ReturnConsumedCapacity`` and recorded per caller (:mod:`moto_capacity`, :mod:`capacity`).

Not covered: DynamoDB Streams (LocalStack's streams provider reads DynamoDB Local's streams) and
persistence across restarts.
"""

import threading
import time

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider


class MotoDynamoDBProvider(DynamodbApi, ServiceLifecycleHook):
    """Every operation falls through to moto."""


_MOTO_LOCK = threading.Lock()


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.aws.forwarder import ForwardingFallbackDispatcher
    from localstack.services.moto import call_moto

    from . import moto_capacity, moto_queries, moto_transactions
    from .contention import CONTENTION, moto_key_of

    moto_transactions.install()
    moto_queries.install()
    moto_capacity.install()

    def serialized_moto(context, service_request=None):
        ongoing_s = 0.0
        try:
            with _MOTO_LOCK:
                conflict, ongoing_s = CONTENTION.check(
                    (context.account_id, context.region),
                    context.operation.name,
                    context.service_request,
                    moto_key_of(context.account_id, context.region),
                )
                if conflict is not None:
                    raise conflict
                return moto_capacity.metered(context, lambda: call_moto(context))
        finally:
            # a transaction is "ongoing" until its answer, cancelled or not (contention.py)
            if ongoing_s:
                time.sleep(ongoing_s)

    provider = MotoDynamoDBProvider()
    return Service.for_provider(
        provider, dispatch_table_factory=lambda p: ForwardingFallbackDispatcher(p, serialized_moto)
    )
