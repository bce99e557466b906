# syntax=docker/dockerfile:1
# ebpf-map-pressure in a container: a build stage with the BPF toolchain compiles the BPF
# object, its skeleton and the Node-API addon; the runtime stage is Debian slim with Node 20,
# the three shared libraries the addon links (libbpf, libelf, zlib) and the built files only.
# The BPF object is built for x86_64 (binding.gyp), so the image is linux/amd64.
#
#   docker build -t ebpf-map-pressure .
#   docker run --rm --pid=host --uts=host --cap-drop=ALL --cap-add=SYS_ADMIN \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v /etc/machine-id:/etc/machine-id:ro \
#     ebpf-map-pressure snapshot
#
# docker-compose.yml runs it next to a collector; test/deploy/dockerfile.test.ts checks this
# file against the repository (sources exist, libraries match the addon, layout runs).

ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
# What scripts/install-deps.sh installs on a host, for the same build.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# Scripts off: the addon is built below, once its sources are in.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY binding.gyp tsconfig.json ./
COPY bpf/ bpf/
COPY native/ native/
COPY src/ src/
COPY bin/ bin/
RUN npm run build && npm prune --omit=dev

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ebpf-map-pressure
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/
COPY --from=build /src/bin/ bin/
COPY --from=build /src/build/Release/ebpf_map_pressure.node build/Release/
COPY config/ebpf-map-pressure.yaml /etc/ebpf-map-pressure/config.yaml
ENV NODE_ENV=production
# Root inside the container, but with only the capability it needs (cap_drop ALL, cap_add
# SYS_ADMIN in docker-compose.yml and the DaemonSet): a non-root user would lose the added
# capability at exec, as container runtimes grant no ambient capabilities.
USER root
ENTRYPOINT ["node", "/opt/ebpf-map-pressure/bin/ebpf-map-pressure.js"]
CMD ["run", "--config", "/etc/ebpf-map-pressure/config.yaml"]
