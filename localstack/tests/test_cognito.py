"""Amazon Cognito user pools (the extension's cognito.py, moto_cognito.py, cognito_cfn.py): a
CloudFormation stack's pool, app client and group; users signed in with USER_PASSWORD_AUTH and
REFRESH_TOKEN_AUTH, unsigned as on AWS and never stopped by IAM enforcement; tokens verified
with PyJWT against the pool's JWKS fetched over HTTP, as a function or an API would, claim by
claim; each pool signing with its own key; flows the client does not enable refused; stack
updates in place and deletion; the test-only route that issues an already-expired access
token."""

import json
import re
import time

import boto3
import jwt
import pytest
import requests
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import (
    ACCOUNT,
    ENDPOINT,
    REGION,
    TOOLS_PYTHON,
    allow,
    create_role,
    delete_role,
    denials,
    hostmode,
    invoke,
    policy,
    poll,
    unique,
    zip_bootstrap,
)

PASSWORD = "Corr3ct-Horse9"
POOL_ID = re.compile(r"^us-east-1_[0-9A-Za-z]+$")
JWK_FIELDS = {"kid", "alg", "kty", "e", "n", "use"}


# -- helpers -----------------------------------------------------------------------------------


def template(min_length=10, access_minutes=30, id_minutes=45, description="Operators", precedence=1, schema=None):
    schema = schema or [
        {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
        {
            "Name": "tenant",
            "AttributeDataType": "String",
            "Mutable": True,
            "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
        },
    ]
    client = {
        "UserPoolId": {"Ref": "Pool"},
        "ClientName": "web",
        "GenerateSecret": False,
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "AccessTokenValidity": access_minutes,
        "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes"},
    }
    if id_minutes:
        client["IdTokenValidity"] = id_minutes
    resources = {
        "Pool": {
            "Type": "AWS::Cognito::UserPool",
            "Properties": {
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": min_length,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": False,
                    }
                },
                "AutoVerifiedAttributes": ["email"],
                "UsernameAttributes": ["email"],
                "Schema": schema,
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            },
        },
        "Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": client},
        "Operators": {
            "Type": "AWS::Cognito::UserPoolGroup",
            "Properties": {
                "UserPoolId": {"Ref": "Pool"},
                "GroupName": "operators",
                "Description": description,
                "Precedence": precedence,
            },
        },
    }
    outputs = {
        "PoolRef": {"Value": {"Ref": "Pool"}},
        "PoolArn": {"Value": {"Fn::GetAtt": ["Pool", "Arn"]}},
        "ProviderName": {"Value": {"Fn::GetAtt": ["Pool", "ProviderName"]}},
        "ProviderURL": {"Value": {"Fn::GetAtt": ["Pool", "ProviderURL"]}},
        "UserPoolId": {"Value": {"Fn::GetAtt": ["Pool", "UserPoolId"]}},
        "ClientRef": {"Value": {"Ref": "Client"}},
        "GroupRef": {"Value": {"Ref": "Operators"}},
    }
    return json.dumps({"Resources": resources, "Outputs": outputs})


def settle(cfn, stack):
    def done():
        s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        return s if not s["StackStatus"].endswith("_IN_PROGRESS") else None

    return poll(done, timeout=60, interval=0.3, what=f"stack {stack} to settle")


def deleted(cfn, stack):
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    except ClientError as e:
        return "does not exist" in e.response["Error"]["Message"]


def outputs(desc):
    return {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}


def deploy(cfn, stack, body):
    cfn.create_stack(StackName=stack, TemplateBody=body)
    desc = settle(cfn, stack)
    assert desc["StackStatus"] == "CREATE_COMPLETE", desc.get("StackStatusReason")
    return outputs(desc)


def unsigned_cognito():
    """A client with no credentials at all: InitiateAuth is an unsigned call on AWS."""
    return boto3.client(
        "cognito-idp", endpoint_url=ENDPOINT, region_name=REGION, config=Config(signature_version=UNSIGNED)
    )


def sign_in(client_id, username, password=PASSWORD):
    result = unsigned_cognito().initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password}
    )
    return result["AuthenticationResult"]


def jwks_url(pool_id):
    return f"{ENDPOINT}/{pool_id}/.well-known/jwks.json"


def issuer(pool_id):
    return f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"


def verified(token, pool_id, client_id=None):
    """The token's claims once PyJWT has checked its RS256 signature with the key of its kid in
    the pool's JWKS (fetched over HTTP), its issuer, expiry, iat and, for an ID token, audience."""
    key = jwt.PyJWKClient(jwks_url(pool_id), cache_jwk_set=False).get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        issuer=issuer(pool_id),
        audience=client_id,
        leeway=5,
        options={"require": ["exp", "iat", "auth_time", "sub", "token_use", "iss"]},
    )


def make_user(cognito, pool_id, group=None):
    username = f"{unique('op')}@example.com"
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": username},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:tenant", "Value": "acme"},
        ],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    if group:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    return {"username": username, "sub": attrs["sub"], "status": user["UserStatus"]}


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(aws):
    """One stack for the module: pool, client (30 min access, 45 min ID tokens) and group."""
    cfn = aws("cloudformation")
    name = unique("cognito")
    try:
        out = deploy(cfn, name, template())
        yield {"name": name, "pool": out["PoolRef"], "client": out["ClientRef"], "outputs": out}
    finally:
        cfn.delete_stack(StackName=name)


@pytest.fixture(scope="module")
def operator(aws, stack):
    """A confirmed user of the stack's pool, in its `operators` group."""
    return make_user(aws("cognito-idp"), stack["pool"], group="operators")


# -- tests -------------------------------------------------------------------------------------


def test_the_stack_creates_the_pool_client_and_group_with_aws_return_values(aws, stack):
    cognito = aws("cognito-idp")
    pool, out = stack["pool"], stack["outputs"]
    assert POOL_ID.match(pool), pool
    assert out["UserPoolId"] == pool
    assert out["PoolArn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool}"
    assert out["ProviderName"] == f"cognito-idp.{REGION}.amazonaws.com/{pool}"
    assert out["ProviderURL"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"
    assert out["GroupRef"] == "operators"

    described = cognito.describe_user_pool(UserPoolId=pool)["UserPool"]
    assert described["Name"].startswith(stack["name"])
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
    assert described["Policies"]["PasswordPolicy"]["RequireSymbols"] is False
    assert described["UsernameAttributes"] == ["email"]
    assert described["AutoVerifiedAttributes"] == ["email"]
    assert described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "custom:tenant" in [a["Name"] for a in described["SchemaAttributes"]]

    client = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=stack["client"])["UserPoolClient"]
    assert client["ClientName"] == "web"
    assert "ClientSecret" not in client
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    assert (client["AccessTokenValidity"], client["IdTokenValidity"]) == (30, 45)

    group = cognito.get_group(UserPoolId=pool, GroupName="operators")["Group"]
    assert (group["Description"], group["Precedence"]) == ("Operators", 1)


def test_a_signed_in_user_gets_tokens_that_verify_against_the_pool_jwks_with_aws_claims(aws, stack, operator):
    cognito, pool, client_id = aws("cognito-idp"), stack["pool"], stack["client"]
    assert operator["status"] == "CONFIRMED"
    listed = cognito.list_users(UserPoolId=pool, Filter=f'email = "{operator["username"]}"')["Users"]
    assert len(listed) == 1 and listed[0]["UserStatus"] == "CONFIRMED"
    assert {"Name": "email", "Value": operator["username"]} in listed[0]["Attributes"]

    keys = requests.get(jwks_url(pool), timeout=10)
    assert keys.status_code == 200 and keys.headers["Content-Type"].startswith("application/json")
    [key] = keys.json()["keys"]
    assert set(key) == JWK_FIELDS and (key["alg"], key["kty"], key["use"]) == ("RS256", "RSA", "sig")

    before = int(time.time())
    result = sign_in(client_id, operator["username"])
    after = int(time.time())
    assert (result["TokenType"], result["ExpiresIn"]) == ("Bearer", 30 * 60)

    for token in (result["IdToken"], result["AccessToken"]):
        assert jwt.get_unverified_header(token) == {"kid": key["kid"], "alg": "RS256"}

    id_claims = verified(result["IdToken"], pool, client_id=client_id)
    access = verified(result["AccessToken"], pool)
    for claims, use, minutes in ((id_claims, "id", 45), (access, "access", 30)):
        assert claims["iss"] == issuer(pool)
        assert claims["token_use"] == use
        assert claims["sub"] == operator["sub"]
        assert before - 1 <= claims["iat"] <= after + 1
        assert claims["exp"] - claims["iat"] == minutes * 60
        assert claims["auth_time"] == claims["iat"]
        # AWS: cognito:groups, a list of the user's group names, in both tokens
        assert claims["cognito:groups"] == ["operators"], claims
    assert id_claims["aud"] == client_id and "client_id" not in id_claims
    assert access["client_id"] == client_id and "aud" not in access
    assert access["scope"] == "aws.cognito.signin.user.admin"
    assert access["username"] == id_claims["cognito:username"]
    # a client without ReadAttributes reads the standard attributes (booleans as booleans)
    assert (id_claims["email"], id_claims["email_verified"]) == (operator["username"], True)
    assert id_claims["custom:tenant"] == "acme"
    assert id_claims["origin_jti"] == access["origin_jti"]


def test_refresh_token_auth_issues_new_tokens_of_the_same_sign_in(stack, operator):
    pool, client_id = stack["pool"], stack["client"]
    first = sign_in(client_id, operator["username"])
    signed_in = verified(first["AccessToken"], pool)
    time.sleep(1.1)  # the refreshed tokens are issued in a later second
    refreshed = unsigned_cognito().initiate_auth(
        ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]}
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    assert refreshed["ExpiresIn"] == 30 * 60
    id_claims = verified(refreshed["IdToken"], pool, client_id=client_id)
    access = verified(refreshed["AccessToken"], pool)
    for claims in (id_claims, access):
        assert claims["sub"] == operator["sub"]
        assert claims["cognito:groups"] == ["operators"]
        assert claims["iat"] > signed_in["iat"]
        # auth_time is when the user authenticated, not when the tokens were refreshed
        assert claims["auth_time"] == signed_in["auth_time"]
        assert claims["origin_jti"] == signed_in["origin_jti"]
    assert refreshed["AccessToken"] != first["AccessToken"]

    with pytest.raises(ClientError) as e:
        unsigned_cognito().initiate_auth(
            ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": "not-a-refresh-token"}
        )
    assert e.value.response["Error"]["Code"] == "NotAuthorizedException"


def test_a_wrong_password_is_refused(stack, operator):
    with pytest.raises(ClientError) as e:
        sign_in(stack["client"], operator["username"], password=PASSWORD + "x")
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("NotAuthorizedException", "Incorrect username or password.")


def test_a_token_of_another_pool_fails_signature_verification(aws, stack, operator):
    cognito = aws("cognito-idp")
    other = cognito.create_user_pool(PoolName=unique("other"), UsernameAttributes=["email"])["UserPool"]["Id"]
    try:
        client_id = cognito.create_user_pool_client(
            UserPoolId=other, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        user = make_user(cognito, other)
        token = sign_in(client_id, user["username"])["IdToken"]
        assert verified(token, other, client_id=client_id)["sub"] == user["sub"]

        mine, theirs = requests.get(jwks_url(stack["pool"])).json(), requests.get(jwks_url(other)).json()
        assert mine["keys"][0]["kid"] != theirs["keys"][0]["kid"]
        assert mine["keys"][0]["n"] != theirs["keys"][0]["n"]
        # the first pool's JWKS has no key of that kid ...
        with pytest.raises(jwt.PyJWKClientError):
            verified(token, stack["pool"], client_id=client_id)
        # ... and its key does not verify the signature, whatever the kid and issuer say
        key = jwt.PyJWKClient(jwks_url(stack["pool"]), cache_jwk_set=False).get_signing_keys()[0].key
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False, "verify_iss": False})
    finally:
        cognito.delete_user_pool(UserPoolId=other)
    gone = requests.get(jwks_url(other), timeout=10)
    assert gone.status_code == 404 and "does not exist" in gone.json()["message"]


def test_the_jwks_route_answers_pool_ids_only(stack):
    assert requests.get(jwks_url("us-east-1_NoSuchPool1"), timeout=10).status_code == 404
    assert requests.get(jwks_url(stack["pool"]), timeout=10).status_code == 200
    # a path-style S3 request is not taken (bucket names have no underscore or capitals)
    s3 = requests.get(f"{ENDPOINT}/{unique('bucket')}/.well-known/jwks.json", timeout=10)
    assert s3.status_code == 404 and "NoSuchBucket" in s3.text


def _signed_initiate_auth(creds, client_id, username):
    """InitiateAuth signed with a role session's keys, as an SDK that signs whenever it has
    credentials sends it."""
    body = json.dumps(
        {
            "ClientId": client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": username, "PASSWORD": PASSWORD},
        }
    )
    request = AWSRequest(
        method="POST",
        url=f"{ENDPOINT}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        },
    )
    SigV4Auth(
        Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]), "cognito-idp", REGION
    ).add_auth(request)
    return requests.post(request.url, data=body, headers=dict(request.headers), timeout=10)


def test_initiate_auth_is_not_checked_against_iam_but_admin_calls_are(aws, stack, operator):
    iam, sts = aws("iam"), aws("sts")
    role = unique("cognito-role")
    arn = create_role(iam, role, policy(allow("sqs:ListQueues")))
    try:
        creds = sts.assume_role(RoleArn=arn, RoleSessionName="app")["Credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=REGION,
        )
        as_role = session.client("cognito-idp", endpoint_url=ENDPOINT, config=Config(retries={"max_attempts": 1}))
        # the role's policy grants no cognito-idp action: an admin call is denied ...
        with pytest.raises(ClientError) as e:
            as_role.admin_get_user(UserPoolId=stack["pool"], Username=operator["username"])
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        pool_arn = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{stack['pool']}"
        assert f"cognito-idp:AdminGetUser on resource: {pool_arn}" in e.value.response["Error"]["Message"]
        # ... but InitiateAuth, which AWS never authorizes with IAM, works signed by that session
        r = _signed_initiate_auth(creds, stack["client"], operator["username"])
        assert r.status_code == 200, r.text
        assert verified(r.json()["AuthenticationResult"]["AccessToken"], stack["pool"])["sub"] == operator["sub"]
        assert [d["operation"] for d in denials(role=role)] == ["AdminGetUser"]
    finally:
        delete_role(iam, role)


def test_flows_the_client_does_not_enable_are_refused(aws, stack, operator):
    cognito, pool = aws("cognito-idp"), stack["pool"]
    # created without ExplicitAuthFlows: SRP, custom and refresh only, as on AWS
    plain = cognito.create_user_pool_client(UserPoolId=pool, ClientName="plain")["UserPoolClient"]["ClientId"]
    hiding = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="hiding",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]["ClientId"]
    try:
        with pytest.raises(ClientError) as e:
            sign_in(plain, operator["username"])
        err = e.value.response["Error"]
        assert (err["Code"], err["Message"]) == (
            "InvalidParameterException",
            "USER_PASSWORD_AUTH flow not enabled for this client",
        )
        with pytest.raises(ClientError) as e:
            cognito.admin_initiate_auth(
                UserPoolId=pool,
                ClientId=stack["client"],
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": operator["username"], "PASSWORD": PASSWORD},
            )
        err = e.value.response["Error"]
        assert (err["Code"], err["Message"]) == ("InvalidParameterException", "Auth flow not enabled for this client")
        # the stack's client: LEGACY existence errors; this one: indistinguishable from a bad password
        with pytest.raises(ClientError) as e:
            sign_in(stack["client"], "nobody@example.com")
        assert e.value.response["Error"]["Code"] == "UserNotFoundException"
        with pytest.raises(ClientError) as e:
            sign_in(hiding, "nobody@example.com")
        err = e.value.response["Error"]
        assert (err["Code"], err["Message"]) == ("NotAuthorizedException", "Incorrect username or password.")
        assert verified(sign_in(hiding, operator["username"])["AccessToken"], pool)["client_id"] == hiding
    finally:
        for client_id in (plain, hiding):
            cognito.delete_user_pool_client(UserPoolId=pool, ClientId=client_id)


def test_user_names_are_case_insensitive_when_the_pool_says_so(aws):
    cognito = aws("cognito-idp")
    pools = {}
    try:
        for sensitive in (False, True):
            pool = cognito.create_user_pool(
                PoolName=unique("case"), UsernameConfiguration={"CaseSensitive": sensitive}
            )["UserPool"]["Id"]
            pools[sensitive] = pool
            client = cognito.create_user_pool_client(
                UserPoolId=pool, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
            )["UserPoolClient"]["ClientId"]
            cognito.admin_create_user(UserPoolId=pool, Username="Bob.Smith", MessageAction="SUPPRESS")
            cognito.admin_set_user_password(UserPoolId=pool, Username="Bob.Smith", Password=PASSWORD, Permanent=True)
            if sensitive:
                with pytest.raises(ClientError) as e:
                    sign_in(client, "bob.smith")
                assert e.value.response["Error"]["Code"] == "UserNotFoundException"
                cognito.admin_create_user(UserPoolId=pool, Username="BOB.SMITH", MessageAction="SUPPRESS")
            else:
                assert verified(sign_in(client, "bob.smith")["AccessToken"], pool)["sub"]
                assert cognito.admin_get_user(UserPoolId=pool, Username="BOB.smith")["Username"] == "Bob.Smith"
                with pytest.raises(ClientError) as e:
                    cognito.admin_create_user(UserPoolId=pool, Username="BOB.SMITH", MessageAction="SUPPRESS")
                assert e.value.response["Error"]["Code"] == "UsernameExistsException"
    finally:
        for pool in pools.values():
            cognito.delete_user_pool(UserPoolId=pool)


def test_a_pool_with_deletion_protection_is_not_deleted(aws):
    cognito = aws("cognito-idp")
    pool = cognito.create_user_pool(PoolName=unique("kept"), DeletionProtection="ACTIVE")["UserPool"]["Id"]
    with pytest.raises(ClientError) as e:
        cognito.delete_user_pool(UserPoolId=pool)
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterException" and "deletion protection is activated" in err["Message"]
    assert cognito.describe_user_pool(UserPoolId=pool)["UserPool"]["DeletionProtection"] == "ACTIVE"
    cognito.update_user_pool(UserPoolId=pool, DeletionProtection="INACTIVE")
    cognito.delete_user_pool(UserPoolId=pool)
    assert requests.get(jwks_url(pool), timeout=10).status_code == 404


def expired_token(body):
    return hostmode("POST", "cognito/expired-token", body)


def test_the_test_route_issues_an_expired_access_token_signed_by_the_pool_key(stack, operator):
    pool, client_id = stack["pool"], stack["client"]
    signed_in = verified(sign_in(client_id, operator["username"])["AccessToken"], pool)
    body = {"user_pool_id": pool, "client_id": client_id, "username": operator["username"]}
    before = int(time.time())
    r = expired_token({**body, "expired_seconds_ago": 3600})
    after = int(time.time())
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert set(r.json()) == {"AccessToken"}
    token = r.json()["AccessToken"]

    [key] = requests.get(jwks_url(pool), timeout=10).json()["keys"]
    assert jwt.get_unverified_header(token) == {"kid": key["kid"], "alg": "RS256"}
    signing_key = jwt.PyJWKClient(jwks_url(pool), cache_jwk_set=False).get_signing_key_from_jwt(token)
    # the signature verifies with the pool's own key when expiry is not checked ...
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        issuer=issuer(pool),
        options={"verify_exp": False, "require": ["exp", "iat", "auth_time", "sub", "token_use", "iss"]},
    )
    # ... and it carries a sign-in's access token claims, cognito:groups included
    assert set(claims) == set(signed_in), (claims, signed_in)
    for name in ("iss", "sub", "client_id", "token_use", "scope", "username", "cognito:groups"):
        assert claims[name] == signed_in[name], name
    assert (claims["token_use"], claims["cognito:groups"]) == ("access", ["operators"])
    assert claims["jti"] != signed_in["jti"] and claims["origin_jti"] != signed_in["origin_jti"]
    # exp is expired_seconds_ago in the past; iat and auth_time one hour before exp
    assert before - 3600 <= claims["exp"] <= after - 3600
    assert claims["iat"] == claims["auth_time"] == claims["exp"] - 3600
    # checked as a verifier checks it: expired
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, signing_key.key, algorithms=["RS256"], issuer=issuer(pool))
    with pytest.raises(jwt.ExpiredSignatureError):
        verified(token, pool)
    # not a signed-in token: GetUser refuses it, as AWS refuses an expired access token
    with pytest.raises(ClientError) as e:
        unsigned_cognito().get_user(AccessToken=token)
    assert e.value.response["Error"]["Code"] == "NotAuthorizedException"

    # a minute ago: expired too (no leeway), iat still an hour before exp
    recent = expired_token({**body, "expired_seconds_ago": 60}).json()["AccessToken"]
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(recent, signing_key.key, algorithms=["RS256"], issuer=issuer(pool))
    claims = jwt.decode(recent, signing_key.key, algorithms=["RS256"], options={"verify_exp": False})
    assert claims["exp"] < time.time() and claims["exp"] - claims["iat"] == 3600


def test_the_expired_token_route_answers_400_to_bad_requests(stack, operator):
    good: dict[str, object] = {
        "user_pool_id": stack["pool"],
        "client_id": stack["client"],
        "username": operator["username"],
        "expired_seconds_ago": 3600,
    }
    cases: list[tuple[object, str]] = [
        *(({k: v for k, v in good.items() if k != missing}, f"'{missing}' is required") for missing in good),
        ({**good, "user_pool_id": "us-east-1_NoSuchPool1"}, "User pool us-east-1_NoSuchPool1 does not exist."),
        ({**good, "client_id": "nosuchclient"}, f"Client nosuchclient does not exist in user pool {stack['pool']}."),
        ({**good, "username": "nobody@example.com"}, "User nobody@example.com does not exist in user pool"),
        ({**good, "expired_seconds_ago": 0}, "'expired_seconds_ago' is required: a positive integer"),
        ({**good, "expired_seconds_ago": -60}, "'expired_seconds_ago' is required: a positive integer"),
        ({**good, "expired_seconds_ago": "3600"}, "'expired_seconds_ago' is required: a positive integer"),
        ({**good, "username": ""}, "'username' is required"),
        ([good], "body must be a JSON object"),
    ]
    for body, message in cases:
        r = expired_token(body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.json()["error"] == "bad_request" and message in r.json()["message"], (body, r.json())
    r = requests.post(f"{ENDPOINT}/_hostmode/cognito/expired-token", data=b"not json", timeout=10)
    assert r.status_code == 400 and r.json()["message"] == "body must be a JSON object"


VERIFIER = """
import json, os, sys, urllib.request
import jwt

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        request_id, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
    url = os.environ["AWS_ENDPOINT_URL"] + "/" + event["pool"] + "/.well-known/jwks.json"
    try:
        key = jwt.PyJWKClient(url).get_signing_key_from_jwt(event["token"])
        claims = jwt.decode(event["token"], key.key, algorithms=["RS256"], issuer=event["issuer"])
        out = {"ok": True, "groups": claims.get("cognito:groups"), "sub": claims["sub"]}
    except Exception as e:
        out = {"ok": False, "error": type(e).__name__}
    body = json.dumps(out).encode()
    urllib.request.urlopen(urllib.request.Request(API + "/invocation/" + request_id + "/response", body, method="POST"))
"""


def test_a_function_verifies_a_token_with_the_jwks_at_its_endpoint(aws, stack, operator, make_function):
    name = make_function(zip_bootstrap(source=f"#!{TOOLS_PYTHON}\n{VERIFIER}"), prefix="verifier", timeout=20)
    lam = aws("lambda")
    token = sign_in(stack["client"], operator["username"])["AccessToken"]
    event = {"pool": stack["pool"], "issuer": issuer(stack["pool"]), "token": token}
    _, body, _ = invoke(lam, name, event)
    assert body == {"ok": True, "groups": ["operators"], "sub": operator["sub"]}, body
    head, signature = token.rsplit(".", 1)
    i = len(signature) // 2
    forged = f"{head}.{signature[:i]}{'B' if signature[i] == 'A' else 'A'}{signature[i + 1 :]}"
    _, body, _ = invoke(lam, name, {**event, "token": forged})
    assert body == {"ok": False, "error": "InvalidSignatureError"}, body


def test_a_stack_update_changes_pool_client_and_group_in_place_and_delete_removes_them(aws):
    cfn, cognito = aws("cloudformation"), aws("cognito-idp")
    name = unique("cognito-upd")
    try:
        out = deploy(cfn, name, template())
        pool, client_id = out["PoolRef"], out["ClientRef"]
        user = make_user(cognito, pool, group="operators")

        schema = json.loads(template())["Resources"]["Pool"]["Properties"]["Schema"]
        plan = {"Name": "plan", "AttributeDataType": "String", "Mutable": True}
        cfn.update_stack(
            StackName=name,
            TemplateBody=template(
                min_length=12,
                access_minutes=20,
                id_minutes=None,
                description="On call",
                precedence=5,
                schema=[*schema, plan],
            ),
        )
        desc = settle(cfn, name)
        assert desc["StackStatus"] == "UPDATE_COMPLETE", desc.get("StackStatusReason")
        assert (outputs(desc)["PoolRef"], outputs(desc)["ClientRef"]) == (pool, client_id)  # in place

        described = cognito.describe_user_pool(UserPoolId=pool)["UserPool"]
        assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
        assert "custom:plan" in [a["Name"] for a in described["SchemaAttributes"]]
        assert described["UsernameAttributes"] == ["email"]
        group = cognito.get_group(UserPoolId=pool, GroupName="operators")["Group"]
        assert (group["Description"], group["Precedence"]) == ("On call", 5)
        # still signs in by email; IdTokenValidity left the template: back to AWS's one hour
        tokens = sign_in(client_id, user["username"])
        assert tokens["ExpiresIn"] == 20 * 60
        id_claims = verified(tokens["IdToken"], pool, client_id=client_id)
        assert id_claims["exp"] - id_claims["iat"] == 3600
        assert id_claims["cognito:groups"] == ["operators"]

        # a schema attribute cannot be removed: the pool's update fails, the pool keeps it
        # (LocalStack 2026.3's engine then reports the stack itself UPDATE_COMPLETE, whatever
        # failed; the resource's event is what says so)
        cfn.update_stack(StackName=name, TemplateBody=template(min_length=12, schema=[schema[0], plan]))
        settle(cfn, name)
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
        failed = [e for e in events if (e["LogicalResourceId"], e["ResourceStatus"]) == ("Pool", "UPDATE_FAILED")]
        assert failed and "cannot be modified or deleted: tenant" in failed[0]["ResourceStatusReason"], events
        described = cognito.describe_user_pool(UserPoolId=pool)["UserPool"]
        assert "custom:tenant" in [a["Name"] for a in described["SchemaAttributes"]]
    finally:
        cfn.delete_stack(StackName=name)
    poll(lambda: deleted(cfn, name), timeout=60, interval=0.3, what="stack deleted")
    with pytest.raises(ClientError) as e:
        cognito.describe_user_pool(UserPoolId=pool)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert requests.get(jwks_url(pool), timeout=10).status_code == 404
