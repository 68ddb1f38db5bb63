#!/usr/bin/env bash
# kernel-setup/check_jupyter.sh: starts the notebook server the way `make jupyter`
# does (127.0.0.1 only, repo-local kernelspec), asks its REST API for the
# kernelspecs, checks that the GoNB kernel is listed, and stops the server by PID.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
TOKEN="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
LOG="$(mktemp)"
JUPYTER_PATH="$REPO/.jupyter" jupyter notebook --no-browser --ip=127.0.0.1 --port="$PORT" \
  --notebook-dir="$REPO/notebooks" --NotebookApp.token="$TOKEN" --allow-root >"$LOG" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 1 60); do
  if curl -sf -H "Authorization: token $TOKEN" "http://127.0.0.1:$PORT/api/kernelspecs" -o "$LOG.json"; then break; fi
  kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "check_jupyter: server exited early" >&2; exit 1; }
  sleep 0.5
done
[[ -s "$LOG.json" ]] || { cat "$LOG"; echo "check_jupyter: no answer from http://127.0.0.1:$PORT/api/kernelspecs" >&2; exit 1; }
if ! /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if "gonb" in d["kernelspecs"] else 1)' "$LOG.json"; then
  echo "check_jupyter: gonb kernel missing from /api/kernelspecs: $(cat "$LOG.json")" >&2; rm -f "$LOG.json"; exit 1
fi
rm -f "$LOG.json"
echo "check_jupyter: http://127.0.0.1:$PORT/api/kernelspecs lists gonb (server pid $PID stopped)"
