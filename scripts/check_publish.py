"""Checks scripts/publish-web-client against S3 and CloudFront on moto (the test command runs
it): every file of the web client lands with its content type and no-cache, the page also
under the mails' paths, a file the client no longer has is removed, the cache is invalidated.

    .venv/bin/python scripts/check_publish.py http://127.0.0.1:PORT
"""
import os
import subprocess
import sys
from pathlib import Path

import boto3

endpoint = sys.argv[1]
env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
           AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
session = boto3.session.Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
s3 = session.client("s3", endpoint_url=endpoint)
cloudfront = session.client("cloudfront", endpoint_url=endpoint)

bucket = f"web-client-check-{os.getpid()}"
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="old.js", Body=b"stale")
distribution = cloudfront.create_distribution(DistributionConfig={
    "CallerReference": bucket, "Comment": "check", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "web-client", "DomainName": f"{bucket}.s3.amazonaws.com",
                                          "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "web-client", "ViewerProtocolPolicy": "redirect-to-https",
                             "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
})["Distribution"]["Id"]

script = Path(__file__).resolve().parent / "publish-web-client"
subprocess.run([sys.executable, str(script), "--bucket", bucket, "--distribution-id", distribution],
               env=env, check=True)

web = Path(__file__).resolve().parent.parent / "infra" / "local-gateway" / "web"
expected = {
    "index.html": ("index.html", "text/html; charset=utf-8"),
    "reset-password": ("index.html", "text/html; charset=utf-8"),
    "verify-email": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
}
keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
assert keys == sorted(expected), f"bucket holds {keys}"
for key, (name, content_type) in expected.items():
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == (web / name).read_bytes(), key
    assert got["ContentType"] == content_type, (key, got["ContentType"])
    assert got["CacheControl"] == "no-cache", (key, got.get("CacheControl"))
invalidations = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
assert invalidations.get("Quantity", 0) == 1, invalidations
print(f"publish-web-client: {len(keys)} objects, 1 invalidation: ok")
