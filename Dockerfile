# AgentSend in a container: one binary, its SQLite database in the /data volume.
#   docker build -t agentsend .
#   docker run -d --name agentsend -v agentsend-data:/data -p 3000:3000 -p 25:2525 \
#     -e AGENTSEND_SMTP_HOSTNAME=mx.example.com agentsend
# See docs/deploy.md.

FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
# .git is not copied: pass the revision for `agentsend --version`, e.g.
#   docker build --build-arg AGENTSEND_GIT_REV=$(git rev-parse --short=12 HEAD) -t agentsend .
ARG AGENTSEND_GIT_REV=unknown
ENV AGENTSEND_GIT_REV=${AGENTSEND_GIT_REV}
# The whole tree (minus .dockerignore): Cargo.toml names the benches, and the binary embeds
# schema.sql, migrations/ and agentsend.toml.
COPY . .
RUN cargo build --release --locked --bin agentsend \
    && cp target/release/agentsend /usr/local/bin/agentsend

FROM debian:bookworm-slim
# ca-certificates: TLS to relays, MX hosts and webhook receivers.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin agentsend \
    && mkdir -p /data \
    && chown agentsend:agentsend /data
COPY --from=builder /usr/local/bin/agentsend /usr/local/bin/agentsend

# Settings are AGENTSEND_<SECTION>_<KEY> variables (or /data/agentsend.toml, read from the
# working directory when present). Inside the container the server listens on every
# address; unprivileged ports, so no capability is needed (map host port 25 to 2525).
ENV AGENTSEND_HTTP_LISTEN=0.0.0.0:3000 \
    AGENTSEND_SMTP_LISTEN=0.0.0.0:2525 \
    AGENTSEND_DATABASE_PATH=/data/agentsend.db

USER agentsend
WORKDIR /data
VOLUME /data
EXPOSE 3000 2525

# No curl in the image: the binary asks its own /health (port from http.listen).
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["agentsend", "health"]

ENTRYPOINT ["agentsend"]
CMD ["serve"]
