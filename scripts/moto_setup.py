"""Sets up what the functions need on a moto endpoint, for invoking them by hand (README,
"Invoking a function with a sample event"), and writes their environment to target/PREFIX.env:

    .venv/bin/python scripts/moto_setup.py http://127.0.0.1:5000 dev

- the DynamoDB tables <prefix>-users, -sessions, -rate-limits, -ws-tickets, -connections,
  -conversations, -support-tickets, -events (mirrors shared/src/adapters/dynamodb/schema.rs and
  template.yaml);
- the SES identity example.com, verified, so mail from support@example.com is accepted;
- a fresh Ed25519 signing key in the secrets <prefix>/signing-key ({"kid", "pem"}) and
  <prefix>/public-keys (its JWKS), as the stack keeps them, and a reply key in
  <prefix>/inbound-reply-key;
- the bucket <prefix>-inbound, where a received message goes under mail/<SES message id> before
  a mail-inbound event names it (aws s3 cp message.eml s3://<prefix>-inbound/mail/<id>);
- every variable template.yaml gives the functions, with these names and the sample events'
  origin (https://app.example.com), one KEY="VALUE" per line (cargo lambda watch --env-file).

scripts/invoke does all of this (and the invoke) in one command.
"""
import base64
import json
import os
import sys

import boto3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

endpoint, prefix = sys.argv[1], sys.argv[2]
aws = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
ddb = boto3.client("dynamodb", **aws)
# name: (sort key?, TTL?, [(index, hash key, range key or None)])
TABLES = {
    "users": (False, False, []),
    "sessions": (False, True, []),
    "rate-limits": (False, True, []),
    "ws-tickets": (False, True, []),
    "connections": (False, True, [("by_user", "user_id", None), ("by_session", "session_id", None)]),
    "conversations": (True, False, [("by_user", "user_id", "activity")]),
    "support-tickets": (True, True, [("by_user", "user_id", "created_key"), ("by_due", "queue", "due")]),
    "events": (True, True, []),
}
for name, (sorted_, ttl, indexes) in TABLES.items():
    table = f"{prefix}-{name}"
    names = ["pk"] + (["sk"] if sorted_ else [])
    for _, h, r in indexes:
        names += [a for a in (h, r) if a and a not in names]
    attributes = [{"AttributeName": a, "AttributeType": "S"} for a in names]
    key = [{"AttributeName": "pk", "KeyType": "HASH"}] + ([{"AttributeName": "sk", "KeyType": "RANGE"}] if sorted_ else [])
    extra = {}
    if indexes:
        extra["GlobalSecondaryIndexes"] = [
            {"IndexName": i,
             "KeySchema": [{"AttributeName": h, "KeyType": "HASH"}] + ([{"AttributeName": r, "KeyType": "RANGE"}] if r else []),
             "Projection": {"ProjectionType": "ALL"}} for i, h, r in indexes]
    try:
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=attributes,
                         KeySchema=key, **extra)
    except ddb.exceptions.ResourceInUseException:
        pass
    if ttl:
        ddb.update_time_to_live(TableName=table,
                                TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True})
    print(table)

boto3.client("sesv2", **aws).create_email_identity(EmailIdentity="example.com")

# The key, as README "Deploying" step 1 makes it (jwks.py prints the same JWKS from a PEM file).
key = Ed25519PrivateKey.generate()
kid = f"{prefix}-1"
pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
x = base64.urlsafe_b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=").decode()
secrets = boto3.client("secretsmanager", **aws)
for name, value in [
    (f"{prefix}/public-keys", json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x}]})),
    (f"{prefix}/signing-key", json.dumps({"kid": kid, "pem": pem})),
    # The reply key, as README "Replies by mail" makes it (openssl rand -hex 32).
    (f"{prefix}/inbound-reply-key", os.urandom(32).hex()),
]:
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId=name, SecretString=value)

# The inbound bucket SES receiving stores messages in (mail-inbound reads mail/<message id>).
try:
    boto3.client("s3", **aws).create_bucket(Bucket=f"{prefix}-inbound")
except Exception as e:  # already there from an earlier run
    if "BucketAlreadyOwnedByYou" not in str(e):
        raise

origin = "https://app.example.com"
env = {
    "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
    "RUST_LOG": "info", "AUTH_ISSUER": "support-backend", "AUTH_AUDIENCE": "support-api",
    "AUTH_PUBLIC_KEYS_SECRET": f"{prefix}/public-keys", "AUTH_SIGNING_KEY_SECRET": f"{prefix}/signing-key",
    "KEYS_REFRESH_SECONDS": "300", "ALLOWED_ORIGINS": origin, "SESSION_COOKIE_SAMESITE": "Lax",
    **{f"{name.upper().replace('-', '_')}_TABLE": f"{prefix}-{name}" for name in TABLES},
    "MAIL_FROM": "Support <support@example.com>", "SUPPORT_EMAIL": "help@example.com", "TICKET_PREFIX": "AB",
    "WEBSOCKET_URL": "wss://ws123.execute-api.us-east-1.amazonaws.com/prod",
    "WEBSOCKET_MANAGEMENT_ENDPOINT": endpoint,
    "PASSWORD_RESET_URL": f"{origin}/reset-password", "EMAIL_VERIFY_URL": f"{origin}/verify-email",
    "INBOUND_MAIL_DOMAIN": "reply.example.com", "INBOUND_REPLY_KEY_SECRET": f"{prefix}/inbound-reply-key",
    "INBOUND_MAIL_BUCKET": f"{prefix}-inbound", "INBOUND_MAIL_PREFIX": "mail/", "WEB_CLIENT_URL": origin,
}
os.makedirs("target", exist_ok=True)
with open(f"target/{prefix}.env", "w") as f:
    # Quoted: MAIL_FROM has spaces and angle brackets, which unquoted .env values cannot.
    f.writelines(f'{k}="{v}"\n' for k, v in env.items())
print(f"target/{prefix}.env")
