#!/usr/bin/env bash
# Real rpmbuild, dnf and createrepo_c against Arca's Yum repositories: uploads (bad ones refused),
# repodata cross-checked with createrepo_c on the same RPMs, dnf makecache/repoquery/install with
# a dependency from hosted, from a repodataDepth=1 repository, through a proxy of a createrepo_c
# repository on loopback (and again with it stopped), and through a group; deletes leave repodata.
# Prints 'N passed, N failed'. Needs ARCA_BIN.
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
for b in rpmbuild dnf createrepo_c gpg; do
  command -v "$b" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends rpm dnf createrepo-c gnupg >/dev/null; break; }
done
W=$(mktemp -d /tmp/arca-yum.XXXXXX)
PIDS=()
pass=0; fail=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@" >"$W/cmd.log" 2>&1; then ok "$what"; else bad "$what"; tail -15 "$W/cmd.log"; fi; }
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$W"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=admin-pass-123; AUTH="http://admin:$PW@127.0.0.1:$PORT"
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PIDS+=($!)
for _ in $(seq 1 500); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break; sleep 0.02; done

# RPMs: arca-hello needs arca-lib >= 2.0; arca-extra lives upstream of the proxy.
for s in arca-lib arca-hello arca-extra; do
  rpmbuild --quiet --define "_topdir $W/top" -bb "$ROOT/tests/yum/$s.spec" >"$W/rpmbuild.log" 2>&1 || { cat "$W/rpmbuild.log"; exit 1; }
done
R=$W/top/RPMS/noarch; LIB=$R/arca-lib-2.1-3.noarch.rpm; HELLO=$R/arca-hello-1.0-1.noarch.rpm; EXTRA=$R/arca-extra-0.9-2.noarch.rpm

# The proxy's upstream: a createrepo_c repository served on loopback.
UPORT=$(port); mkdir -p "$W/upstream/Packages" && cp "$EXTRA" "$W/upstream/Packages/" && createrepo_c -q "$W/upstream"
(cd "$W/upstream" && exec python3 -m http.server --bind 127.0.0.1 "$UPORT" >"$W/upstream.log" 2>&1) &
UPID=$!; PIDS+=($UPID)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$UPORT/repodata/repomd.xml" >/dev/null && break; sleep 0.05; done

api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' -X "$1" "$URL/service/rest/v1/$2" -d "$3"; }
ST='"storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW"}'
check "create yum-hosted" test "$(api POST repositories/yum/hosted "{\"name\":\"yum-hosted\",\"online\":true,$ST,\"yum\":{\"repodataDepth\":0,\"deployPolicy\":\"STRICT\"}}")" = 201
check "create yum-deep (repodataDepth 1)" test "$(api POST repositories/yum/hosted "{\"name\":\"yum-deep\",\"online\":true,$ST,\"yum\":{\"repodataDepth\":1,\"deployPolicy\":\"STRICT\"}}")" = 201
check "create yum-proxy" test "$(api POST repositories/yum/proxy "{\"name\":\"yum-proxy\",\"online\":true,$ST,\"proxy\":{\"remoteUrl\":\"http://127.0.0.1:$UPORT/\",\"contentMaxAge\":1440,\"metadataMaxAge\":0},\"negativeCache\":{\"enabled\":true,\"timeToLive\":1},\"httpClient\":{\"blocked\":false,\"autoBlock\":true}}")" = 201
check "create yum-all (group)" test "$(api POST repositories/yum/group "{\"name\":\"yum-all\",\"online\":true,$ST,\"group\":{\"memberNames\":[\"yum-hosted\",\"yum-proxy\"]}}")" = 201
check "repodataDepth 9 refused" test "$(api POST repositories/yum/hosted "{\"name\":\"yum-bad\",\"online\":true,$ST,\"yum\":{\"repodataDepth\":9}}")" = 400

put() { curl -s -o "$W/put.out" -w '%{http_code}' -u "admin:$PW" -T "$1" "$URL/repository/$2"; }
check "upload arca-lib" test "$(put "$LIB" yum-hosted/Packages/arca-lib-2.1-3.noarch.rpm)" = 201
check "upload arca-hello" test "$(put "$HELLO" yum-hosted/Packages/arca-hello-1.0-1.noarch.rpm)" = 201
echo "not an rpm" >"$W/junk.rpm"; head -c 2000 "$HELLO" >"$W/trunc.rpm"
check "junk refused: 400" test "$(put "$W/junk.rpm" yum-hosted/junk.rpm)" = 400
check "truncated RPM refused: 400" test "$(put "$W/trunc.rpm" yum-hosted/trunc.rpm)" = 400
check "non-.rpm refused: 400" test "$(put "$ROOT/README.md" yum-hosted/README.md)" = 400
check "writing repodata/ refused: 400" test "$(put "$LIB" yum-hosted/repodata/x.rpm)" = 400
check "unauthenticated upload: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -T "$LIB" "$URL/repository/yum-hosted/x.rpm")" = 401
check "nothing of the refused files stored" bash -c "! curl -s -u admin:$PW $URL/repository/yum-hosted/ | grep -qE 'junk|trunc|README'"

# repodata against createrepo_c's for the same RPMs.
mkdir -p "$W/ref/Packages" && cp "$LIB" "$HELLO" "$W/ref/Packages/" && createrepo_c -q "$W/ref"
fetch_primary() { # repo-url out: the primary.xml the repo's repomd.xml names
  local href; href=$(curl -s "$1/repodata/repomd.xml" | grep -o 'repodata/[^"]*-primary.xml.gz') && curl -sf "$1/$href" | gunzip >"$2"
}
check "fetch Arca's primary.xml" fetch_primary "$AUTH/repository/yum-hosted" "$W/arca-primary.xml"
check "primary.xml matches createrepo_c (packages, versions, checksums, deps, files)" python3 - "$W/arca-primary.xml" "$W/ref/repodata" <<'PY'
import glob, gzip, sys, xml.etree.ElementTree as ET
C = "{http://linux.duke.edu/metadata/common}"; R = "{http://linux.duke.edu/metadata/rpm}"
def load(root):
    out = {}
    for p in root.findall(C + "package"):
        f = p.find(C + "format")
        deps = {k: sorted(tuple(sorted(e.attrib.items())) for e in f.findall(f"{R}{k}/{R}entry"))
                for k in ("provides", "requires", "conflicts", "obsoletes")}
        out[p.find(C + "name").text] = dict(
            version=p.find(C + "version").attrib, checksum=p.find(C + "checksum").text,
            arch=p.find(C + "arch").text, summary=p.find(C + "summary").text,
            size={k: v for k, v in p.find(C + "size").attrib.items()}, location=p.find(C + "location").attrib,
            header=f.find(R + "header-range").attrib, license=f.find(R + "license").text,
            files=sorted((x.text, x.get("type")) for x in f.findall(C + "file")), **deps)
    return out
arca = load(ET.parse(sys.argv[1]).getroot())
ref = load(ET.fromstring(gzip.open(glob.glob(sys.argv[2] + "/*-primary.xml.gz")[0]).read()))
assert set(arca) == set(ref) == {"arca-lib", "arca-hello"}, (set(arca), set(ref))
for n in ref:
    for k in ref[n]:
        assert arca[n][k] == ref[n][k], (n, k, arca[n][k], ref[n][k])
print("same:", sorted(ref))
PY

DNF=0
dnf_() { # repo-url dnf-args...: a fresh install root and cache each time
  DNF=$((DNF+1)); local url=$1; shift
  dnf -y -q --installroot="$W/root$DNF" --releasever=1 --setopt=reposdir=/dev/null --setopt=cachedir="$W/cache$DNF" \
    --repofrompath="arca,$url" --setopt=arca.gpgcheck=0 "$@"
}
check "dnf makecache (hosted)" dnf_ "$AUTH/repository/yum-hosted/" makecache
check "dnf repoquery lists both with epoch" bash -c "$(declare -f dnf_); W=$W DNF=$DNF; dnf_ '$AUTH/repository/yum-hosted/' repoquery 2>&1 | tee /dev/stderr | grep -q 'arca-lib-1:2.1-3.noarch' && dnf_ '$AUTH/repository/yum-hosted/' repoquery 2>&1 | grep -q 'arca-hello-0:1.0-1.noarch'"
DNF=$((DNF+2))
check "dnf install arca-hello pulls arca-lib (hosted)" bash -c "$(declare -f dnf_); W=$W DNF=$DNF; dnf_ '$AUTH/repository/yum-hosted/' install arca-hello && test -x $W/root$((DNF+1))/usr/bin/arca-hello && test -f $W/root$((DNF+1))/usr/lib/arca/lib.txt"
DNF=$((DNF+1))

check "upload to yum-deep/el9/" test "$(put "$LIB" yum-deep/el9/arca-lib-2.1-3.noarch.rpm)" = 201
check "upload to yum-deep/el9/ (2)" test "$(put "$HELLO" yum-deep/el9/x86_64/arca-hello-1.0-1.noarch.rpm)" = 201
check "an RPM above the repodata depth: 400" test "$(put "$LIB" yum-deep/arca-lib.rpm)" = 400
check "dnf install from yum-deep/el9/" bash -c "$(declare -f dnf_); W=$W DNF=$DNF; dnf_ '$AUTH/repository/yum-deep/el9/' install arca-hello && test -x $W/root$((DNF+1))/usr/bin/arca-hello"
DNF=$((DNF+1))
check "no repodata at the top of yum-deep" test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" "$URL/repository/yum-deep/repodata/repomd.xml")" = 404

check "dnf install arca-extra through the proxy" bash -c "$(declare -f dnf_); W=$W DNF=$DNF; dnf_ '$AUTH/repository/yum-proxy/' install arca-extra && test -f $W/root$((DNF+1))/usr/share/arca-extra/EXTRA"
DNF=$((DNF+1))
check "dnf install arca-hello and arca-extra through the group" bash -c "$(declare -f dnf_); W=$W DNF=$DNF; dnf_ '$AUTH/repository/yum-all/' install arca-hello arca-extra && test -x $W/root$((DNF+1))/usr/bin/arca-hello && test -f $W/root$((DNF+1))/usr/share/arca-extra/EXTRA"
DNF=$((DNF+1))
kill "$UPID"; wait "$UPID" 2>/dev/null
check "with the upstream stopped: dnf install through the proxy (cache)" bash -c "$(declare -f dnf_); W=$W DNF=$DNF; dnf_ '$AUTH/repository/yum-proxy/' install arca-extra"
DNF=$((DNF+1))

check "delete arca-hello: 204" test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -X DELETE "$URL/repository/yum-hosted/Packages/arca-hello-1.0-1.noarch.rpm")" = 204
check "deleted RPM gone from hosted repodata" bash -c "$(declare -f fetch_primary); fetch_primary '$AUTH/repository/yum-hosted' $W/after.xml && grep -q 'packages=\"1\"' $W/after.xml && ! grep -q arca-hello $W/after.xml"
check "and from the group's" bash -c "$(declare -f fetch_primary); fetch_primary '$AUTH/repository/yum-all' $W/after-g.xml && ! grep -q '<name>arca-hello' $W/after-g.xml && grep -q '<name>arca-extra' $W/after-g.xml"
check "repomd.xml names only files that exist" bash -c "for h in \$(curl -s '$AUTH/repository/yum-hosted/repodata/repomd.xml' | grep -o 'repodata/[^\"]*'); do curl -sf -o /dev/null '$AUTH/repository/yum-hosted/'\$h || exit 1; done"

# Signed repodata: a key made with gpg, configured as Nexus's yumSigning; dnf with repo_gpgcheck.
export GNUPGHOME=$W/gnupg; mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --pinentry-mode loopback --passphrase sign-pass --quick-gen-key 'Arca Test <arca@example.org>' rsa3072 sign never 2>/dev/null
gpg -q --batch --pinentry-mode loopback --passphrase sign-pass --armor --export-secret-keys arca@example.org >"$W/key.asc"
gpg -q --armor --export arca@example.org >"$W/pub.asc"
SIGNED=$(python3 -c 'import json,sys; print(json.dumps({"name":"yum-signed","online":True,"storage":{"blobStoreName":"default","strictContentTypeValidation":True,"writePolicy":"ALLOW"},"yum":{"repodataDepth":0},"yumSigning":{"keypair":open(sys.argv[1]).read(),"passphrase":"sign-pass"}}))' "$W/key.asc")
check "create yum-signed (yumSigning)" test "$(api POST repositories/yum/hosted "$SIGNED")" = 201
check "the key is not echoed back" bash -c "curl -s -u admin:$PW $URL/service/rest/v1/repositories/yum/hosted/yum-signed | grep -q yumSigning && ! curl -s -u admin:$PW $URL/service/rest/v1/repositories/yum/hosted/yum-signed | grep -q 'PGP PRIVATE'"
check "a broken key is refused: 400" test "$(api POST repositories/yum/hosted '{"name":"yum-badkey","online":true,"storage":{"blobStoreName":"default","writePolicy":"ALLOW"},"yumSigning":{"keypair":"not a key"}}')" = 400
check "upload to yum-signed" test "$(put "$LIB" yum-signed/arca-lib-2.1-3.noarch.rpm)" = 201
check "gpg verifies repomd.xml.asc" bash -c "curl -sf -u admin:$PW -o $W/repomd.xml $URL/repository/yum-signed/repodata/repomd.xml && curl -sf -u admin:$PW -o $W/repomd.xml.asc $URL/repository/yum-signed/repodata/repomd.xml.asc && gpg --verify $W/repomd.xml.asc $W/repomd.xml"
check "gpg refuses a changed repomd.xml" bash -c "sed 's/<revision>/<revision>9/' $W/repomd.xml >$W/changed.xml && ! gpg --verify $W/repomd.xml.asc $W/changed.xml"
check "dnf with repo_gpgcheck installs from yum-signed" bash -c "$(declare -f dnf_); W=$W DNF=$DNF; dnf_ '$AUTH/repository/yum-signed/' --setopt=arca.repo_gpgcheck=1 --setopt=arca.gpgkey=file://$W/pub.asc install arca-lib && test -f $W/root$((DNF+1))/usr/lib/arca/lib.txt"
DNF=$((DNF+1))

echo
echo "yum e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
