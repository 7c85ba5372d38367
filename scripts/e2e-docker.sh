#!/usr/bin/env bash
# Real docker, podman and skopeo against Arca's Docker registry: login, push/pull round trips
# (image IDs compared), a multi-arch OCI index, tag list and delete, push through a group, a proxy
# of a second Arca (served from cache once the upstream is gone), and dockerd pulling a Docker Hub
# name through a registry mirror (Arca's connector port proxying a CNCF registry), and docker
# garbage collection (two built images sharing a base: deleting one frees only its own layer,
# deleting both brings the blob directory back to its size before the pushes). Loopback only.
# TARGET=arca (default, needs ARCA_BIN) or TARGET=cncf: the same client steps against Debian's
# docker-registry (CNCF distribution) with htpasswd auth; Arca-only steps are skipped.
# Prints 'N passed, N failed'.
set -uo pipefail
TARGET=${TARGET:-arca}
[ "$TARGET" = cncf ] || ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary (or TARGET=cncf)}
for b in dockerd docker podman skopeo docker-registry htpasswd; do
  command -v "$b" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends docker.io podman skopeo docker-registry apache2-utils >/dev/null; break; }
done
W=$(mktemp -d /tmp/arca-docker.XXXXXX)
PIDS=(); DPID=""
pass=0; fail=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >"$W/cmd.log" 2>&1; then ok "$what"; else bad "$what"; tail -15 "$W/cmd.log"; fi; }
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "$DPID" ] && { kill "$DPID"; wait "$DPID"; } 2>/dev/null   # dockerd stops its containerd, unmounts
  rm -rf "$W"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitfor() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1"; return 1; }

PORT=$(port); REG=127.0.0.1:$PORT; URL=http://$REG; PW=admin-pass-123
GRACE=2                                  # ARCA_GC_GRACE: seconds an unused layer is kept from the GC
PORT2=$(port); PW2=upstream-pass-456     # second Arca, upstream of docker-proxy-arca
MPORT=$(port)                            # CNCF registry without auth: upstream of the mirror
CPORT=$(port)                            # Arca connector port of docker-proxy-cncf
if [ "$TARGET" = arca ]; then HOSTED=docker-hosted/; MIRROR=$CPORT; else HOSTED=; MIRROR=$MPORT; fi

# --- the registries ---------------------------------------------------------------------------
registry() { # name port [htpasswd file]: Debian's CNCF docker-registry under $W/name
  local auth=""; [ -n "${3:-}" ] && auth="auth: {htpasswd: {realm: cncf, path: $3}}"
  printf '%s\n' "version: 0.1" "log: {level: warn, accesslog: {disabled: true}}" \
    "storage: {filesystem: {rootdirectory: $W/$1}, delete: {enabled: true}}" "http: {addr: \"127.0.0.1:$2\"}" "$auth" >"$W/$1.yml"
  docker-registry serve "$W/$1.yml" >"$W/$1.log" 2>&1 &
  PIDS+=($!); waitfor "http://127.0.0.1:$2/v2/"
}
arca() { # dir port password: an Arca process with its own data dir
  mkdir -p "$W/$1"
  (cd "$W/$1" && exec env ARCA_LISTEN="127.0.0.1:$2" ARCA_ADMIN_PASSWORD=$3 ARCA_GC_GRACE=$GRACE "$ARCA_BIN" >"$W/$1.log" 2>&1) &
  PIDS+=($!)
  for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$2/service/rest/v1/status" >/dev/null && return; sleep 0.02; done
}
registry mirror-upstream "$MPORT"
if [ "$TARGET" = cncf ]; then
  htpasswd -Bbn admin "$PW" >"$W/htpasswd"
  registry cncf "$PORT" "$W/htpasswd"
else
  arca arca "$PORT" "$PW"
  arca arca2 "$PORT2" "$PW2"; A2PID=${PIDS[-1]}
  api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:${4:-$PW}" -H 'content-type: application/json' -X "$1" "http://127.0.0.1:${5:-$PORT}/service/rest/v1/$2" -d "$3"; }
  ST='"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW"}'
  DK='"docker":{"v1Enabled":false,"forceBasicAuth":true}'
  hosted() { echo "{\"name\":\"$1\",\"online\":true,$ST,$DK}"; }
  check "create docker-hosted" test "$(api POST repositories/docker/hosted "$(hosted docker-hosted)")" = 201
  check "create docker-other" test "$(api POST repositories/docker/hosted "$(hosted docker-other)")" = 201
  check "create upstream-hosted on the second Arca" test "$(api POST repositories/docker/hosted "$(hosted upstream-hosted)" "$PW2" "$PORT2")" = 201
  check "create docker-proxy-arca" test "$(api POST repositories/docker/proxy "{\"name\":\"docker-proxy-arca\",\"online\":true,$ST,
    \"proxy\":{\"remoteUrl\":\"http://127.0.0.1:$PORT2\",\"contentMaxAge\":1440,\"metadataMaxAge\":1440},
    \"negativeCache\":{\"enabled\":true,\"timeToLive\":1},\"httpClient\":{\"blocked\":false,\"autoBlock\":true,
    \"authentication\":{\"type\":\"username\",\"username\":\"admin\",\"password\":\"$PW2\"}},
    \"docker\":{\"v1Enabled\":false,\"forceBasicAuth\":true,\"httpPort\":null},\"dockerProxy\":{\"indexType\":\"REGISTRY\"}}")" = 201
  check "create docker-all (group)" test "$(api POST repositories/docker/group "{\"name\":\"docker-all\",\"online\":true,$ST,$DK,
    \"group\":{\"memberNames\":[\"docker-hosted\",\"docker-proxy-arca\"],\"writableMember\":\"docker-hosted\"}}")" = 201
  check "create docker-proxy-cncf with connector port" test "$(api POST repositories/docker/proxy "{\"name\":\"docker-proxy-cncf\",\"online\":true,$ST,
    \"proxy\":{\"remoteUrl\":\"http://127.0.0.1:$MPORT\",\"contentMaxAge\":1440,\"metadataMaxAge\":1440},
    \"negativeCache\":{\"enabled\":true,\"timeToLive\":1},\"httpClient\":{\"blocked\":false,\"autoBlock\":true},
    \"docker\":{\"v1Enabled\":false,\"forceBasicAuth\":false,\"httpPort\":$CPORT},\"dockerProxy\":{\"indexType\":\"REGISTRY\"}}")" = 201
fi

# --- a private dockerd (its mirror is set now; it is only used for Docker Hub names) -----------
mkdir -p "$W/docker" "$W/docker-config"
export DOCKER_HOST=unix://$W/docker/docker.sock DOCKER_CONFIG=$W/docker-config
cat >"$W/docker/daemon.json" <<EOF
{"registry-mirrors":["http://127.0.0.1:$MIRROR"],"insecure-registries":["127.0.0.1:$MIRROR"],"deprecated-key-path":"$W/docker/key.json"}
EOF
dockerd --config-file "$W/docker/daemon.json" --storage-driver vfs --iptables=false --ip6tables=false --bridge=none \
  --data-root "$W/docker/root" --exec-root "$W/docker/exec" --pidfile "$W/docker/pid" --host "$DOCKER_HOST" >"$W/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
check "dockerd is up" docker info

# podman and skopeo: private storage, config and auth file; no search registries (no network).
mkdir -p "$W/podman"; echo '{}' >"$W/auth.json"
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$W/registries.conf"
printf '[engine]\ntmp_dir = "%s"\nvolume_path = "%s"\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\n' "$W/podman/tmp" "$W/podman/volumes" >"$W/containers.conf"
export CONTAINERS_REGISTRIES_CONF=$W/registries.conf CONTAINERS_CONF=$W/containers.conf REGISTRY_AUTH_FILE=$W/auth.json
PODMAN=(podman --root "$W/podman/root" --runroot "$W/podman/run" --storage-driver vfs)

# Test images: tiny rootfs tarballs with random content, so every digest is new in every run.
rootfs() { local d=$W/rootfs-$1; mkdir -p "$d/etc"; head -c 4096 /dev/urandom >"$d/etc/random"; echo "$1" >"$d/etc/name"; tar -C "$d" -cf "$d.tar" .; echo "$d.tar"; }
mkimg() { docker import "$(rootfs "$1")" "$1" >/dev/null; }
imgid() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null; }
roundtrip() { # what image: remove every local tag of the image, pull it back, same image ID
  local id; id=$(imgid "$2")
  docker rmi -f "$id" >/dev/null 2>&1
  check "$1" bash -c "docker pull -q '$2' && [ \"\$(docker image inspect -f '{{.Id}}' '$2')\" = '$id' ]"
}

# --- docker: login, push, pull ------------------------------------------------------------------
check "docker import app:1" mkimg app:1; IMG=$REG/${HOSTED}team/app:1; docker tag app:1 "$IMG"
check "docker push without login is refused" bash -c "! docker push '$IMG' >'$W/p.log' 2>&1 && grep -qiE 'denied|unauthorized|no basic auth' '$W/p.log'"
# docker retries errors it does not know as final (5 times, 50 s); an errcode body with the spec's
# default message and no "detail" decodes to a bare ErrorCode, which docker 20.10 does retry.
check "... at once, without docker's retries" bash -c "! grep -q Retrying '$W/p.log'"
check "docker login with a wrong password fails" bash -c "! echo wrong | docker login '$REG' -u admin --password-stdin"
check "docker login" bash -c "echo '$PW' | docker login '$REG' -u admin --password-stdin"
check "docker push $IMG" docker push "$IMG"
roundtrip "docker rmi + pull: same image ID" "$IMG"
check "tags/list over HTTP has 1" bash -c "curl -sf -u 'admin:$PW' '$URL/v2/${HOSTED}team/app/tags/list' | grep -q '\"1\"'"

# --- podman --------------------------------------------------------------------------------------
PIMG=$REG/${HOSTED}team/podman:1
check "podman import" "${PODMAN[@]}" import -q "$(rootfs podman)" localhost/podtest:1
PID_POD=$("${PODMAN[@]}" image inspect -f '{{.Id}}' localhost/podtest:1)
check "podman push" "${PODMAN[@]}" push -q --tls-verify=false --creds "admin:$PW" localhost/podtest:1 "$PIMG"
"${PODMAN[@]}" rmi -f localhost/podtest:1 >/dev/null 2>&1
check "podman pull: same image ID" bash -c "$(printf '%q ' "${PODMAN[@]}") pull -q --tls-verify=false --creds 'admin:$PW' '$PIMG' | grep -qx '$PID_POD'"

# --- skopeo: a multi-arch OCI index built by hand ----------------------------------------------
cat >"$W/mkoci.py" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile
out, tag = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
js = lambda o: json.dumps(o, separators=(",", ":")).encode()
def blob(data, mt):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"mediaType": mt, "digest": "sha256:" + d, "size": len(data)}
manifests = []
for arch in ("amd64", "arm64"):
    buf, data = io.BytesIO(), arch.encode() + os.urandom(2048)
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo(f"etc/{arch}.bin"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    tar = buf.getvalue()
    layer = blob(gzip.compress(tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = blob(js({"architecture": arch, "os": "linux", "config": {}, "rootfs": {"type": "layers",
                  "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}), "application/vnd.oci.image.config.v1+json")
    m = blob(js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config,
                 "layers": [layer]}), "application/vnd.oci.image.manifest.v1+json")
    manifests.append(dict(m, platform={"architecture": arch, "os": "linux"}))
idx = blob(js({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}),
           "application/vnd.oci.image.index.v1+json")
open(f"{out}/index.json", "wb").write(js({"schemaVersion": 2, "manifests": [dict(idx, annotations={"org.opencontainers.image.ref.name": tag})]}))
open(f"{out}/oci-layout", "wb").write(js({"imageLayoutVersion": "1.0.0"}))
print(idx["digest"])
EOF
IDX=$(python3 "$W/mkoci.py" "$W/oci" 1); python3 "$W/mkoci.py" "$W/oci2" 2 >/dev/null
MULTI=docker://$REG/${HOSTED}team/multi
SK=(--creds "admin:$PW" --tls-verify=false)
tags() { skopeo list-tags "${SK[@]}" "$MULTI" | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["Tags"])))'; }
check "skopeo copy --all OCI index (amd64+arm64)" skopeo copy -q --all --dest-creds "admin:$PW" --dest-tls-verify=false "oci:$W/oci:1" "$MULTI:1"
check "skopeo inspect --raw: the same index, 2 manifests" bash -c "skopeo inspect --raw $(printf '%q ' "${SK[@]}") '$MULTI:1' >'$W/idx.json' &&
  [ sha256:\$(sha256sum <'$W/idx.json' | cut -c1-64) = '$IDX' ] && python3 -c 'import json,sys; assert len(json.load(open(sys.argv[1]))[\"manifests\"])==2' '$W/idx.json'"
check "skopeo inspect --override-arch arm64" bash -c "skopeo inspect --override-arch arm64 $(printf '%q ' "${SK[@]}") '$MULTI:1' | grep -q '\"Architecture\": \"arm64\"'"
check "skopeo copy --all back: same index digest" bash -c "skopeo copy -q --all --src-creds 'admin:$PW' --src-tls-verify=false '$MULTI:1' 'oci:$W/back:1' &&
  grep -q '\"digest\":\"$IDX\"' '$W/back/index.json'"
check "skopeo copy a second index as tag 2" skopeo copy -q --all --dest-creds "admin:$PW" --dest-tls-verify=false "oci:$W/oci2:2" "$MULTI:2"
check "skopeo list-tags: 1 2" test "$(tags)" = "1 2"
check "skopeo delete tag 2" skopeo delete "${SK[@]}" "$MULTI:2"
check "skopeo list-tags: 1 only" test "$(tags)" = "1"

# --- Arca only: group, proxy of another Arca --------------------------------------------------
if [ "$TARGET" = arca ]; then
  mkimg viagroup:1; docker tag viagroup:1 "$REG/docker-all/team/viagroup:1"
  check "docker push through the group" docker push "$REG/docker-all/team/viagroup:1"
  docker tag viagroup:1 "$REG/docker-hosted/team/viagroup:1"
  roundtrip "pull the group-pushed image from docker-hosted" "$REG/docker-hosted/team/viagroup:1"
  docker tag "$IMG" "$REG/docker-all/team/app:1"
  roundtrip "pull the hosted image through the group" "$REG/docker-all/team/app:1"

  UP=127.0.0.1:$PORT2/upstream-hosted/team/up:1; VIA=$REG/docker-proxy-arca/upstream-hosted/team/up:1
  mkimg up:1; docker tag up:1 "$UP"; docker tag up:1 "$VIA"
  check "docker login to the second Arca" bash -c "echo '$PW2' | docker login 127.0.0.1:$PORT2 -u admin --password-stdin"
  check "docker push to the second Arca" docker push "$UP"
  roundtrip "pull through docker-proxy-arca" "$VIA"
  kill "$A2PID"; wait "$A2PID" 2>/dev/null
  roundtrip "pull through docker-proxy-arca with the upstream stopped (cache)" "$VIA"
  check "enable anonymous access" test "$(api PUT security/anonymous '{"enabled":true,"userId":"anonymous","realmName":"NexusAuthorizingRealm"}')" = 200
else
  echo "skip: repositories, group, proxy of a second Arca, connector port (TARGET=cncf)"
fi

# --- registry mirror: docker.io/library/alpine:3 comes from 127.0.0.1:$MIRROR ------------------
mkimg "127.0.0.1:$MPORT/library/alpine:3"
check "push library/alpine:3 to the upstream CNCF registry" docker push "127.0.0.1:$MPORT/library/alpine:3"
ALP=$(imgid "127.0.0.1:$MPORT/library/alpine:3"); docker rmi -f "$ALP" >/dev/null 2>&1
check "docker pull alpine:3 through the mirror (port $MIRROR): same image ID" bash -c \
  "timeout 120 docker pull -q alpine:3 && [ \"\$(docker image inspect -f '{{.Id}}' docker.io/library/alpine:3)\" = '$ALP' ]"

# --- Arca only: docker garbage collection (task docker-gc) ------------------------------------
# Two images FROM one imported base, each adding one file with a Dockerfile COPY (the legacy
# builder: this dockerd has no buildkit), pushed to docker-hosted: deleting one frees its own
# layer (and config) but not the shared base; deleting the other frees the rest.
if [ "$TARGET" = arca ]; then
  BLOBS=$W/arca/data/blobs/sha256
  blobbytes() { find "$BLOBS" -type f -printf '%s\n' 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
  blobfile() { local h=${1#sha256:}; echo "$BLOBS/${h:0:2}/${h:2:2}/$h"; }
  rungc() { # run docker-gc; its message in $GCMSG
    local st; st=$(api POST tasks/docker-gc/run '')
    api GET tasks/docker-gc '' >/dev/null
    GCMSG=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message"))' "$W/api.out" 2>/dev/null)
    [ "$st" = 204 ]
  }
  manifest() { # image tag-or-digest: the manifest JSON in $W/m.json, its digest on stdout
    curl -sf -u "admin:$PW" -D "$W/m.hdr" -o "$W/m.json" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$URL/v2/docker-hosted/$1/manifests/$2" &&
      tr -d '\r' <"$W/m.hdr" | awk 'tolower($1)=="docker-content-digest:" {print $2}'
  }
  mfield() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$W/m.json" "$1"; }
  waitbytes() { # limit: seconds (1/10) until the blob directory holds at most limit bytes, from $T_DEL
    for _ in $(seq 1 150); do [ "$(blobbytes)" -le "$1" ] && break; sleep 0.1; done
    echo "$(( $(date +%s%N) / 1000000 - T_DEL ))"
  }
  T_GC=$(date +%s)
  mkimg gcbase:1
  for n in one two; do
    mkdir -p "$W/gc-$n"; head -c 1048576 /dev/urandom >"$W/gc-$n/$n.bin"
    printf 'FROM gcbase:1\nCOPY %s.bin /%s.bin\n' "$n" "$n" >"$W/gc-$n/Dockerfile"
  done
  G1=$REG/docker-hosted/gc/one:1; G2=$REG/docker-hosted/gc/two:1
  check "docker build two images FROM one base (COPY of 1 MiB each)" bash -c \
    "DOCKER_BUILDKIT=0 docker build -q -t '$G1' '$W/gc-one' && DOCKER_BUILDKIT=0 docker build -q -t '$G2' '$W/gc-two'"
  # What earlier sections left (tag 2 of team/multi, deleted above) goes first, after the grace.
  sleep "$GRACE.2"
  check "docker-gc before the pushes (what earlier sections deleted)" rungc; echo "     $GCMSG"
  B0=$(blobbytes)
  check "docker push gc/one and gc/two (shared base)" bash -c "docker push -q '$G1' && docker push -q '$G2'"
  B1=$(blobbytes)
  D1=$(manifest gc/one 1); U1=$(mfield 'm["layers"][-1]["digest"]'); U1SIZE=$(mfield 'm["layers"][-1]["size"]')
  D2=$(manifest gc/two 1); BASE=$(mfield 'm["layers"][0]["digest"]'); U2=$(mfield 'm["layers"][-1]["digest"]')
  ID2=$(imgid "$G2")
  echo "     blobs: $B0 bytes before the pushes, $B1 after; image one's own layer ${U1:7:12} $U1SIZE bytes, shared base ${BASE:7:12}"
  T_DEL=$(( $(date +%s%N) / 1000000 ))
  check "skopeo delete gc/one:1 (by its digest ${D1:7:12})" skopeo delete "${SK[@]}" "docker://$G1"
  check "gc/one's manifest answers 404 by digest" test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" "$URL/v2/docker-hosted/gc/one/manifests/$D1")" = 404
  sleep "$GRACE.2"
  # A dry run (a task of Nexus's type, dryRun true) names the layer and deletes nothing; the
  # blob store listing counts it as reclaimable.
  check "create a dry-run docker GC task for docker-hosted" test "$(api POST tasks '{"type":"repository.docker.gc","name":"dry run","enabled":true,
    "notificationCondition":"FAILURE","frequency":{"schedule":"manual"},"properties":{"repositoryName":"docker-hosted","dryRun":"true"}}')" = 201
  DRY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$W/api.out")
  BD=$(blobbytes)
  api POST "tasks/$DRY/run" '' >/dev/null; api GET "tasks/$DRY" '' >/dev/null
  DRYMSG=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("message"))' "$W/api.out")
  echo "     ${DRYMSG:0:160}…"
  check "the dry run names image one's layer and deletes nothing" bash -c \
    "grep -q -- '${U1}' <<<'$DRYMSG' && [ '$(blobbytes)' = '$BD' ]"
  api GET blobstores '' >/dev/null
  RECL=$(python3 -c 'import json,sys; print([b for b in json.load(open(sys.argv[1])) if b["name"]=="default"][0]["reclaimableSizeInBytes"])' "$W/api.out")
  check "GET /blobstores: reclaimable $RECL bytes, at least image one's layer" test "$RECL" -ge "$U1SIZE"
  check "docker-gc after the grace" rungc; echo "     $GCMSG"
  MS=$(waitbytes $((B1 - U1SIZE))); B2=$(blobbytes)
  api GET blobstores '' >/dev/null
  FREED=$(python3 -c 'import json,sys; print([b for b in json.load(open(sys.argv[1])) if b["name"]=="default"][0]["lastCollection"]["bytesFreed"])' "$W/api.out")
  check "GET /blobstores: the last collection freed $FREED bytes, at least image one's layer" test "$FREED" -ge "$U1SIZE"
  check "the blob directory shrank by at least image one's layer" test $((B1 - B2)) -ge "$U1SIZE"
  echo "     blobs: $B1 -> $B2 bytes (-$((B1 - B2))), ${MS} ms from the DELETE to the bytes being gone (grace ${GRACE} s)"
  check "image one's layer file is gone, the shared base and image two's layer stay" bash -c \
    "[ ! -e '$(blobfile "$U1")' ] && [ -f '$(blobfile "$BASE")' ] && [ -f '$(blobfile "$U2")' ]"
  check "image one's layer answers 404, the base 200" bash -c \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:$PW' '$URL/v2/docker-hosted/gc/one/blobs/$U1')\" = 404 ] &&
     [ \"\$(curl -s -o /dev/null -w '%{http_code}' -u 'admin:$PW' '$URL/v2/docker-hosted/gc/two/blobs/$BASE')\" = 200 ]"
  # Every local image of the three goes, so that the pull must fetch the base layer too.
  docker rmi -f "$ID2" "$(imgid "$G1")" "$(imgid gcbase:1)" >/dev/null 2>&1
  check "docker rmi + pull of gc/two (base layer fetched too): same image ID" bash -c \
    "! docker image inspect gcbase:1 >/dev/null 2>&1 && docker pull -q '$G2' && [ \"\$(docker image inspect -f '{{.Id}}' '$G2')\" = '$ID2' ]"
  T_DEL=$(( $(date +%s%N) / 1000000 ))
  check "DELETE gc/two by digest ${D2:7:12}: 202" test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -X DELETE "$URL/v2/docker-hosted/gc/two/manifests/$D2")" = 202
  sleep "$GRACE.2"
  check "docker-gc after the grace, again" rungc; echo "     $GCMSG"
  MS=$(waitbytes $((B0 + 1024))); B3=$(blobbytes)
  check "the blob directory is back to what it was before both pushes (within 1 KiB)" test $((B3 - B0 <= 1024 && B0 - B3 <= 1024)) = 1
  echo "     blobs: $B0 before the pushes, $B1 after, $B2 without image one, $B3 without both (${MS} ms from the DELETE); section $(( $(date +%s) - T_GC )) s"
fi

echo
echo "docker e2e ($TARGET): $pass passed, $fail failed"
[ "$fail" = 0 ]
