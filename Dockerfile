# syntax=docker/dockerfile:1.7
#
# One Dockerfile for every Immune service. Pick the service with the SERVICE build argument; the final stage is
# `service` (slim: the service's production dependencies and compiled dist/ only, Node 24, non-root):
#
#   docker build --build-arg SERVICE=gateway  --target service -t immune/gateway  .
#   docker build --build-arg SERVICE=sentinel --target service -t immune/sentinel .
#   docker build --build-arg SERVICE=healer   --target service -t immune/healer   .
#   docker build --build-arg SERVICE=ingest   --target service -t immune/ingest   .
#   docker build --build-arg SERVICE=dashboard --target service -t immune/dashboard .
#   docker build --target cli -t immune/cli .            # the operator CLI (`immune ...`)
#
# SERVICE is the folder name under apps/ (the package is @immune/<SERVICE>). The build context is the repository
# root; .dockerignore keeps node_modules and dist out of it.

ARG NODE_IMAGE=node:24-bookworm-slim
ARG PNPM_VERSION=10.34.8
ARG TURBO_VERSION=2.11.11

FROM ${NODE_IMAGE} AS toolchain
ARG PNPM_VERSION
ARG TURBO_VERSION
# npm, not corepack: corepack's signature check fails behind some proxies, and the versions are pinned anyway.
RUN npm install -g pnpm@${PNPM_VERSION} turbo@${TURBO_VERSION} && npm cache clean --force
ENV TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 CI=true

# Only the packages the chosen service needs, with a lockfile pruned to them, so that a change elsewhere in the
# monorepo does not invalidate this service's install layer.
FROM toolchain AS pruned
ARG SERVICE=gateway
WORKDIR /src
COPY . .
RUN turbo prune "@immune/${SERVICE}" --docker --out-dir /pruned

FROM toolchain AS build
ARG SERVICE=gateway
WORKDIR /repo
COPY --from=pruned /pruned/json/ ./
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile
COPY --from=pruned /pruned/full/ ./
COPY tsconfig.base.json ./
RUN turbo run build --filter="@immune/${SERVICE}..."
# `deploy` copies the service with its production dependencies (workspace packages included, as their dist/)
# into a self-contained folder with its own node_modules.
RUN pnpm --filter "@immune/${SERVICE}" deploy --prod --legacy /out

FROM ${NODE_IMAGE} AS service
ARG SERVICE=gateway
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    IMMUNE_SERVICE=${SERVICE}
WORKDIR /app
COPY --from=build --chown=node:node /out ./
USER node
# Ports by service: gateway 4000, ingest 4100, sentinel 4200, healer 4300 (each also serves /healthz /readyz
# /metrics there). EXPOSE is documentation only; compose and the Helm chart publish the right one.
EXPOSE 4000 4100 4200 4300
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]

FROM toolchain AS cli-build
WORKDIR /repo
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile \
 && turbo run build --filter="@immune/cli..." \
 && pnpm --filter @immune/cli deploy --prod --legacy /out

FROM ${NODE_IMAGE} AS cli
ENV NODE_ENV=production
WORKDIR /app
COPY --from=cli-build --chown=node:node /out ./
USER node
ENTRYPOINT ["node", "bin/immune.js"]
