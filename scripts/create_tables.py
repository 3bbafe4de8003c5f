"""Creates the spine's DynamoDB tables (<prefix>-users, -sessions, -rate-limits) at an endpoint.

Mirrors shared/src/adapters/dynamodb/schema.rs for manual runs against moto:
    .venv/bin/python scripts/create_tables.py http://127.0.0.1:5000 dev
"""
import sys

import boto3

endpoint, prefix = sys.argv[1], sys.argv[2]
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
for name, ttl in (("users", False), ("sessions", True), ("rate-limits", True)):
    table = f"{prefix}-{name}"
    try:
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    except ddb.exceptions.ResourceInUseException:
        pass
    if ttl:
        ddb.update_time_to_live(TableName=table,
                                TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True})
    print(table)
