"""Creates the DynamoDB tables (<prefix>-users, -sessions, -rate-limits, -ws-tickets,
-connections, -conversations, -support-tickets) at an endpoint, for manual runs against moto:
    .venv/bin/python scripts/create_tables.py http://127.0.0.1:5000 dev

Mirrors shared/src/adapters/dynamodb/schema.rs (and template.yaml).
"""
import sys

import boto3

endpoint, prefix = sys.argv[1], sys.argv[2]
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
# name: (sort key?, TTL?, [(index, hash key, range key or None)])
TABLES = {
    "users": (False, False, []),
    "sessions": (False, True, []),
    "rate-limits": (False, True, []),
    "ws-tickets": (False, True, []),
    "connections": (False, True, [("by_user", "user_id", None), ("by_session", "session_id", None)]),
    "conversations": (True, False, [("by_user", "user_id", "activity")]),
    "support-tickets": (True, True, [("by_user", "user_id", "created_key"), ("by_due", "queue", "due")]),
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
