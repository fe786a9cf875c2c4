# enseal in a minimal image: one static binary, no shell, no package manager.
#
#   docker build -t enseal .
#   docker run --rm -v "$PWD:/work" -w /work -e SOPS_AGE_KEY enseal decrypt secrets.enc.yaml
#
# As a base for your own image, copy the binary and make `exec-env` the
# entrypoint (docs/docker.md):
#
#   COPY --from=enseal /usr/local/bin/enseal /usr/local/bin/enseal
#   ENTRYPOINT ["/usr/local/bin/enseal", "exec-env", "/app/secrets.enc.env", "--", "/app/server"]
#
# ENSEAL_BUILD_COMMIT (a build argument) names the commit in `enseal --version`,
# since the build context has no .git directory.

# ---- build: a static musl binary ------------------------------------------------
FROM rust:1-bookworm AS build
ARG TARGETARCH
ARG ENSEAL_BUILD_COMMIT=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN case "$TARGETARCH" in \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *)     echo x86_64-unknown-linux-musl ;; \
    esac > /target-triple \
 && rustup target add "$(cat /target-triple)"
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    ENSEAL_BUILD_COMMIT="$ENSEAL_BUILD_COMMIT" \
    cargo build --release --locked --target "$(cat /target-triple)" \
 && install -D -m 0755 "target/$(cat /target-triple)/release/enseal" /out/enseal \
 && ln -s enseal /out/sops \
 && /out/enseal --version && /out/sops --version

# ---- runtime -----------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
# enseal, and a link named sops for tools that call `sops` (helm-secrets, Flux,
# Ansible): started under that name it speaks as sops does.
COPY --from=build /out/ /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/enseal"]
CMD ["--help"]
