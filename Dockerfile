# syntax=docker/dockerfile:1
# resetpw in a container: `docker build -t resetpw .` (add
# `--build-arg RESETPW_COMMIT=$(git rev-parse HEAD)`: the build context has no .git), then
# `docker run --rm -v "$PWD:/work" -e AWS_PROFILE -v "$HOME/.aws:/home/resetpw/.aws:ro" resetpw diff -f stack.yaml`.
#
# Stage 1 builds the release binary, which carries the fulfillment Lambda's deployment package
# (built by build.rs); stage 2 is the runtime: Debian slim, CA certificates, the binary, no
# toolchain. The build stage is the same Debian release as the runtime (glibc 2.36), and the
# Lambda's bootstrap is checked at build time to need no glibc newer than 2.34 (provided.al2023).

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
ARG RESETPW_COMMIT=unknown
ENV RESETPW_COMMIT=${RESETPW_COMMIT}
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo install --path . --locked --root /out --no-track \
 && /out/bin/resetpw --version

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --uid 10001 resetpw
COPY --from=build /out/bin/resetpw /usr/local/bin/resetpw
USER resetpw
WORKDIR /work
ENTRYPOINT ["resetpw"]
CMD ["--help"]
