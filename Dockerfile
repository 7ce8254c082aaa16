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
COPY deploy/image/tsconfig.build.json ./deploy/image/
COPY src ./src
# Only src/, without its unit tests (deploy/image/tsconfig.build.json, shared with the
# engine-less build); tsc run by path, not through the shimmed node in .bin.
RUN node node_modules/typescript/bin/tsc -p deploy/image/tsconfig.build.json

# --- prod-deps: production dependencies only ----------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# deploy/image/image.sh is the one definition of what the image adds to its base, shared with
# the engine-less build (deploy/image/build-oci.sh): the Debian packages (ip and iptables
# for the agent's node networking), node-netbind — a copy of node carrying the file
# capability cap_net_bind_service (setcap cap_net_bind_service=+ep /usr/local/bin/node-netbind),
# so the agent binds port 53 as a non-root user while the controller, which drops ALL, runs
# plain node — and user/group 65532. libcap2-bin is removed again in the same layer.
COPY deploy/image/image.sh /usr/local/lib/dnssync-image.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin $(sh /usr/local/lib/dnssync-image.sh packages) \
 && sh /usr/local/lib/dnssync-image.sh finish / \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* /usr/local/lib/dnssync-image.sh
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
