# syntax=docker/dockerfile:1
# The server and the built SPA in one small image, on one origin:
#   docker build -t jwt-refresh .
#   docker run -p 3000:3000 -v jwt-data:/data jwt-refresh
# Configuration comes only from the environment (README, Configuration); the SQLite
# database lives in the /data volume. Several instances on PostgreSQL: compose.yaml.

ARG RUST_VERSION=1.95

# --- build: the WASM client with Trunk, the server with cargo ---
FROM rust:${RUST_VERSION}-bookworm AS build
# Node.js runs Trunk's hooks, npm's wasm-opt and esbuild (see scripts/setup.sh).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The build tools depend on Cargo.lock only (wasm-bindgen's version), so a source change
# does not reinstall them: the same setup.sh as the run and test commands.
COPY Cargo.lock ./
COPY scripts/setup.sh scripts/
RUN bash -c 'source scripts/setup.sh'
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    bash -c 'source scripts/setup.sh \
    && trunk build --release \
    && cargo build --release --locked -p server \
    && cp target/release/server /usr/local/bin/server' \
    && mkdir -p /data

# --- runtime: glibc and the CA bundle, no shell, non-root (uid 65532) ---
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/server /app/server
COPY --from=build /src/dist /app/dist
# The volume's mount point, owned by the user the server runs as.
COPY --from=build --chown=65532:65532 /data /data
ENV ADDR=0.0.0.0:3000 \
    STATIC_DIR=/app/dist \
    DATABASE_URL=sqlite:///data/server.db?mode=rwc
VOLUME ["/data"]
EXPOSE 3000
USER 65532:65532
# No curl in here: the binary probes its own /healthz (`server healthcheck`).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/app/server", "healthcheck"]
ENTRYPOINT ["/app/server"]
CMD ["serve"]
