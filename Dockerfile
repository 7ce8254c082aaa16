# syntax=docker/dockerfile:1
# One image for every subcommand: `dnssync controller`, `dnssync agent`, `dnssync primary`.
#
#   docker build -t ghcr.io/dnssync/dnssync:0.1.0 .
#   docker run --rm ghcr.io/dnssync/dnssync:0.1.0 --help
#
# What the final stage runs is tested without a Docker engine by test/deploy/image.test.ts:
# a clean directory, `npm ci --omit=dev`, the built dist/, the capability-carrying node copy,
# as uid 65532 with no_new_privs, serving DNS on port 53.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: all dependencies, compile TypeScript ------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency would download a second Node; the base image has one.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only src/, without its unit tests; tsc run by path, not through the shimmed node in .bin.
RUN printf '{"extends":"./tsconfig.json","include":["src/**/*.ts"],"exclude":["src/**/*.test.ts"]}' >tsconfig.build.json \
 && node node_modules/typescript/bin/tsc -p tsconfig.build.json

# --- prod-deps: production dependencies only ----------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# node-netbind: a copy of node carrying the file capability cap_net_bind_service, used only
# by the agent so it can bind port 53 as a non-root user. A separate copy, because a binary
# with file capabilities cannot even be executed where the capability is not in the bounding
# set (the controller drops ALL). libcap2-bin is removed again in the same layer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && cp /usr/local/bin/node /usr/local/bin/node-netbind \
 && setcap cap_net_bind_service=+ep /usr/local/bin/node-netbind \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 dnssync \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin dnssync
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY package.json ./
COPY crds ./crds
USER 65532:65532
# DNS (agent), sync/transfer, metrics: documentation only, the chart sets the real ports.
EXPOSE 53/udp 53/tcp 5354/udp 5354/tcp 9090/tcp 9254/tcp
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["--help"]
LABEL org.opencontainers.image.title="dnssync" \
      org.opencontainers.image.description="Pushes DNSRecord changes to node-local DNS caches" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/dnssync/dnssync"
