# quorate image: build with a pinned Rust toolchain, ship only the binary on a minimal,
# non-root runtime base (glibc + libgcc, no shell, no package manager).
#
#   podman build -t quorate:0.1.0 .        (or docker build)
#
# Both bases are build arguments so an air-gapped build can point them at local images
# (README: "Container image" shows the podman build used to prove this file).
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# libgit2 and zlib are compiled in (no runtime libz needed in the final image).
ENV LIBZ_SYS_STATIC=1 CARGO_TERM_COLOR=never
# The commit `quorate --version` names (.git is not in the build context):
#   podman build --build-arg QUORATE_BUILD_COMMIT=$(git rev-parse HEAD) -t quorate:0.1.0 .
ARG QUORATE_BUILD_COMMIT=""
ENV QUORATE_BUILD_COMMIT=${QUORATE_BUILD_COMMIT}
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY policies ./policies
COPY schemas ./schemas
COPY benches ./benches
RUN cargo build --release --locked --features aws-ec2 --bin quorate \
 && cp target/release/quorate /quorate

FROM ${RUNTIME_IMAGE}
COPY --from=build /quorate /usr/local/bin/quorate
# The distroless "nonroot" user; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/quorate"]
CMD ["serve", "--addr=0.0.0.0:8443", "--tls-cert=/etc/quorate/tls/tls.crt", "--tls-key=/etc/quorate/tls/tls.key"]
