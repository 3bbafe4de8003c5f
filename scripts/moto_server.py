"""moto, single-threaded so every DynamoDB operation is atomic as it is on AWS (TOOLING.md).

One addition for the tests: `GET /_test/sent-mail?source=ADDR` lists the raw messages SES
accepted from senders containing ADDR, in the order it accepted them. moto's own
`/moto-api/data.json` serializes every tracked object of every service, which grows slow as a
test run fills the tables; this reads SES's list alone.
"""
import json
import sys
from urllib.parse import parse_qs

from moto.server import DomainDispatcherApplication, create_backend_app
from moto.ses.models import RawMessage, ses_backends
from werkzeug.serving import run_simple

moto = DomainDispatcherApplication(create_backend_app)


def app(environ, start_response):
    if environ.get("PATH_INFO") != "/_test/sent-mail":
        return moto(environ, start_response)
    source = parse_qs(environ.get("QUERY_STRING", "")).get("source", [""])[0]
    sent = [
        {"id": m.id, "source": m.source, "destinations": m.destinations, "raw_data": m.raw_data}
        for regions in ses_backends.values()
        for backend in regions.values()
        for m in backend.sent_messages
        if isinstance(m, RawMessage) and source in (m.source or "")
    ]
    body = json.dumps(sent).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False)
