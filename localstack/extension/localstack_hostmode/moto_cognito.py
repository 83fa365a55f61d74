"""User pool tokens as Amazon Cognito issues them, on moto's ``cognitoidp`` backend.

moto (moto-ext 5.1.54, shipped with localstack-core) implements user pools, but its tokens differ
from AWS's in ways a token verifier notices. Patched here, each where moto decides it:

- **One key for every pool.** moto signs every pool's tokens with one RSA key it ships
  (``resources/jwks-private.json``, ``kid`` ``"dummy"``), so a token of one pool verified against
  another pool's JWKS. AWS gives each user pool its own signing keys, published at the pool's
  ``jwks_uri`` (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html).
  Each pool gets a fresh 2048-bit RSA key here, its ``kid`` the base64 SHA-256 thumbprint of
  the public key (RFC 7638; AWS's look alike: 44 characters ending in ``=``); the token header is
  ``{"kid", "alg": "RS256"}`` as AWS writes it (no ``typ``).
- **Claims.** AWS's ID and access tokens carry ``iat`` (moto has none); ``exp`` follows the app
  client's ``IdTokenValidity``/``AccessTokenValidity`` in its ``TokenValidityUnits`` (default one
  hour; moto always used one hour, and so did ``ExpiresIn``); ``auth_time`` is when the user
  authenticated, kept by tokens refreshed from that sign-in (moto restamped it on refresh);
  ``cognito:groups``, the names of the user's groups, is in both tokens whenever the user
  belongs to a group (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html
  and .../amazon-cognito-user-pools-using-the-access-token.html; moto-ext 5.1.54 adds it too,
  older moto did not: it is set here whatever moto does, in group precedence order); an ID token
  of a client without ``ReadAttributes`` carries the user's standard attributes (AWS: "When you
  don't specify the ReadAttributes for your app client, your app can read ... the standard
  attributes"; moto added none), ``email_verified``/``phone_number_verified`` as booleans.
- **Auth flows.** AWS refuses a flow the app client's ``ExplicitAuthFlows`` does not enable
  (``InvalidParameterException: USER_PASSWORD_AUTH flow not enabled for this client``, from
  AdminInitiateAuth ``Auth flow not enabled for this client``); a client
  created without them allows ``ALLOW_REFRESH_TOKEN_AUTH``, ``ALLOW_USER_SRP_AUTH`` and
  ``ALLOW_CUSTOM_AUTH`` only (CreateUserPoolClient's API reference). moto allowed any flow. With
  ``PreventUserExistenceErrors=ENABLED`` an unknown user is ``NotAuthorizedException: Incorrect
  username or password.``, not ``UserNotFoundException``.
- **Updates.** ``UpdateUserPool`` cannot change ``UsernameAttributes``, ``AliasAttributes`` or
  ``UsernameConfiguration``, but moto rebuilt the pool's settings from the request and forgot
  them (after any update, sign-in by email stopped working); it ignored ``PoolName``.
  ``UpdateUserPoolClient`` sets every setting it is not given to its default on AWS ("If you
  don't provide a value for an attribute, Amazon Cognito sets it to its default value"); moto
  kept the old values, so a flow removed from a template stayed allowed.
- **Pool settings moto ignored.** ``DeletionProtection: ACTIVE``: AWS refuses ``DeleteUserPool``
  (``InvalidParameterException``), so a stack holding such a pool cannot be deleted; moto
  deleted it. ``UsernameConfiguration: {CaseSensitive: false}``: AWS finds users whatever the
  case of the name they sign in (or are looked up) with, and refuses a second user whose name
  differs only in case; moto compared names exactly.

:func:`expired_access_token` makes, for tests, an access token that expired in the past (AWS
issues none shorter than 5 minutes): moto's own ``create_access_token`` and the patched
``create_jwt``, with the issue time and expiry set for that one call.

:func:`install` checks first that every moto symbol it patches is there with the signature it
expects, and fails LocalStack's start-up with the reason if not (a moto upgrade must not turn
the patches off silently).
"""

from __future__ import annotations

import base64
import contextlib
import inspect
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

# How each moto function patched or called here is called (parameter names after ``self``).
EXPECTED = {
    "CognitoIdpUserPool.__init__": ["account_id", "region", "name", "extended_config"],
    "CognitoIdpUserPool.create_jwt": ["client_id", "username", "token_use", "expires_in", "extra_data"],
    "CognitoIdpBackend.initiate_auth": ["client_id", "auth_flow", "auth_parameters"],
    "CognitoIdpBackend.admin_initiate_auth": ["user_pool_id", "client_id", "auth_flow", "auth_parameters"],
    "CognitoIdpBackend.update_user_pool": ["user_pool_id", "extended_config"],
    "CognitoIdpBackend.update_user_pool_client": ["user_pool_id", "client_id", "extended_config"],
    "CognitoIdpUserPoolClient.__init__": ["user_pool_id", "generate_secret", "extended_config"],
    "CognitoIdpUserPool._get_user": ["username"],
    "CognitoIdpBackend.delete_user_pool": ["user_pool_id"],
    "CognitoIdpUserPool.create_access_token": ["client_id", "username", "origin_jti"],
}
# Other names of moto.cognitoidp.models used here.
REQUIRED_NAMES = (
    "jwt",
    "jwk",
    "cognitoidp_backends",
    "InvalidParameterException",
    "NotAuthorizedError",
    "UserNotFoundError",
)

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}

# InitiateAuth/AdminInitiateAuth flow -> the ExplicitAuthFlows values that enable it (the
# ALLOW_ names, and the legacy ones AWS still accepts).
FLOW_ENABLED_BY = {
    "USER_PASSWORD_AUTH": {"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"},
    "ADMIN_USER_PASSWORD_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
    "ADMIN_NO_SRP_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
    "USER_SRP_AUTH": {"ALLOW_USER_SRP_AUTH"},
    "CUSTOM_AUTH": {"ALLOW_CUSTOM_AUTH", "CUSTOM_AUTH_FLOW_ONLY"},
    "REFRESH_TOKEN_AUTH": {"ALLOW_REFRESH_TOKEN_AUTH"},
    "REFRESH_TOKEN": {"ALLOW_REFRESH_TOKEN_AUTH"},
}
# A client created without ExplicitAuthFlows.
DEFAULT_FLOWS = {"ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"}
# Legacy-style clients (no ALLOW_ value) always had SRP and refresh.
LEGACY_ALWAYS = {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}

# What UpdateUserPool cannot change.
POOL_SETTINGS_FIXED_AT_CREATION = ("UsernameAttributes", "AliasAttributes", "UsernameConfiguration")

_BOOLEAN_CLAIMS = ("email_verified", "phone_number_verified")

_install_lock = threading.Lock()

# (iat, exp) of the tokens this thread creates inside issued_between(); unset: now, now + validity
_issue_window = threading.local()


@contextlib.contextmanager
def issued_between(iat: int, exp: int) -> Iterator[None]:
    """Tokens the patched ``create_jwt`` makes on this thread in this block get this ``iat`` (and
    ``auth_time``) and ``exp`` instead of now and now plus the client's validity."""
    _issue_window.value = (iat, exp)
    try:
        yield
    finally:
        del _issue_window.value


class MotoMismatch(RuntimeError):
    pass


def check(models: Any) -> None:
    """Raise MotoMismatch naming each patched moto symbol that is missing or changed."""
    problems = []
    for name in REQUIRED_NAMES:
        if not hasattr(models, name):
            problems.append(f"moto.cognitoidp.models.{name} is missing")
    for dotted, params in EXPECTED.items():
        cls_name, attr = dotted.split(".")
        fn = getattr(getattr(models, cls_name, None), attr, None)
        if fn is None:
            problems.append(f"moto.cognitoidp.models.{dotted} is missing")
            continue
        fn = getattr(fn, "_hostmode_original", fn)
        got = list(inspect.signature(fn).parameters)[1:]
        if got[: len(params)] != params:
            problems.append(f"moto.cognitoidp.models.{dotted} takes {got}, expected {params}")
    if problems:
        raise MotoMismatch(
            "localstack-hostmode: moto's cognito-idp backend changed; the patches in "
            "moto_cognito.py need updating: " + "; ".join(problems)
        )


def new_signing_key() -> Any:
    """A user pool's own RS256 key pair, its kid the base64 SHA-256 thumbprint of its public part."""
    from moto.cognitoidp.models import jwk  # joserfc's, as moto imports it

    key = jwk.RSAKey.generate_key(2048, private=True)
    digest = base64.urlsafe_b64decode(key.thumbprint() + "==")
    kid = base64.b64encode(digest).decode()
    return jwk.RSAKey.import_key(key.as_dict(private=True), {"kid": kid, "alg": "RS256", "use": "sig"})


def public_jwk(key: Any) -> dict:
    """The JWKS entry of a pool's key, as AWS publishes it."""
    public = key.as_dict(private=False)
    return {"kid": public["kid"], "alg": "RS256", "kty": "RSA", "e": public["e"], "n": public["n"], "use": "sig"}


def token_validity_seconds(client_config: dict, token_use: str) -> int:
    """exp - iat of an ID or access token of an app client (AWS's default: one hour)."""
    name = "AccessToken" if token_use == "access" else "IdToken"
    value = client_config.get(f"{name}Validity")
    if value is None:
        return 3600
    unit = (client_config.get("TokenValidityUnits") or {}).get(name) or "hours"
    return int(value) * _UNIT_SECONDS[unit]


def enabled_flows(client_config: dict) -> set[str]:
    flows = set(client_config.get("ExplicitAuthFlows") or ())
    if not flows:
        return set(DEFAULT_FLOWS)
    if not any(f.startswith("ALLOW_") for f in flows):
        flows |= LEGACY_ALWAYS
    return flows


def flow_enabled(auth_flow: str, client_config: dict) -> bool:
    """Whether the app client allows the flow (flows not gated by ExplicitAuthFlows: yes)."""
    needs = FLOW_ENABLED_BY.get(auth_flow)
    return needs is None or bool(needs & enabled_flows(client_config))


def case_sensitive(pool_config: dict) -> bool:
    """Whether user names are compared exactly (a pool created without UsernameConfiguration:
    yes, as CreateUserPool's default)."""
    return (pool_config.get("UsernameConfiguration") or {}).get("CaseSensitive", True) is not False


class _JwtSignedWithPoolKey:
    """Stands in for joserfc's ``jwt`` module inside ``moto.cognitoidp.models``: tokens get the
    signing key's own kid in their header (moto writes ``"dummy"``) and no ``typ``, as AWS's."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def encode(self, header: dict, claims: dict, key: Any, *args: Any, **kwargs: Any) -> str:
        kid = getattr(key, "kid", None)
        if kid:
            header = {"kid": kid, "alg": header.get("alg", "RS256")}
            kwargs.setdefault("default_type", None)
        return self._module.encode(header, claims, key, *args, **kwargs)


def _group_order(group: Any) -> tuple:
    precedence = getattr(group, "precedence", None)
    return (precedence is None, precedence if precedence is not None else 0, group.group_name)


def _readable_attributes(user: Any) -> dict[str, Any]:
    """The standard attributes of a user, as an ID token of a client without ReadAttributes
    carries them."""
    out: dict[str, Any] = {}
    for attr in user.attributes:
        name = attr["Name"]
        if name == "sub" or name.startswith(("custom:", "dev:")):
            continue
        out[name] = attr["Value"]
    return out


def install() -> None:
    """Patch moto's cognitoidp backend (idempotent); fail if moto is not what the patches expect."""
    from moto.cognitoidp import models

    with _install_lock:
        check(models)
        pool_cls = models.CognitoIdpUserPool
        if getattr(pool_cls, "_hostmode_patched", False):
            return
        backend_cls = models.CognitoIdpBackend
        client_defaults = dict(models.CognitoIdpUserPoolClient("check", False, None).extended_config)

        original_init = pool_cls.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            self.json_web_key = new_signing_key()
            self.hostmode_auth_times = {}

        original_create_jwt = pool_cls.create_jwt

        def create_jwt(
            self: Any,
            client_id: str,
            username: str,
            token_use: str,
            expires_in: int | None = None,
            extra_data: dict | None = None,
        ) -> tuple[str, int]:
            client = self.clients.get(client_id)
            client_config = client.extended_config if client is not None else {}
            window = getattr(_issue_window, "value", None)
            if window is not None:
                now, expires_in = window[0], window[1] - window[0]
            else:
                now = int(time.time())
            if expires_in is None:
                expires_in = token_validity_seconds(client_config, token_use)
            claims = dict(extra_data or {})
            user = self._get_user(username)
            if token_use == "id" and not client_config.get("ReadAttributes"):
                claims = {**_readable_attributes(user), **claims}
            for name in _BOOLEAN_CLAIMS:
                if isinstance(claims.get(name), str):
                    claims[name] = claims[name].lower() == "true"
            origin = claims.get("origin_jti")
            auth_times = self.__dict__.setdefault("hostmode_auth_times", {})
            auth_time = auth_times.setdefault(origin, now) if origin else now
            claims.update(iat=now, auth_time=auth_time, exp=now + expires_in)
            # AWS: "cognito:groups" in the ID and the access token of a user in any group.
            groups = sorted(user.groups, key=_group_order)
            if groups:
                claims["cognito:groups"] = [g.group_name for g in groups]
            else:
                claims.pop("cognito:groups", None)
            return original_create_jwt(self, client_id, username, token_use, expires_in, claims)

        def flows_checked(original: Any, admin: bool) -> Any:
            def initiate(self: Any, *args: Any) -> Any:
                client_id, auth_flow = (args[1], args[2]) if admin else (args[0], args[1])
                client = None
                for pool in self.user_pools.values():
                    client = pool.clients.get(client_id) or client
                if client is not None and not flow_enabled(auth_flow, client.extended_config):
                    # AWS's words: "Auth flow not enabled for this client" for the admin flows
                    raise models.InvalidParameterException(
                        f"{'Auth' if admin else auth_flow} flow not enabled for this client"
                    )
                try:
                    return original(self, *args)
                except models.UserNotFoundError:
                    if client is not None and client.extended_config.get("PreventUserExistenceErrors") == "ENABLED":
                        raise models.NotAuthorizedError("Incorrect username or password.") from None
                    raise

            initiate._hostmode_original = original  # type: ignore[attr-defined]
            return initiate

        original_get_user = pool_cls._get_user

        def _get_user(self: Any, username: str) -> Any:
            user = original_get_user(self, username)
            if user is not None or not isinstance(username, str) or case_sensitive(self.extended_config):
                return user
            wanted = username.lower()
            keys = self.extended_config.get("UsernameAttributes") or []
            for candidate in self.users.values():
                names = [candidate.username, *(candidate.attribute_lookup.get(k) for k in keys)]
                if any(isinstance(n, str) and n.lower() == wanted for n in names):
                    return candidate
            return None

        original_delete_pool = backend_cls.delete_user_pool

        def delete_user_pool(self: Any, user_pool_id: str) -> None:
            pool = self.describe_user_pool(user_pool_id)
            if pool.extended_config.get("DeletionProtection") == "ACTIVE":
                raise models.InvalidParameterException(
                    "The user pool cannot be deleted because deletion protection is activated. "
                    "Deletion protection must be inactivated first."
                )
            original_delete_pool(self, user_pool_id)

        original_update_pool = backend_cls.update_user_pool

        def update_user_pool(self: Any, user_pool_id: str, extended_config: dict) -> None:
            pool = self.describe_user_pool(user_pool_id)
            config = {k: v for k, v in (extended_config or {}).items() if k not in ("UserPoolId", "PoolName")}
            for name in POOL_SETTINGS_FIXED_AT_CREATION:
                config.pop(name, None)
                if name in pool.extended_config:
                    config[name] = pool.extended_config[name]
            original_update_pool(self, user_pool_id, config)
            if (extended_config or {}).get("PoolName"):
                pool.name = extended_config["PoolName"]

        original_update_client = backend_cls.update_user_pool_client

        def update_user_pool_client(self: Any, user_pool_id: str, client_id: str, extended_config: dict) -> Any:
            pool = self.describe_user_pool(user_pool_id)
            client = pool.clients.get(client_id)
            if client is not None:
                name = client.extended_config.get("ClientName")
                client.extended_config = {**client_defaults, "ClientName": name}
            config = {k: v for k, v in (extended_config or {}).items() if k not in ("UserPoolId", "ClientId")}
            return original_update_client(self, user_pool_id, client_id, config)

        replaced: list[tuple[Any, Any]] = [
            (__init__, original_init),
            (create_jwt, original_create_jwt),
            (update_user_pool, original_update_pool),
            (update_user_pool_client, original_update_client),
            (_get_user, original_get_user),
            (delete_user_pool, original_delete_pool),
        ]
        for fn, original in replaced:
            fn._hostmode_original = original

        models.jwt = _JwtSignedWithPoolKey(models.jwt)
        pool_cls.__init__ = __init__
        pool_cls.create_jwt = create_jwt
        backend_cls.initiate_auth = flows_checked(backend_cls.initiate_auth, admin=False)
        backend_cls.admin_initiate_auth = flows_checked(backend_cls.admin_initiate_auth, admin=True)
        backend_cls.update_user_pool = update_user_pool
        backend_cls.update_user_pool_client = update_user_pool_client
        pool_cls._get_user = _get_user
        backend_cls.delete_user_pool = delete_user_pool
        pool_cls._hostmode_patched = True


def find_pool(pool_id: str) -> Any:
    """The user pool with this id in any account and region moto has state for, or None."""
    from moto.cognitoidp.models import cognitoidp_backends

    for account_backends in list(cognitoidp_backends.values()):
        for backend in list(account_backends.values()):
            pool = backend.user_pools.get(pool_id)
            if pool is not None:
                return pool
    return None


class TokenRequestError(ValueError):
    pass


EXPIRED_TOKEN_LIFETIME = 3600  # exp - iat of an expired_access_token


def expired_access_token(pool_id: str, client_id: str, username: str, expired_seconds_ago: int) -> str:
    """An access token of the pool for the user and app client, exactly as a sign-in issues it
    (claims, the pool's key and kid, ``cognito:groups``) except that it expired
    ``expired_seconds_ago`` seconds ago, one hour after its ``iat``/``auth_time``. Made by moto's
    ``create_access_token`` (the patched ``create_jwt``); not registered as a signed-in token, so
    GetUser and the other token-authorized calls refuse it (NotAuthorizedException) as AWS refuses an
    expired one. Call with moto's state locked. TokenRequestError names an unknown pool, client or
    user."""
    if expired_seconds_ago <= 0:
        raise TokenRequestError("expired_seconds_ago must be a positive number of seconds")
    pool = find_pool(pool_id)
    if pool is None:
        raise TokenRequestError(f"User pool {pool_id} does not exist.")
    if client_id not in pool.clients:
        raise TokenRequestError(f"Client {client_id} does not exist in user pool {pool_id}.")
    if pool._get_user(username) is None:
        raise TokenRequestError(f"User {username} does not exist in user pool {pool_id}.")
    exp = int(time.time()) - expired_seconds_ago
    origin_jti = str(uuid.uuid4())
    with issued_between(exp - EXPIRED_TOKEN_LIFETIME, exp):
        token, _ = pool.create_access_token(client_id, username, origin_jti=origin_jti)
    pool.access_tokens.pop(token, None)
    pool.__dict__.get("hostmode_auth_times", {}).pop(origin_jti, None)
    return token
