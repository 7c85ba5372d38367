#!/usr/bin/env bash
# Real mvn against Arca: deploy releases and SNAPSHOTs to hosted repositories, then build a
# second project with an empty local repository through a group of those and a proxy of a
# real Maven 2 layout (Debian's /usr/share/maven-repo served on loopback).
# Prints 'N passed, N failed'. Needs ARCA_BIN.
set -uo pipefail
ARCA_BIN=${ARCA_BIN:?set ARCA_BIN to the arca binary}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/arca-mvn.XXXXXX)
PIDS=()
pass=0; fail=0
ok()  { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A real upstream in the Maven 2 layout.
UP_PORT=$(port)
python3 -m http.server --bind 127.0.0.1 --directory /usr/share/maven-repo "$UP_PORT" >"$W/upstream.log" 2>&1 &
PIDS+=($!)

PORT=$(port); URL="http://127.0.0.1:$PORT"; PW=admin-pass-123
mkdir -p "$W/arca"
(cd "$W/arca" && exec env ARCA_LISTEN="127.0.0.1:$PORT" ARCA_ADMIN_PASSWORD=$PW "$ARCA_BIN" >"$W/arca.log" 2>&1) &
PIDS+=($!)
for _ in $(seq 1 500); do curl -sf "$URL/service/rest/v1/status" >/dev/null && break; sleep 0.02; done
for _ in $(seq 1 500); do curl -sf "http://127.0.0.1:$UP_PORT/" >/dev/null && break; sleep 0.02; done

api() { curl -s -o "$W/api.out" -w '%{http_code}' -u "admin:$PW" -H 'content-type: application/json' "$@"; }
hosted() { echo "{\"name\":\"$1\",\"online\":true,\"storage\":{\"blobStoreName\":\"default\",\"strictContentTypeValidation\":true,\"writePolicy\":\"$3\"},\"maven\":{\"versionPolicy\":\"$2\",\"layoutPolicy\":\"STRICT\"}}"; }
check "create maven-releases" test "$(api "$URL/service/rest/v1/repositories/maven/hosted" -d "$(hosted maven-releases RELEASE ALLOW_ONCE)")" = 201
check "create maven-snapshots" test "$(api "$URL/service/rest/v1/repositories/maven/hosted" -d "$(hosted maven-snapshots SNAPSHOT ALLOW)")" = 201
check "create maven-debian (proxy)" test "$(api "$URL/service/rest/v1/repositories/maven/proxy" -d "{\"name\":\"maven-debian\",\"online\":true,\"storage\":{\"blobStoreName\":\"default\",\"strictContentTypeValidation\":true},\"proxy\":{\"remoteUrl\":\"http://127.0.0.1:$UP_PORT/\",\"contentMaxAge\":-1,\"metadataMaxAge\":1440},\"negativeCache\":{\"enabled\":true,\"timeToLive\":1440},\"httpClient\":{\"blocked\":false,\"autoBlock\":true},\"maven\":{\"versionPolicy\":\"MIXED\",\"layoutPolicy\":\"PERMISSIVE\"}}")" = 201
check "create maven-public (group)" test "$(api "$URL/service/rest/v1/repositories/maven/group" -d '{"name":"maven-public","online":true,"storage":{"blobStoreName":"default","strictContentTypeValidation":true},"group":{"memberNames":["maven-releases","maven-snapshots","maven-debian"]}}')" = 201

# settings.xml for building the library: plugins from Debian's repository, credentials for Arca.
cat >"$W/settings-build.xml" <<XML
<settings>
  <localRepository>$W/m2-build</localRepository>
  <mirrors><mirror><id>debian</id><mirrorOf>*</mirrorOf><url>file:///usr/share/maven-repo</url></mirror></mirrors>
  <servers>
    <server><id>arca-releases</id><username>admin</username><password>$PW</password></server>
    <server><id>arca-snapshots</id><username>admin</username><password>$PW</password></server>
  </servers>
</settings>
XML
# settings.xml for the consumer: everything through Arca's group, from an empty local repository.
cat >"$W/settings-consume.xml" <<XML
<settings>
  <localRepository>$W/m2-consume</localRepository>
  <mirrors><mirror><id>arca</id><mirrorOf>*</mirrorOf><url>$URL/repository/maven-public/</url></mirror></mirrors>
  <servers><server><id>arca</id><username>admin</username><password>$PW</password></server></servers>
  <!-- As with Nexus: let SNAPSHOTs through the mirror (central's own policy refuses them). -->
  <profiles><profile><id>arca</id>
    <repositories><repository><id>central</id><url>http://central</url>
      <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></repository></repositories>
    <pluginRepositories><pluginRepository><id>central</id><url>http://central</url>
      <releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></pluginRepository></pluginRepositories>
  </profile></profiles>
  <activeProfiles><activeProfile>arca</activeProfile></activeProfiles>
</settings>
XML

project() { # dir artifactId version [dependency versions...]
  local dir=$1 aid=$2 ver=$3; shift 3
  mkdir -p "$dir/src/main/java/org/arca/test"
  local deps=""
  for d in "$@"; do deps="$deps<dependency><groupId>org.arca.test</groupId><artifactId>greeter</artifactId><version>$d</version></dependency>"; done
  sed -e "s|@AID@|$aid|; s|@VER@|$ver|; s|@DEPS@|$deps|; s|@URL@|$URL|g" "$ROOT/tests/maven/pom.xml.in" >"$dir/pom.xml"
  if [ "$aid" = greeter ]; then
    echo 'package org.arca.test; public class Greeter { public static String greet(String n) { return "Hello, " + n; } }' \
      >"$dir/src/main/java/org/arca/test/Greeter.java"
  else
    echo 'package org.arca.test; public class App { public static void main(String[] a) { System.out.println(Greeter.greet("Arca")); } }' \
      >"$dir/src/main/java/org/arca/test/App.java"
  fi
}
mvn_run() { local dir=$1 settings=$2; shift 2; (cd "$dir" && mvn -B -q -s "$settings" "$@" >"$dir/mvn.log" 2>&1); }

# 1. Release: deployed once; a redeploy is refused under ALLOW_ONCE.
project "$W/lib" greeter 1.0
check "mvn deploy release 1.0" mvn_run "$W/lib" "$W/settings-build.xml" deploy
check "jar is served" test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" "$URL/repository/maven-releases/org/arca/test/greeter/1.0/greeter-1.0.jar")" = 200
sha_local=$(sha1sum "$W/lib/target/greeter-1.0.jar" | cut -d' ' -f1)
check "sha1 answered from the content" test "$(curl -s -u "admin:$PW" "$URL/repository/maven-releases/org/arca/test/greeter/1.0/greeter-1.0.jar.sha1")" = "$sha_local"
check "sha256 answered though never uploaded" test "$(curl -s -u "admin:$PW" "$URL/repository/maven-releases/org/arca/test/greeter/1.0/greeter-1.0.jar.sha256")" = "$(sha256sum "$W/lib/target/greeter-1.0.jar" | cut -d' ' -f1)"
meta=$(curl -s -u "admin:$PW" "$URL/repository/maven-releases/org/arca/test/greeter/maven-metadata.xml")
check "artifact metadata lists 1.0 as release" grep -q "<release>1.0</release>" <<<"$meta"
if mvn_run "$W/lib" "$W/settings-build.xml" deploy; then bad "redeploy of 1.0 refused"; else
  check "redeploy of 1.0 refused (400 from Arca)" grep -q "400" "$W/lib/mvn.log"; fi

# 2. SNAPSHOTs: two deploys, two timestamps, version-level metadata with buildNumber 2.
project "$W/lib-snap" greeter 1.1-SNAPSHOT
check "mvn deploy 1.1-SNAPSHOT (1st)" mvn_run "$W/lib-snap" "$W/settings-build.xml" deploy
sleep 1.1
check "mvn deploy 1.1-SNAPSHOT (2nd)" mvn_run "$W/lib-snap" "$W/settings-build.xml" deploy
vmeta=$(curl -s -u "admin:$PW" "$URL/repository/maven-snapshots/org/arca/test/greeter/1.1-SNAPSHOT/maven-metadata.xml")
check "version metadata has buildNumber 2" grep -q "<buildNumber>2</buildNumber>" <<<"$vmeta"
jars=$(curl -s -u "admin:$PW" "$URL/repository/maven-snapshots/org/arca/test/greeter/1.1-SNAPSHOT/" | grep -o 'greeter-1\.1-[0-9.]*-[0-9]*\.jar"' | sort -u | wc -l)
check "two timestamped jars" test "$jars" = 2
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -T "$W/lib/target/greeter-1.0.jar" "$URL/repository/maven-releases/org/arca/test/greeter/1.2-SNAPSHOT/greeter-1.2-SNAPSHOT.jar")
check "SNAPSHOT into a release repository: 400" test "$code" = 400

# 3. Group merge of the metadata.
gmeta=$(curl -s -u "admin:$PW" "$URL/repository/maven-public/org/arca/test/greeter/maven-metadata.xml")
check "group metadata merges 1.0 and 1.1-SNAPSHOT" bash -c 'grep -q "<version>1.0</version>" <<<"$1" && grep -q "<version>1.1-SNAPSHOT</version>" <<<"$1" && grep -q "<latest>1.1-SNAPSHOT</latest>" <<<"$1"' _ "$gmeta"

# 4. A consumer with an empty local repository builds through the group (plugins via the proxy).
project "$W/app" app 1.0 1.0
check "consumer builds against 1.0 through the group" mvn_run "$W/app" "$W/settings-consume.xml" package
project "$W/app-snap" app 1.0 1.1-SNAPSHOT
sed -i "s|$W/m2-consume|$W/m2-consume2|" "$W/settings-consume.xml"
check "consumer builds against 1.1-SNAPSHOT through the group" mvn_run "$W/app-snap" "$W/settings-consume.xml" package
check "plugins were cached by the proxy" test "$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" "$URL/repository/maven-debian/org/apache/maven/plugins/maven-compiler-plugin/3.10.1/maven-compiler-plugin-3.10.1.jar")" = 200
hits=$(grep -c "maven-compiler-plugin-3.10.1.jar " "$W/upstream.log" || true)
check "compiler plugin fetched from the upstream once ($hits)" test "$hits" = 1

for f in "$W"/*/mvn.log; do [ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done >"$W/mvn-tails.txt"
[ "$fail" -gt 0 ] && cat "$W/mvn-tails.txt"
echo
echo "maven e2e: $pass passed, $fail failed"
[ "$fail" = 0 ]
