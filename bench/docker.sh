#!/usr/bin/env bash
# Docker registry throughput: push and pull of one 512 MiB layer (random, incompressible) to Arca
# (ARCA_BIN, release build, docker hosted repository) and to Debian's CNCF docker-registry 2.8 (htpasswd
# auth, same disk), in the same run, printing MB/s (10^6 bytes/s) and the Arca/CNCF ratio.
# Client: skopeo copying an OCI layout whose layer is already gzip (level 0, stored blocks), so no
# client recompression: the numbers are the registry's. The docker CLI gzips the layer itself on push
# (about 21 MB/s on this machine for random data, the registry hardly matters): BENCH_DOCKER=1 adds those
# rows anyway. Without ARCA_BIN only the CNCF side runs.
# Usage: [ARCA_BIN=target/release/arca] [BENCH_DOCKER=1] bench/docker.sh [pull repetitions, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
MIB=${BENCH_MIB:-512}
for b in skopeo docker-registry htpasswd openssl dockerd docker; do
  command -v "$b" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends docker.io skopeo docker-registry apache2-utils openssl >/dev/null; break; }
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
  for _ in $(seq 1 2000); do curl -sf "http://127.0.0.1:$APORT/service/rest/v1/status" >/dev/null && break; sleep 0.005; done
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

# The server's own ceiling: curl GET of the layer blob (no client-side hashing or file writes).
for t in "${TARGETS[@]}"; do
  set -- $t; name=$1; repo=$2
  for i in $(seq 1 "$REPS"); do
    s=$(curl -sfL -u "admin:$PW" -o /dev/null -w '%{speed_download}' "http://${repo%%/*}/v2/${repo#*/}/big/blobs/sha256:$LAYER")
    PULL[curl-$name]="${PULL[curl-$name]:-} $(python3 -c "print(f'{$s/1e6:.0f}')")"
  done
  PUSH[curl-$name]=-
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
echo "| client | target | push MB/s | pull MB/s (median of $REPS for skopeo, curl) |"
echo "|---|---|---|---|"
for client in skopeo curl docker; do
  [ -n "${PUSH[$client-cncf]:-}" ] || continue
  for name in cncf arca; do
    [ -n "${PUSH[$client-$name]:-}" ] || continue
    PULL[$client-$name]=$(median ${PULL[$client-$name]})
    label=$([ $name = cncf ] && echo "CNCF docker-registry 2.8" || echo "Arca")
    echo "| $client | $label | ${PUSH[$client-$name]} | ${PULL[$client-$name]} |"
  done
  if [ -n "${PUSH[$client-arca]:-}" ]; then
    r() { python3 -c "print(f'{$1/$2:.2f}')"; }
    pr=-; [ "${PUSH[$client-arca]}" = - ] || pr=$(r "${PUSH[$client-arca]}" "${PUSH[$client-cncf]}")
    echo "| $client | Arca / CNCF | $pr | $(r "${PULL[$client-arca]}" "${PULL[$client-cncf]}") |"
  fi
done
[ -n "${APID:-}" ] && echo "Arca peak RSS over the whole run: $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$APID/status)"
echo "($(python3 -c "print(f'{$BYTES/1048576:.0f}')") MiB layer blob, gzip level 0; one push per target; curl = blob GET only, the server's ceiling)"
