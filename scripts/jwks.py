"""Prints the JWKS (the AUTH_PUBLIC_KEYS value) for an Ed25519 PKCS#8 PEM private key:
    .venv/bin/python scripts/jwks.py /tmp/login-key.pem dev-1
"""
import base64
import json
import sys

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

path, kid = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    key = load_pem_private_key(f.read(), password=None)
raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
print(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x}]}))
