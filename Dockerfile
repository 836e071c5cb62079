# Multi-stage build of the `salus` binary. The runtime image holds only the binary
# and CA certificates, and runs as an unprivileged user.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin salus

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent salus
COPY --from=build /src/target/release/salus /usr/local/bin/salus
USER salus
EXPOSE 8080 8443
ENTRYPOINT ["/usr/local/bin/salus"]
CMD ["serve"]
