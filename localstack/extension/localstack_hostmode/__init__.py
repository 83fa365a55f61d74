"""localstack-hostmode: run LocalStack's open core on a host without Docker.

Plugins (registered through entry points, see pyproject.toml):

- ``localstack.lambda.runtime_executor`` ``hostmode``: runs ``provided.*`` zip functions as host
  processes behind a Lambda Runtime API server (select with ``LAMBDA_RUNTIME_EXECUTOR=hostmode``).
- ``localstack.aws.provider`` ``dynamodb:moto``: DynamoDB served by moto, no DynamoDB Local jar
  (select with ``PROVIDER_OVERRIDE_DYNAMODB=moto``).
- ``localstack.runtime.server`` ``twisted-loopback``: LocalStack's Twisted gateway server, but
  bound to the host given in ``GATEWAY_LISTEN`` (select with ``GATEWAY_SERVER=twisted-loopback``).
- ``localstack.hooks.on_infra_start`` ``hostmode_verify_patches`` (first): every LocalStack/moto
  symbol the other hooks and providers patch is still what :mod:`patched` lists, or start-up
  stops naming what moved.
- ``localstack.hooks.on_infra_start`` ``hostmode_enforcement``: IAM enforcement for role sessions,
  fault rules for functions' own calls, and their control routes under ``/_hostmode/``
  (:mod:`enforcement`); DynamoDB transaction conflicts live in the provider (:mod:`contention`).
- ``localstack.hooks.on_infra_shutdown`` ``hostmode_kill_function_processes``: ends every
  function process on shutdown.
"""

__version__ = "0.1.0"
