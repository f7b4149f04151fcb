#!/usr/bin/env bash
# Builds Sluice's container image on this machine, without pulling anything: lays out the root filesystem
# (build-rootfs.sh), then `podman build` of scripts/image/Containerfile (FROM scratch) with that as the context.
#
#   scripts/image/build-image.sh [TAG] [OUT]    (defaults: localhost/sluice:dev, .image)
#
# Writes next to the image, in OUT: sbom.cdx.json, audit.json/audit.txt, rootfs.txt and image.txt (the image id,
# its size as podman reports it and its layer as a gzip'd tarball). `--timestamp 0` makes the build reproducible:
# the same inputs give the same image id.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/sluice:dev}
OUT=${2:-.image}
command -v podman >/dev/null || { echo "build-image: podman is missing (apt-get install podman buildah)" >&2; exit 1; }
bash scripts/image/build-rootfs.sh "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/state" && mkdir -m 0700 "$OUT/state"
cp scripts/image/Containerfile "$OUT/Containerfile"
echo "== podman build $TAG"
podman build --quiet --timestamp 0 --layers=false -f "$OUT/Containerfile" -t "$TAG" "$OUT" > "$OUT/image.id"
id=$(cat "$OUT/image.id")
size=$(podman image inspect --format '{{.Size}}' "$id")
# The layer as a registry would store it: the image's single layer tarball, gzip'd (level 6, what push uses).
rm -rf "$OUT/layout"
podman save --quiet --format oci-dir -o "$OUT/layout" "$id" >/dev/null
layer=$(node -e '
  const fs = require("fs"); const dir = process.argv[1];
  const idx = JSON.parse(fs.readFileSync(dir + "/index.json", "utf8"));
  const blob = (d) => dir + "/blobs/" + d.replace(":", "/");
  const manifest = JSON.parse(fs.readFileSync(blob(idx.manifests[0].digest), "utf8"));
  if (manifest.layers.length !== 1) throw new Error("expected one layer, got " + manifest.layers.length);
  process.stdout.write(blob(manifest.layers[0].digest));
' "$OUT/layout")
gz=$(gzip -6 -c "$layer" | wc -c)
rm -rf "$OUT/layout"
{
  echo "image=$TAG"
  echo "id=$id"
  echo "podman_size_bytes=$size"
  echo "layer_gzip_bytes=$gz"
} > "$OUT/image.txt"
cat "$OUT/image.txt"
