# Sluice's image for users with Docker: one image for every role (`serve`, `gateway`, `controller`, `autoscaler`).
#   docker build -t sluice .
# The build stage runs scripts/image/build-rootfs.sh, the same script that builds the image on machines without a
# registry (scripts/image/build-image.sh + Containerfile), so both give the same layout: a stripped Node binary and
# its shared libraries, the product's dist/ only, production node_modules only, the runtime catalogue, CA
# certificates, time zone data, uid 65532, no shell and no package manager. docs/container.md.
#
# The base is the official Node 20 slim image pinned by digest (a tag can move under a rebuild). The digest below is
# node:20-bookworm-slim's multi-platform index as pinned in several public projects; it was not resolved from this
# repository's build machine (it has no registry). Refresh it with
#   docker buildx imagetools inspect node:20-bookworm-slim --format '{{.Manifest.Digest}}'
# and pass another with --build-arg NODE_IMAGE=node:20-bookworm-slim@sha256:<digest>.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${NODE_IMAGE} AS build
# strip (binutils), the CA bundle and zoneinfo that the layout copies; not shipped from this stage otherwise.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.image.json ./
COPY api api
COPY gateway gateway
COPY activator activator
COPY autoscaler autoscaler
COPY deploy deploy
COPY core core
COPY cli cli
COPY scripts/image scripts/image
# Writes /out/rootfs, /out/sbom.cdx.json (CycloneDX, production dependencies) and /out/audit.txt.
RUN bash scripts/image/build-rootfs.sh /out && mkdir -m 0700 /out/state

FROM scratch
COPY --from=build /out/rootfs/ /
COPY --from=build --chown=65532:65532 /out/state/ /var/lib/sluice/
COPY --from=build /out/sbom.cdx.json /app/sbom.cdx.json
ENV PATH=/usr/local/bin \
    NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=64 \
    SLUICE_STATE_DIR=/var/lib/sluice \
    SLUICE_ADMIN_HOST=0.0.0.0 \
    SLUICE_LOG_FORMAT=json
USER 65532:65532
WORKDIR /app
EXPOSE 8080 8081 9090
# Docker's health check with the only program in the image; Kubernetes probes GET /healthz (liveness) and /readyz
# (readiness) on the admin port instead (deploy/manifests/base, docs/container.md).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD ["/usr/local/bin/node", "-e", "fetch('http://127.0.0.1:' + (process.env.SLUICE_ADMIN_PORT || 8081) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/main.js"]
CMD ["serve"]
