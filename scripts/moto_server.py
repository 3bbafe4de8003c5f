"""moto, single-threaded so every DynamoDB operation is atomic as it is on AWS (TOOLING.md)."""
import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)
