#!/usr/bin/env bash
# Lays out the root filesystem of Sluice's container image from what is on this machine, without pulling
# anything: the Node binary (stripped of its debug symbols) and the shared libraries it links, the product's
# dist/ only (compiled with tsconfig.image.json: no tests, load tests, examples or source maps), production
# node_modules only, the runtime catalogue, CA certificates, time zone data, passwd/group entries for the
# non-root user 65532 and an empty state directory. No shell, no package manager.
#
#   scripts/image/build-rootfs.sh [OUT]      (default OUT: .image)
#
# Writes OUT/rootfs/ (the layout; docs/container.md lists it), OUT/sbom.cdx.json (CycloneDX SBOM of the
# production dependencies, `npm sbom --omit=dev`), OUT/audit.json and OUT/audit.txt (`npm audit --omit=dev`,
# when the registry answers) and OUT/rootfs.txt (sizes and counts). scripts/image/build-image.sh turns the
# layout into an image. Environment: NODE_BIN (default: `command -v node`), SLUICE_IMAGE_STRIP=0 keeps the
# Node binary's symbols.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${1:-.image}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NODE_BIN=${NODE_BIN:-$(command -v node)}
NODE_BIN=$(readlink -f "$NODE_BIN")
UID_GID=65532
fail() { echo "build-rootfs: $*" >&2; exit 1; }
for tool in ldd strip tar; do command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install binutils libc-bin tar)"; done
[ -x "$NODE_BIN" ] || fail "no Node binary at $NODE_BIN (set NODE_BIN)"
[ -f /etc/ssl/certs/ca-certificates.crt ] || fail "/etc/ssl/certs/ca-certificates.crt is missing (apt-get install ca-certificates)"
[ -d /usr/share/zoneinfo ] || fail "/usr/share/zoneinfo is missing (apt-get install tzdata)"
[ -d node_modules ] || fail "node_modules is missing: run npm ci first"

RFS=$OUT/rootfs
STAGE=$OUT/stage
rm -rf "$RFS" "$STAGE"
mkdir -p "$RFS" "$STAGE"

echo "== node $("$NODE_BIN" --version) from $NODE_BIN"
mkdir -p "$RFS/usr/local/bin"
if [ "${SLUICE_IMAGE_STRIP:-1}" = 0 ]; then
  cp "$NODE_BIN" "$RFS/usr/local/bin/node"
else
  # Debug symbols only: V8, libuv and OpenSSL code is unchanged (perf and gdb lose symbol names).
  strip --strip-all -o "$RFS/usr/local/bin/node" "$NODE_BIN"
fi
chmod 0755 "$RFS/usr/local/bin/node"

# Shared libraries as the dynamic loader resolves them here, at the paths it looks them up at (ldd's output:
# `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and the loader `/lib64/ld-linux-x86-64.so.2 (0x…)`).
ldd "$NODE_BIN" | while read -r first second third _; do
  case "$second" in
    '=>') path=$third ;;
    *) path=$first ;;
  esac
  case "$path" in /*) ;; *) continue ;; esac # linux-vdso.so.1 has no file
  [ -e "$path" ] || fail "ldd names $path, which does not exist"
  mkdir -p "$RFS$(dirname "$path")"
  cp -L "$path" "$RFS$path"
  chmod 0755 "$RFS$path"
done

echo "== product dist (tsconfig.image.json)"
npx tsc -p tsconfig.image.json --outDir "$RFS/app/dist"
for unwanted in test load-tests examples; do
  [ ! -e "$RFS/app/dist/$unwanted" ] || fail "dist/$unwanted ended up in the image (check tsconfig.image.json)"
done
mkdir -p "$RFS/app/deploy"
cp -r deploy/catalogue "$RFS/app/deploy/catalogue"
# package.json: `"type": "module"` makes dist/ ESM, and the package root is found from it (cli/embedded.ts
# sluiceRoot, deploy/runtime-catalogue.ts builtinCatalogueDir). Scripts and dev dependencies stay out.
node -e '
  const p = JSON.parse(require("fs").readFileSync("package.json", "utf8"));
  const keep = ["name", "version", "description", "type", "license", "private", "engines", "bin", "dependencies"];
  process.stdout.write(JSON.stringify(Object.fromEntries(keep.filter((k) => k in p).map((k) => [k, p[k]])), null, 2) + "\n");
' > "$RFS/app/package.json"

echo "== production node_modules (npm prune --omit=dev on a copy of node_modules, offline)"
cp package.json package-lock.json "$STAGE/"
cp -a node_modules/. "$STAGE/node_modules/"
(cd "$STAGE" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --offline >/dev/null)
# The SBOM and the audit read the pruned copy (a real directory holding exactly what ships) under the image's
# package.json: with devDependencies still declared, `npm sbom --omit=dev` stops at the missing dev packages,
# and with --package-lock-only it leaves out packages that are both dev and production dependencies' deps.
cp "$RFS/app/package.json" "$STAGE/package.json"
echo "== SBOM and audit of the production dependencies"
(cd "$STAGE" && npm sbom --omit=dev --sbom-format cyclonedx --sbom-type application) > "$OUT/sbom.cdx.json"
if (cd "$STAGE" && npm audit --omit=dev --json) > "$OUT/audit.json" 2> "$OUT/audit.err"; then
  audit_status="exit 0"
else
  audit_status="exit $?"
fi
# What Node never reads at run time: TypeScript sources and declarations, source maps, READMEs, dot files
# (lint/CI configs), packages' own test folders, and the `.bare` add-ons of the bare-* packages (native builds for
# the Bare runtime, for ten platforms; under Node those packages are not loaded). Licences stay.
find "$STAGE/node_modules" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name '*.md' \
  -o -name '*.markdown' -o -name '*.bare' -o -name '.*' \) ! -iname 'license*' -delete
find "$STAGE/node_modules" -mindepth 2 -maxdepth 3 -type d \( -name test -o -name tests -o -name __tests__ \) \
  -exec test -f {}/../package.json \; -prune -exec rm -rf {} +
find "$STAGE/node_modules" -name .bin -prune -exec rm -rf {} +
find "$STAGE/node_modules" -type d -empty -delete
rm -f "$STAGE/node_modules/.package-lock.json"
cp -a "$STAGE/node_modules" "$RFS/app/node_modules"

echo "== CA certificates, time zones, users"
mkdir -p "$RFS/etc/ssl/certs" "$RFS/usr/share"
cp -L /etc/ssl/certs/ca-certificates.crt "$RFS/etc/ssl/certs/ca-certificates.crt"
cp -a /usr/share/zoneinfo "$RFS/usr/share/zoneinfo"
cat > "$RFS/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/sbin/nologin
sluice:x:$UID_GID:$UID_GID:sluice:/var/lib/sluice:/sbin/nologin
PASSWD
cat > "$RFS/etc/group" <<GROUP
root:x:0:
sluice:x:$UID_GID:
GROUP
printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$RFS/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' > "$RFS/etc/hosts"
# Mount points: /tmp (a tmpfs or emptyDir under a read-only root) here, and the state directory
# /var/lib/sluice (a volume; the only place Sluice writes), which the Containerfile's `COPY --chown` creates owned
# by 65532 (a directory laid out here would stay root's).
mkdir -p "$RFS/var/lib" "$RFS/tmp"
chmod 1777 "$RFS/tmp"
find "$RFS" -type d ! -path "$RFS/tmp" -exec chmod 0755 {} +
find "$RFS" -type f -perm /111 -exec chmod 0755 {} +
find "$RFS" -type f ! -perm /111 -exec chmod 0644 {} +

echo "== smoke test: the layout runs on its own (chroot, no host files)"
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
  chroot --userspec=$UID_GID:$UID_GID "$RFS" /usr/local/bin/node /app/dist/cli/main.js --version >/dev/null || fail "node /app/dist/cli/main.js --version fails inside the root filesystem"
  # Every product module loads (so nothing trimmed from node_modules is needed); main.js only parses the CLI.
  chroot --userspec=$UID_GID:$UID_GID "$RFS" /usr/local/bin/node --input-type=module -e '
    import { readdirSync } from "node:fs";
    const files = readdirSync("/app/dist", { recursive: true }).filter((f) => f.endsWith(".js") && f !== "cli/main.js");
    for (const f of files) await import("/app/dist/" + f);
    if (files.length < 100) throw new Error("only " + files.length + " modules in /app/dist");
  ' || fail "a module of /app/dist does not load inside the root filesystem"
else
  echo "(skipped: needs root and chroot)"
fi

node -e '
  const fs = require("fs");
  let v = "registry did not answer";
  try {
    const a = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    if (a.metadata) v = JSON.stringify(a.metadata.vulnerabilities);
    else if (a.statusCode || a.message) v = "registry refused: " + (a.message || a.statusCode);
    else if (a.error) v = "error: " + (a.error.summary || a.error.code);
  } catch {}
  process.stdout.write(v + "\n");
' "$OUT/audit.json" > "$OUT/audit.txt"

deps=$(node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log((s.components || []).length)' "$OUT/sbom.cdx.json")
bytes=$(du -sb "$RFS" | cut -f1)
files=$(find "$RFS" -type f | wc -l)
{
  echo "uncompressed_bytes=$bytes"
  echo "files=$files"
  echo "node_bytes=$(stat -c %s "$RFS/usr/local/bin/node")"
  echo "node_modules_bytes=$(du -sb "$RFS/app/node_modules" | cut -f1)"
  echo "dist_bytes=$(du -sb "$RFS/app/dist" | cut -f1)"
  echo "production_dependencies=$deps"
  echo "audit=$(cat "$OUT/audit.txt") ($audit_status)"
} > "$OUT/rootfs.txt"
rm -rf "$STAGE"
cat "$OUT/rootfs.txt"
