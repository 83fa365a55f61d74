"""Plugin entry points. Imports stay lazy: LocalStack loads these classes while it starts."""

from localstack.runtime import hooks
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostModeRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "hostmode"

    def load(self, *args, **kwargs):
        from .executor import HostModeRuntimeExecutor

        return HostModeRuntimeExecutor


class LoopbackTwistedRuntimeServerPlugin(RuntimeServerPlugin):
    name = "twisted-loopback"

    def load(self, *args, **kwargs) -> RuntimeServer:
        from .server import LoopbackTwistedRuntimeServer

        return LoopbackTwistedRuntimeServer()


@hooks.on_infra_start(priority=100)
def hostmode_verify_patches():
    """Before any patch: every LocalStack/moto symbol the extension patches or relies on is still
    there, as the manifest says (patched.py); if not, LocalStack stops here naming what moved."""
    from .patched import verify

    verify()


@hooks.on_infra_start()
def hostmode_enforcement():
    """IAM enforcement and fault rules in the request chain, and their control routes."""
    from .enforcement import install

    install()


@hooks.on_infra_start()
def hostmode_fast_sqs_mappings():
    """SQS event source mappings that long-poll and run batches concurrently, as on AWS
    (``HOSTMODE_FAST_SQS=0`` keeps LocalStack's own poller, for comparisons)."""
    import os

    from .esm import install

    if os.environ.get("HOSTMODE_FAST_SQS", "1") != "0":
        install()


@hooks.on_infra_start()
def hostmode_speedups():
    """Per-request costs cut without changing any answer (metrics, content types, moto copies;
    ``HOSTMODE_SPEEDUPS=0`` turns them off, for comparisons)."""
    import os

    from .speedups import install

    if os.environ.get("HOSTMODE_SPEEDUPS", "1") != "0":
        install()


@hooks.on_infra_start()
def hostmode_delivery():
    """Standard queues and SNS -> SQS deliveries out of order, as on AWS, when a reorder window
    is set (``HOSTMODE_REORDER_MS``, or ``PUT /_hostmode/delivery`` at run time)."""
    from .delivery import install

    install()


@hooks.on_infra_start()
def hostmode_lambda_limits():
    """Lambda's invocation payload limits (6 MB synchronous, 1 MB asynchronous), as on AWS."""
    from .limits import install

    install()


@hooks.on_infra_start()
def hostmode_cfn_roles():
    """Stack updates that change a role's inline policies apply them, as on AWS."""
    from .cfn_roles import install

    install()


@hooks.on_infra_start()
def hostmode_cfn_stacks():
    """DescribeStacks without a name lists no deleted stack, as on AWS."""
    from .cfn_stacks import install

    install()


@hooks.on_infra_start()
def hostmode_cognito():
    """Cognito user pools served by moto, with AWS's tokens and each pool's JWKS on the gateway,
    when the cognito-idp provider is ``moto`` (``PROVIDER_OVERRIDE_COGNITO_IDP=moto``, set by
    lsctl). moto is patched here, at start-up, so that a moto the patches no longer fit stops
    LocalStack with the reason instead of serving moto's own tokens."""
    from localstack import config

    if config.SERVICE_PROVIDER_CONFIG.get_provider("cognito-idp") == "moto":
        from .cognito import install

        install()


@hooks.on_infra_shutdown()
def hostmode_kill_function_processes():
    """Belt and braces: the Lambda service stops its environments on shutdown; this makes sure
    no function process survives even if that path fails."""
    from .processes import REGISTRY

    REGISTRY.kill_all()
