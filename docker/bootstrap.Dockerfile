# The local gateway's binary for docker-compose.yml's `bootstrap` service, which creates the
# chat tables on LocalStack and creates and migrates the MySQL database (the same code CI runs).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# A tool run once per start: no fat LTO, so the image builds in minutes.
ENV CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
RUN cargo build --locked --release -p local-gateway

FROM debian:bookworm-slim
COPY --from=build /src/target/release/local-gateway /usr/local/bin/local-gateway
ENTRYPOINT ["local-gateway"]
CMD ["bootstrap"]
