"""Creates the DynamoDB tables (<prefix>-users, -sessions, -rate-limits, -ws-tickets,
-connections) at an endpoint, for manual runs against moto:
    .venv/bin/python scripts/create_tables.py http://127.0.0.1:5000 dev

Mirrors shared/src/adapters/dynamodb/schema.rs (and template.yaml).
"""
import sys

import boto3

endpoint, prefix = sys.argv[1], sys.argv[2]
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
TABLES = {
    "users": (False, []),
    "sessions": (True, []),
    "rate-limits": (True, []),
    "ws-tickets": (True, []),
    "connections": (True, [("by_user", "user_id"), ("by_session", "session_id")]),
}
for name, (ttl, indexes) in TABLES.items():
    table = f"{prefix}-{name}"
    attributes = [{"AttributeName": a, "AttributeType": "S"} for a in ["pk"] + [k for _, k in indexes]]
    extra = {}
    if indexes:
        extra["GlobalSecondaryIndexes"] = [
            {"IndexName": i, "KeySchema": [{"AttributeName": k, "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"}} for i, k in indexes]
    try:
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=attributes,
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], **extra)
    except ddb.exceptions.ResourceInUseException:
        pass
    if ttl:
        ddb.update_time_to_live(TableName=table,
                                TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True})
    print(table)
