# Sourced by scripts/test and scripts/bench (bash): the Python venv (moto, template checks,
# schemathesis), and moto itself.

# Creates .venv with moto, the SAM translator, cfn-lint and schemathesis unless it has them.
ensure_venv() {
  if ! .venv/bin/python -c 'import moto.server, werkzeug, samtranslator, cfnlint, schemathesis' 2>/dev/null; then
    [ -x .venv/bin/pip ] || python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check \
      'moto[server]==5.2.1' 'aws-sam-translator==1.115.0' 'cfn-lint==1.58.0' 'schemathesis==4.32.5'
  fi
}

# Starts moto single-threaded on a free loopback port, exports MOTO_ENDPOINT and moto's
# credentials, and stops it when the calling script exits.
start_moto() {
  mkdir -p target
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/python scripts/moto_server.py "$port" >target/moto.log 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1 && break
    kill -0 "$moto_pid" 2>/dev/null || { cat target/moto.log; echo "moto failed to start" >&2; exit 1; }
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null || { echo "moto did not answer" >&2; exit 1; }
  export MOTO_ENDPOINT="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  echo "moto on $MOTO_ENDPOINT"
}
