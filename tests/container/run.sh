#!/usr/bin/env bash
# The container test: builds the images of docker/, starts the coordinator and three
# workers with docker/compose.yaml, submits tests/container/grid.yaml from the host CLI,
# `docker kill`s a worker that holds a lease mid-run, and checks that the grid completes
# with every trial SUCCEEDED once and every epoch stored exactly once; then tears down.
#
#   bash tests/container/run.sh        from the repository root, as root, after the build
#
# It needs a Docker engine. When none runs, it installs Debian's docker.io and
# docker-compose if they are missing and starts dockerd (stopping it again at the end).
# Where that is impossible (no root, no kernel support), it prints "SKIPPED: why" and
# exits 0. When the image debian:bookworm is absent and cannot be pulled, it is made
# locally with debootstrap. Any other failure exits 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ACTGRID=${ACTGRID:-$PWD/build/client/cli/actgrid}
say() { echo "container test: $*"; }
skip() { say "SKIPPED: $*"; exit 0; }
fail() { say "FAILED: $*"; exit 1; }
[[ -x $ACTGRID ]] || fail "$ACTGRID missing; build first (see README)"

TMP=$(mktemp -d)
PROJECT=actgrid-test-$$
started_dockerd=""
compose=()
cleanup() {
  local rc=$?
  if ((${#compose[@]})); then
    if ((rc != 0)); then
      say "logs of the failed run:"
      "${compose[@]}" logs --no-color --tail=40 2>&1 | sed 's/^/  /' || true
    fi
    "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  if [[ -n $started_dockerd ]]; then
    kill "$started_dockerd" 2>/dev/null || true
    wait "$started_dockerd" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- a Docker engine ----
if ! docker info >/dev/null 2>&1; then
  [[ $(id -u) == 0 ]] || skip "no Docker engine is running, and starting one needs root"
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    say "installing Debian's docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >"$TMP/apt.log" 2>&1 ||
      skip "cannot install docker.io: $(tail -1 "$TMP/apt.log")"
  fi
  say "starting dockerd"
  dockerd >"$TMP/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2>/dev/null || break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 ||
    skip "dockerd does not start here: $(grep -v '^\s*$' "$TMP/dockerd.log" | tail -2 | tr '\n' ' ')"
fi
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  if ! command -v docker-compose >/dev/null; then
    say "installing Debian's docker-compose"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >"$TMP/apt.log" 2>&1 ||
      fail "cannot install docker-compose: $(tail -1 "$TMP/apt.log")"
  fi
  compose=(docker-compose)
fi
say "Docker $(docker version --format '{{.Server.Version}}'), $("${compose[@]}" version --short 2>/dev/null || echo compose)"

# ---- the base image ----
if ! docker image inspect debian:bookworm >/dev/null 2>&1 && ! docker pull debian:bookworm >/dev/null 2>&1; then
  say "debian:bookworm cannot be pulled; making it with debootstrap"
  command -v debootstrap >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >"$TMP/apt.log" 2>&1 ||
    fail "cannot install debootstrap: $(tail -1 "$TMP/apt.log")"
  debootstrap --variant=minbase bookworm "$TMP/rootfs" >"$TMP/debootstrap.log" 2>&1 ||
    fail "debootstrap failed: $(tail -3 "$TMP/debootstrap.log")"
  tar -C "$TMP/rootfs" -c . | docker import - debian:bookworm >/dev/null
  rm -rf "$TMP/rootfs"
fi

# ---- secrets, ports and test settings: an override of docker/compose.yaml ----
mkdir -p "$TMP/secrets"
token() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
submitter=$(token) worker=$(token) reader=$(token)
printf 'submitter %s\nworker %s\nreader %s\n' "$submitter" "$worker" "$reader" >"$TMP/secrets/tokens"
echo "$worker" >"$TMP/secrets/worker.token"
echo "$submitter" >"$TMP/secrets/submitter.token"
echo "$reader" >"$TMP/secrets/reader.token"
chmod 755 "$TMP" "$TMP/secrets"
chmod 644 "$TMP/secrets"/*
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/override.yaml" <<YAML
services:
  coordinator:
    command: ["--lease-seconds", "5", "--allow-plaintext-tokens"]
  worker:
    environment:
      ACTGRID_WORKER_THREADS: "1"
secrets:
  actgrid_tokens:
    file: $TMP/secrets/tokens
  actgrid_worker_token:
    file: $TMP/secrets/worker.token
YAML
HTTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export ACTGRID_PORT=$PORT ACTGRID_HTTP_PORT=$HTTP_PORT
compose+=(-p "$PROJECT" -f docker/compose.yaml -f "$TMP/override.yaml")

# The dashboard's bundle from this build goes into the images (npm may not reach its
# registry from inside an image build).
if [[ -f build/client/dashboard/dist/app.js && -f build/client/dashboard/dist/app.css ]]; then
  mkdir -p client/dashboard/dist
  cp build/client/dashboard/dist/app.js build/client/dashboard/dist/app.css client/dashboard/dist/
fi
say "building the images (docker/Dockerfile)"
start=$SECONDS
ACTGRID_REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) \
  "${compose[@]}" build >"$TMP/build.log" 2>&1 || { tail -30 "$TMP/build.log"; fail "the images do not build"; }
say "built in $((SECONDS - start)) s"

say "starting the coordinator and 3 workers"
"${compose[@]}" up -d --scale worker=3 >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "compose up failed"; }
SERVER=127.0.0.1:$PORT
for _ in $(seq 120); do
  "$ACTGRID" health --server "$SERVER" --timeout 1 >/dev/null 2>&1 && break
  sleep 0.5
done
"$ACTGRID" health --server "$SERVER" --timeout 2 || fail "the coordinator is not serving on $SERVER"
health=$(docker inspect --format '{{.State.Health.Status}}' "$("${compose[@]}" ps -q coordinator)")
say "coordinator container health: $health"

export ACTGRID_TOKEN_FILE=$TMP/secrets/submitter.token
grid=$("$ACTGRID" submit tests/container/grid.yaml --server "$SERVER" 2>"$TMP/submit.err") ||
  { cat "$TMP/submit.err"; fail "submit failed"; }
grid=$(echo "$grid" | grep -o '[0-9]\+' | head -1)
say "submitted grid $grid"

# Mid-run: once a trial has finished, kill a worker that holds a lease.
victim=""
for _ in $(seq 600); do
  status=$("$ACTGRID" status "$grid" --server "$SERVER" 2>/dev/null || true)
  finished=$(echo "$status" | grep -o '[0-9]*/[0-9]* trials' | cut -d/ -f1)
  if [[ ${finished:-0} -ge 1 ]]; then
    victim=$("$ACTGRID" workers --server "$SERVER" | awk 'NR > 1 && $4 > 0 {print $2; exit}')
    [[ -n $victim ]] && break
  fi
  sleep 0.2
done
[[ -n $victim ]] || fail "no worker held a lease after the first trial finished; status: $status"
say "mid-run ($status); docker kill worker container $victim"
docker kill "$victim" >/dev/null
killed_at=$SECONDS

export ACTGRID_TOKEN_FILE=$TMP/secrets/reader.token
"$ACTGRID" watch "$grid" --server "$SERVER" --no-progress >"$TMP/watch.log" 2>&1 ||
  { cat "$TMP/watch.log"; fail "the grid did not complete"; }
say "grid complete $((SECONDS - killed_at)) s after the kill: $("$ACTGRID" status "$grid" --server "$SERVER")"
"$ACTGRID" workers --server "$SERVER" | sed 's/^/  /'

# Every trial once: SUCCEEDED, and epochs 0..E stored exactly once each.
"$ACTGRID" export "$grid" --server "$SERVER" --content trials --format csv >"$TMP/trials.csv" 2>/dev/null
"$ACTGRID" export "$grid" --server "$SERVER" --content curves --format csv >"$TMP/curves.csv" 2>/dev/null
"$ACTGRID" workers --server "$SERVER" >"$TMP/workers.txt"
python3 - "$TMP/trials.csv" "$TMP/curves.csv" "$TMP/workers.txt" "$victim" <<'PY'
import collections, csv, sys
trials = list(csv.DictReader(open(sys.argv[1])))
curves = list(csv.DictReader(open(sys.argv[2])))
problems = []
if len(trials) != 24:
    problems.append(f"{len(trials)} trials exported, expected 24")
ids = collections.Counter(t["trial_id"] for t in trials)
problems += [f"trial {i} exported {n} times" for i, n in ids.items() if n != 1]
problems += [f"trial {t['trial_id']} is {t['state']}" for t in trials if t["state"] != "SUCCEEDED"]
epochs = collections.defaultdict(list)
for row in curves:
    epochs[row["trial_id"]].append(int(row["epoch"]))
for t in trials:
    got = sorted(epochs.get(t["trial_id"], []))
    if got != list(range(31)):
        problems.append(f"trial {t['trial_id']}: epochs {got[:5]}... ({len(got)} rows), expected 0..30 once each")
workers = [line.split() for line in open(sys.argv[3]).read().splitlines()[2:]]
lost = [w for w in workers if w[1] == sys.argv[4]]
if not lost or int(lost[0][5]) < 1:
    problems.append(f"the killed worker {sys.argv[4]} shows no failed (expired) lease: {lost}")
if problems:
    print("\n".join("  " + p for p in problems))
    sys.exit(1)
print(f"  {len(trials)} trials SUCCEEDED once each, {len(curves)} epoch rows (0..30 once per trial); "
      f"the killed worker's expired leases: {lost[0][5]}")
PY
# The surviving workers' healthchecks (their liveness file) pass.
for id in $("${compose[@]}" ps -q worker); do
  [[ $(docker inspect --format '{{.State.Running}}' "$id") == true ]] || continue
  for _ in $(seq 40); do
    state=$(docker inspect --format '{{.State.Health.Status}}' "$id")
    [[ $state != starting ]] && break
    sleep 0.5
  done
  [[ $state == healthy ]] || fail "worker container ${id:0:12} is $state"
done
say "surviving workers healthy"

# The coordinator's dashboard: the page, and the JSON API with the reader's token only.
python3 - "$HTTP_PORT" "$grid" "$TMP/secrets/reader.token" <<'PY' || fail "the dashboard is not served as it should be"
import json, sys, urllib.error, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
page = urllib.request.urlopen(base + "/", timeout=10).read().decode()
assert '<script src="app.js">' in page, page[:200]
def get_grid(token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(base + "/api/actgrid.v1.Grids/GetGrid", method="POST", headers=headers,
                                     data=json.dumps({"grid": sys.argv[2]}).encode())
    return urllib.request.urlopen(request, timeout=10)
try:
    get_grid()
    sys.exit("  the JSON API answered without a token")
except urllib.error.HTTPError as e:
    assert e.code == 401, f"without a token: HTTP {e.code}"
grid = json.load(get_grid(open(sys.argv[3]).read().strip()))
assert grid["state"] == "GRID_STATE_DONE", grid
print(f"  dashboard page served; JSON API: 401 without a token, grid {grid['id']} {grid['state']} with the reader's")
PY
say "PASSED"
