"""``cognito-idp:moto``: Amazon Cognito user pools, served by moto, with each pool's JWKS.

LocalStack's open core has no Cognito: it answers every ``cognito-idp`` call with
``InternalFailure: The API for service cognito-idp is either not included in your current
license plan or has not yet been emulated by LocalStack``, and a pool's JWKS path falls through
to S3 (``NoSuchBucket``). moto (moto-ext, a LocalStack
dependency) implements user pools. This provider implements no operation itself: every
operation of the cognito-idp API goes to moto's backend (state per account and region in
``moto.cognitoidp.models.cognitoidp_backends``, in memory), as ``dynamodb:moto`` does for
DynamoDB. moto's tokens are made AWS's by :mod:`moto_cognito`.

Requests are serialized by one lock: moto's backend keeps users, groups and tokens in plain
dicts and sets that requests on LocalStack's many threads would otherwise change and iterate at
once (a group deleted while a token lists the user's groups).

Each pool's public signing key is served where AWS serves it, relative to the endpoint:
``GET <endpoint>/<user pool id>/.well-known/jwks.json`` (AWS:
``https://cognito-idp.<region>.amazonaws.com/<user pool id>/.well-known/jwks.json``), e.g. from a
function as ``$AWS_ENDPOINT_URL/<pool id>/.well-known/jwks.json``; 404 for a pool that does not
exist. The route is on LocalStack's gateway router, which runs before a request is matched to a
service; it matches only paths whose first segment has the shape of a pool id
(``<region>_<id>``), which no S3 bucket name can have (underscore, capitals), so path-style S3
requests are never taken.

Installed by the ``hostmode_cognito`` start-up hook when ``PROVIDER_OVERRIDE_COGNITO_IDP=moto``
(``lsctl`` sets it): moto is patched then, so a moto that no longer matches the patches stops
LocalStack at start-up instead of serving moto's tokens.

For tests only, a control route issues an access token that has already expired (AWS issues
none shorter than 5 minutes, so an API's refusal of an expired token cannot be shown otherwise):
``POST /_hostmode/cognito/expired-token`` with ``{"user_pool_id", "client_id", "username",
"expired_seconds_ago": 3600}`` answers ``{"AccessToken": "<jwt>"}``, the token a sign-in of that
user with that app client gets (claims, the pool's key and ``kid``, ``cognito:groups``) except
that ``exp`` is ``expired_seconds_ago`` seconds ago and ``iat``/``auth_time`` one hour before
``exp`` (:func:`moto_cognito.expired_access_token`); 400 ``{"error": "bad_request", "message"}``
for a missing or ill-typed field, an unknown pool, client or user, or ``expired_seconds_ago`` not
a positive integer.
"""

from __future__ import annotations

import json
import logging
import threading

from localstack.http import Request, Response, route
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider

from . import moto_cognito

LOG = logging.getLogger(__name__)

# The shape of a user pool id (AWS: [\w-]+_[0-9a-zA-Z]+), narrowed to a region prefix; no
# parentheses or backslashes, which werkzeug's converter arguments do not take.
POOL_ID_PATTERN = "[a-z]+-[a-z-]+-[0-9]+_[0-9A-Za-z]+"
JWKS_PATH = "/<regex('" + POOL_ID_PATTERN + "'):pool_id>/.well-known/jwks.json"
EXPIRED_TOKEN_PATH = "/_hostmode/cognito/expired-token"

_MOTO_LOCK = threading.Lock()


class MotoCognitoIdpProvider(ServiceLifecycleHook):
    """No operation of its own: the dispatch table sends every one to moto."""

    service = "cognito-idp"


def _moto_dispatch_table(provider: object) -> dict:
    from localstack.aws.spec import load_service
    from localstack.services.moto import call_moto

    def serialized_moto(context, service_request=None):
        with _MOTO_LOCK:
            return call_moto(context)

    return {operation: serialized_moto for operation in load_service("cognito-idp").operation_names}


@aws_provider(api="cognito-idp", name="moto")
def cognito_idp_moto():
    moto_cognito.install()
    return Service.for_provider(MotoCognitoIdpProvider(), dispatch_table_factory=_moto_dispatch_table)


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class JwksRoutes:
    @route(JWKS_PATH, methods=["GET"])
    def jwks(self, request: Request, pool_id: str) -> Response:
        pool = moto_cognito.find_pool(pool_id)
        if pool is None:
            return _json({"code": "ResourceNotFoundException", "message": f"User pool {pool_id} does not exist."}, 404)
        return _json({"keys": [moto_cognito.public_jwk(pool.json_web_key)]})


def _bad_request(message: str) -> Response:
    return _json({"error": "bad_request", "message": message}, 400)


class ExpiredTokenRoute:
    """Test-only: an already-expired access token of a pool (see the module's docstring)."""

    @route(EXPIRED_TOKEN_PATH, methods=["POST"])
    def expired_token(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _bad_request("body must be a JSON object")
        fields = {}
        for name in ("user_pool_id", "client_id", "username"):
            value = body.get(name)
            if not isinstance(value, str) or not value:
                return _bad_request(f"'{name}' is required: a non-empty string")
            fields[name] = value
        seconds = body.get("expired_seconds_ago")
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            return _bad_request("'expired_seconds_ago' is required: a positive integer (seconds)")
        try:
            with _MOTO_LOCK:
                token = moto_cognito.expired_access_token(
                    fields["user_pool_id"], fields["client_id"], fields["username"], seconds
                )
        except moto_cognito.TokenRequestError as e:
            return _bad_request(str(e))
        LOG.info("hostmode: expired access token issued for %s in %s", fields["username"], fields["user_pool_id"])
        return _json({"AccessToken": token})


def install() -> None:
    from localstack.services.edge import ROUTER

    moto_cognito.install()
    ROUTER.add(JwksRoutes())
    ROUTER.add(ExpiredTokenRoute())
    LOG.info(
        "hostmode: cognito-idp served by moto, pool JWKS at /<pool id>/.well-known/jwks.json, "
        "test-only expired access tokens at %s",
        EXPIRED_TOKEN_PATH,
    )
