# syntax=docker/dockerfile:1
# better-auth-server and the example API (better-auth-api) in one small image.
#   docker build -t better-auth-server .
#   docker run -e BETTER_AUTH_SECRET=... -e DATABASE_URL=postgres://... -p 3001:3001 better-auth-server
# The default command is `serve` (applies pending migrations, then listens on 0.0.0.0:3001).

# ---- build: dependencies and target dir in cache mounts, so a code change rebuilds only our crates
FROM rust:1-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY migrations ./migrations
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p better-auth-server -p better-auth-api --features better-auth-api/example \
    && mkdir -p /out/data \
    && cp target/release/better-auth-server target/release/better-auth-api /out/

# ---- runtime: glibc and CA certificates only, no shell, no package manager
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /out/better-auth-server /out/better-auth-api /usr/local/bin/
# SQLite file and generated development secret when no DATABASE_URL/BETTER_AUTH_SECRET is set.
COPY --from=builder --chown=65532:65532 /out/data /data
ENV HOST=0.0.0.0 \
    PORT=3001 \
    BETTER_AUTH_DATA_DIR=/data \
    BETTER_AUTH_LOG_FORMAT=json
USER nonroot
EXPOSE 3001
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=5 \
    CMD ["/usr/local/bin/better-auth-server", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/better-auth-server"]
CMD ["serve"]
