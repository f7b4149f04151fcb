# One small, non-root image for every role: `sluice controller|autoscaler|gateway|serve`.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY api api
COPY gateway gateway
COPY activator activator
COPY autoscaler autoscaler
COPY deploy deploy
COPY core core
COPY cli cli
COPY examples examples
COPY test/support test/support
COPY test/kube-apiserver test/kube-apiserver
COPY load-tests load-tests
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/deploy/catalogue ./deploy/catalogue
USER 65532:65532
EXPOSE 8080 8081 9090
# A 64 MiB young generation: ~10 % less CPU per request at saturation, ~40 MiB more RSS once it has grown
# (docs/forwarder.md). Override with NODE_OPTIONS, e.g. --max-semi-space-size=16 where memory is tight.
ENV NODE_OPTIONS=--max-semi-space-size=64
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
