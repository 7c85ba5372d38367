# Arca in a container: a static-ish build stage, then a small Debian runtime.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin arca

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates=* curl=* \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 200 --home-dir /var/lib/arca arca \
 && mkdir -p /var/lib/arca && chown arca /var/lib/arca
COPY --from=build /src/target/release/arca /usr/local/bin/arca
USER 200
WORKDIR /var/lib/arca
ENV ARCA_DATA_DIR=/var/lib/arca/data \
    ARCA_LISTEN=0.0.0.0:8081
EXPOSE 8081
VOLUME ["/var/lib/arca"]
HEALTHCHECK --interval=10s --timeout=3s CMD ["curl", "-fsS", "http://127.0.0.1:8081/service/rest/v1/status"]
ENTRYPOINT ["/usr/local/bin/arca"]
