# redline in a container: built with cargo, run from a small base image with the binary, its
# bundled data (sample datasets, traces, the corpus, the sample tokenizer) and CA certificates.
# The Kubernetes manifests in deploy/kubernetes run this image.
#
#   docker build -t redline:0.1.0 .
#   docker run --rm redline:0.1.0 demo --duration 2

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The manifest and lock first, so a change to the sources reuses the dependencies' layer.
COPY Cargo.toml Cargo.lock ./
COPY benches benches
COPY assets assets
COPY data data
COPY src src
RUN cargo build --release --locked --bin redline

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/redline /usr/local/bin/redline
COPY data /opt/redline/data
WORKDIR /opt/redline
# Not root: redline needs no privilege. Results go to a mounted volume (--results-dir).
USER 65532:65532
ENTRYPOINT ["redline"]
CMD ["--help"]
