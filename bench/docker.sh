#!/usr/bin/env bash
# Docker registry throughput: push and pull of one 512 MiB layer (random, incompressible) to Arca
# (ARCA_BIN, release build, docker hosted repository) and to Debian's CNCF docker-registry 2.8 (htpasswd
# auth, same disk), in the same run, printing MB/s (10^6 bytes/s) and the Arca/CNCF ratio.
# Client: skopeo copying an OCI layout whose layer is already gzip (level 0, stored blocks), so no
# client recompression: the numbers are the registry's. The docker CLI gzips the layer itself on push
# (about 21 MB/s on this machine for random data, the registry hardly matters): BENCH_DOCKER=1 adds those
# rows anyway. Without ARCA_BIN only the CNCF side runs.
# curl rows (issue 18's): a monolithic blob upload (POST, then PUT of the whole layer with its digest)
# and a blob GET, no client-side hashing or file writes: the server's own ceiling.
# Usage: [ARCA_BIN=target/release/arca] [BENCH_DOCKER=1] [BENCH_MIB=512] bench/docker.sh [pull repetitions, default 3] [--smoke]
#   --smoke: an 8 MiB layer, one repetition (BENCH_MIB still wins when set)
#   BENCH_JSON: also write the figures there as JSON (bench/all.sh reads it)
# Exits 77 (skipped) when skopeo or the CNCF registry (Debian's docker-registry) is missing and cannot
# be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=3; SMOKE=0
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1 ;;
    ''|*[!0-9]*) echo "usage: bench/docker.sh [pull repetitions] [--smoke]" >&2; exit 2 ;;
    *) REPS=$a ;;
  esac
done
if [ $SMOKE = 1 ]; then REPS=1; MIB=${BENCH_MIB:-8}; else MIB=${BENCH_MIB:-512}; fi
need=(skopeo docker-registry htpasswd openssl); [ "${BENCH_DOCKER:-}" = 1 ] && need+=(dockerd docker)
for b in "${need[@]}"; do
  command -v "$b" >/dev/null || { flock /var/lock/arca-apt.lock apt-get update -qq && DEBIAN_FRONTEND=noninteractive flock /var/lock/arca-apt.lock apt-get install -y -qq \
    --no-install-recommends skopeo docker-registry apache2-utils openssl $([ "${BENCH_DOCKER:-}" = 1 ] && echo docker.io) >/dev/null || true; break; }
done
for b in "${need[@]}"; do
  command -v "$b" >/dev/null || { echo "SKIP: $b is not installed and could not be installed (apt-get install skopeo docker-registry apache2-utils)"; exit 77; }
done
W=$(mktemp -d /tmp/arca-bench-docker.XXXXXX)
PIDS=(); DPID=""
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
      [ -n "$DPID" ] && { kill "$DPID"; wait "$DPID" 2>/dev/null || true; }; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
mbps() { python3 -c "print(f'{$1/(($3-$2)/1e9)/1e6:.0f}')"; }   # bytes t0 t1
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The layer: a tar of one random file, gzip-wrapped without compression; an OCI layout around it.
mkdir -p "$W/rootfs"
head -c $((MIB << 20)) < <(openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:$RANDOM$(date +%N)" </dev/zero 2>/dev/null) >"$W/rootfs/random.bin"
tar -C "$W/rootfs" -cf "$W/layer.tar" .
rm "$W/rootfs/random.bin"
read -r BYTES LAYER < <(python3 - "$W/layer.tar" "$W/oci" <<'EOF'
import gzip, hashlib, json, os, shutil, sys
tar, out = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/blobs/sha256")
js = lambda o: json.dumps(o, separators=(",", ":")).encode()
diff = hashlib.sha256()
with open(tar, "rb") as f, open(f"{out}/layer.gz", "wb") as o, gzip.GzipFile(fileobj=o, mode="wb", compresslevel=0, mtime=0) as g:
    for chunk in iter(lambda: f.read(1 << 20), b""): diff.update(chunk); g.write(chunk)
h = hashlib.sha256()
with open(f"{out}/layer.gz", "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""): h.update(chunk)
layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + h.hexdigest(), "size": os.path.getsize(f"{out}/layer.gz")}
os.rename(f"{out}/layer.gz", f"{out}/blobs/sha256/{h.hexdigest()}")
def blob(data, mt):
    d = hashlib.sha256(data).hexdigest(); open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"mediaType": mt, "digest": "sha256:" + d, "size": len(data)}
config = blob(js({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}}),
              "application/vnd.oci.image.config.v1+json")
m = blob(js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]}),
         "application/vnd.oci.image.manifest.v1+json")
open(f"{out}/index.json", "wb").write(js({"schemaVersion": 2, "manifests": [dict(m, annotations={"org.opencontainers.image.ref.name": "1"})]}))
open(f"{out}/oci-layout", "wb").write(js({"imageLayoutVersion": "1.0.0"}))
print(layer["size"], h.hexdigest())
EOF
)
PW=bench-pass-1

# CNCF docker-registry with htpasswd (bcrypt) auth, storage under $W like Arca's.
CPORT=$(port)
htpasswd -Bbn admin "$PW" >"$W/htpasswd"
printf '%s\n' "version: 0.1" "log: {level: warn, accesslog: {disabled: true}}" "storage: {filesystem: {rootdirectory: $W/cncf}}" \
  "http: {addr: \"127.0.0.1:$CPORT\"}" "auth: {htpasswd: {realm: cncf, path: $W/htpasswd}}" >"$W/cncf.yml"
docker-registry serve "$W/cncf.yml" >"$W/cncf.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$CPORT/v2/" && break; sleep 0.05; done
TARGETS=("cncf 127.0.0.1:$CPORT/bench")

if [ -n "${ARCA_BIN:-}" ]; then
  APORT=$(port); mkdir -p "$W/arca"
  (cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$APORT" ARCA_ADMIN_PASSWORD=$PW ARCA_LOG=warn "$ARCA_BIN" >"$W/arca.log" 2>&1) &
  PIDS+=($!); APID=$!
  for _ in $(seq 1 2000); do curl -sf "http://127.0.0.1:$APORT/service/rest/v1/status" >/dev/null && break
    kill -0 "$APID" 2>/dev/null || { echo "arca exited at start:" >&2; tail -20 "$W/arca.log" >&2; exit 1; }
    sleep 0.005
  done
  curl -sf -o /dev/null -u "admin:$PW" -H 'content-type: application/json' "http://127.0.0.1:$APORT/service/rest/v1/repositories/docker/hosted" \
    -d '{"name":"docker-hosted","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW"},"docker":{"v1Enabled":false,"forceBasicAuth":true}}'
  TARGETS+=("arca 127.0.0.1:$APORT/docker-hosted/bench")
fi

declare -A PUSH PULL
for t in "${TARGETS[@]}"; do
  set -- $t; name=$1; repo=$2
  t0=$(now); skopeo copy -q --dest-creds "admin:$PW" --dest-tls-verify=false "oci:$W/oci:1" "docker://$repo/big:1"; t1=$(now)
  PUSH[skopeo-$name]=$(mbps "$BYTES" "$t0" "$t1")
done
for i in $(seq 1 "$REPS"); do
  for t in "${TARGETS[@]}"; do
    set -- $t; name=$1; repo=$2
    t0=$(now); skopeo copy -q --src-creds "admin:$PW" --src-tls-verify=false "docker://$repo/big:1" "oci:$W/pull-$name:1"; t1=$(now)
    test -s "$W/pull-$name/blobs/sha256/$LAYER"
    rm -rf "$W/pull-$name"
    PULL[skopeo-$name]="${PULL[skopeo-$name]:-} $(mbps "$BYTES" "$t0" "$t1")"
  done
done

# The server's own ceiling: curl upload of the layer blob in one PUT, into a new repository each time
# (POST to open the upload, PUT of the body with its digest), and curl GET of it (no client-side
# hashing or file writes).
BLOB=$W/oci/blobs/sha256/$LAYER
for t in "${TARGETS[@]}"; do
  set -- $t; name=$1; repo=$2; host=${repo%%/*}; path=${repo#*/}
  for i in $(seq 1 "$REPS"); do
    t0=$(now)
    loc=$(curl -sf -u "admin:$PW" -X POST -o /dev/null -D - "http://$host/v2/$path/curl$i/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
    case "$loc" in http*) ;; *) loc="http://$host$loc" ;; esac
    case "$loc" in *\?*) loc="$loc&digest=sha256:$LAYER" ;; *) loc="$loc?digest=sha256:$LAYER" ;; esac
    code=$(curl -s -u "admin:$PW" -X PUT -H 'content-type: application/octet-stream' -T "$BLOB" -o /dev/null -w '%{http_code}' "$loc")
    t1=$(now)
    [ "$code" = 201 ] || { echo "curl push to $name: HTTP $code" >&2; exit 1; }
    PUSH[curl-$name]="${PUSH[curl-$name]:-} $(mbps "$BYTES" "$t0" "$t1")"
  done
  for i in $(seq 1 "$REPS"); do
    s=$(curl -sfL -u "admin:$PW" -o /dev/null -w '%{speed_download}' "http://$host/v2/$path/big/blobs/sha256:$LAYER")
    PULL[curl-$name]="${PULL[curl-$name]:-} $(python3 -c "print(f'{$s/1e6:.0f}')")"
  done
done

if [ "${BENCH_DOCKER:-}" = 1 ]; then
  # The docker CLI with a private dockerd: it gzips the layer on push and unpacks it on pull.
  mkdir -p "$W/docker" "$W/docker-config"
  export DOCKER_HOST=unix://$W/docker/docker.sock DOCKER_CONFIG=$W/docker-config
  echo "{\"deprecated-key-path\":\"$W/docker/key.json\"}" >"$W/docker/daemon.json"
  dockerd --config-file "$W/docker/daemon.json" --storage-driver vfs --iptables=false --ip6tables=false --bridge=none \
    --data-root "$W/docker/root" --exec-root "$W/docker/exec" --pidfile "$W/docker/pid" --host "$DOCKER_HOST" >"$W/dockerd.log" 2>&1 &
  DPID=$!
  for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker import "$W/layer.tar" big:1 >/dev/null
  for t in "${TARGETS[@]}"; do
    set -- $t; name=$1; repo=$2
    echo "$PW" | docker login "${repo%%/*}" -u admin --password-stdin >/dev/null 2>&1
    docker tag big:1 "$repo/dbig:1"
    t0=$(now); docker push -q "$repo/dbig:1" >/dev/null; t1=$(now)
    PUSH[docker-$name]=$(mbps "$BYTES" "$t0" "$t1")
  done
  for t in "${TARGETS[@]}"; do
    set -- $t; name=$1; repo=$2
    docker rmi -f "$(docker image inspect -f '{{.Id}}' big:1)" >/dev/null
    t0=$(now); docker pull -q "$repo/dbig:1" >/dev/null; t1=$(now)
    PULL[docker-$name]=$(mbps "$BYTES" "$t0" "$t1")
    docker tag "$repo/dbig:1" big:1
  done
fi

echo
echo "| client | target | push MB/s | pull MB/s (median of $REPS, skopeo push: one) |"
echo "|---|---|---|---|"
ROWS=$W/rows.txt; : >"$ROWS"
for client in skopeo curl docker; do
  [ -n "${PUSH[$client-cncf]:-}" ] || continue
  for name in cncf arca; do
    [ -n "${PUSH[$client-$name]:-}" ] || continue
    PUSH[$client-$name]=$(median ${PUSH[$client-$name]})
    PULL[$client-$name]=$(median ${PULL[$client-$name]})
    label=$([ $name = cncf ] && echo "CNCF docker-registry 2.8" || echo "Arca")
    echo "| $client | $label | ${PUSH[$client-$name]} | ${PULL[$client-$name]} |"
  done
  if [ -n "${PUSH[$client-arca]:-}" ]; then
    r() { python3 -c "print(f'{$1/$2:.2f}' if $2 else '-')"; }
    echo "| $client | Arca / CNCF | $(r "${PUSH[$client-arca]}" "${PUSH[$client-cncf]}") | $(r "${PULL[$client-arca]}" "${PULL[$client-cncf]}") |"
    echo "$client ${PUSH[$client-cncf]} ${PUSH[$client-arca]} ${PULL[$client-cncf]} ${PULL[$client-arca]}" >>"$ROWS"
  fi
done
HWM=0
[ -n "${APID:-}" ] && HWM=$(awk '/VmHWM/ {print $2}' /proc/$APID/status)
[ -n "${APID:-}" ] && echo "Arca peak RSS over the whole run: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$APID/status)"
echo "($(python3 -c "print(f'{$BYTES/1048576:.0f}')") MiB layer blob, gzip level 0; one skopeo push per target; curl = one PUT / one GET of the blob, the server's ceiling)"
if [ -n "${BENCH_JSON:-}" ]; then
  python3 - "$ROWS" "$BENCH_JSON" "$BYTES" "$REPS" "$HWM" <<'PY'
import json, sys
rows_file, out, size, reps, hwm = sys.argv[1:]
mib = int(size) / 1048576
rows = []
for line in open(rows_file):
    client, cpush, apush, cpull, apull = line.split()
    for op, c, a in (("push", cpush, apush), ("pull", cpull, apull)):
        c, a = float(c), float(a)
        # Issue 18's rows are curl's (the registry's own pace): keep >= 1.5x the CNCF registry both ways.
        target = 1.5 if client == "curl" else None
        rows.append({"workload": f"docker {mib:.0f} MiB blob {op} ({client})", "reference": "CNCF registry 2.8",
                     "reference_value": c, "arca_value": a, "unit": "MB/s", "ratio": a / c if c else None,
                     "target_ratio": target, "pass": (a / c >= target) if (target and c) else None,
                     "peak_rss_mib": int(hwm) / 1024 if int(hwm) else None})
json.dump({"layer_bytes": int(size), "repetitions": int(reps), "rows": rows}, open(out, "w"), indent=1)
PY
fi
