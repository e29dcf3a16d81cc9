# syntax=docker/dockerfile:1
#
# evbridge container images, for every platform from one build:
#
#   docker buildx build --platform linux/amd64,linux/arm64,linux/arm/v7 \
#     --build-arg VERSION=1.0.0 -t ghcr.io/evbridge/evbridge:1.0.0 .
#
# The default target is the image for a NAS or any Docker host (see
# docker-compose.example.yml). The "addon" target is the Home Assistant
# add-on's image (ha/addon/config.yaml), built the same way with
# --target addon -t ghcr.io/evbridge/evbridge-addon:1.0.0 and the add-on's
# platforms, linux/amd64 and linux/arm64.
#
# deploy/*_test.go parse this file and build the binary with the
# flags of the RUN line below: keep them in one `go build` command.

# The builder runs on the build machine's own platform and cross-compiles:
# no emulation, and CGO is off so no C toolchain is needed. Its Go version
# is at least go.mod's.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# Set by buildx for each platform: linux + amd64, arm64, or arm and v7.
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
# A static, trimmed binary with its version stamped in. GOARM (7 for
# arm/v7) is ignored for the other architectures.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS="$TARGETOS" GOARCH="$TARGETARCH" GOARM="${TARGETVARIANT#v}" \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/evbridge ./cmd/evbridge
# The data volume's mount point, owned by the image's user so that a new
# named volume is writable.
RUN mkdir -p /out/data

# Home Assistant add-on. The Supervisor creates the add-on's /data as
# root, so this image runs as root inside its (AppArmor-confined)
# container, like most add-ons; it is not the image for plain Docker.
# SUPERVISOR_TOKEN in its environment selects add-on mode: options from
# /data/options.json, broker from the Supervisor, web UI on ingress port
# 8099.
FROM gcr.io/distroless/static-debian12:nonroot AS addon
ARG VERSION=dev
COPY --from=build /out/evbridge /evbridge
USER 0:0
LABEL io.hass.type="app" \
      io.hass.version="${VERSION}" \
      io.hass.name="evbridge" \
      io.hass.description="Local control of EV chargers over MQTT, with Home Assistant discovery" \
      org.opencontainers.image.source="https://github.com/evbridge/evbridge"
EXPOSE 8099
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/evbridge", "healthcheck"]
ENTRYPOINT ["/evbridge"]
CMD ["run", "--addon"]

# The default image: distroless static (CA certificates, time zone data,
# /etc/passwd, no shell), running as the unprivileged user nonroot
# (65532:65532).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="evbridge" \
      org.opencontainers.image.description="Local control of EV chargers over MQTT, with Home Assistant discovery" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/evbridge/evbridge"
COPY --from=build /out/evbridge /evbridge
COPY --from=build --chown=65532:65532 /out/data /data
# Used while /data/config.yaml does not exist: the embedded broker, the
# web UI on :8080, no chargers, state in /data. MQTT_BROKER,
# MQTT_USERNAME, MQTT_PASSWORD and EVBRIDGE_HTTP_TOKEN fill it in.
COPY deploy/container.yaml /etc/evbridge/defaults.yaml
USER 65532:65532
# /data holds config.yaml and evbridge-state.json (accepted chargers,
# modes, setpoints). A bind mount must be writable by 65532; if it is not,
# evbridge says so and keeps that state in memory only.
VOLUME ["/data"]
WORKDIR /data
# 1883: the embedded MQTT broker (when no external broker is set).
# 8080: the web UI, REST API, /metrics, /healthz and /readyz.
# 8887: OCPP 1.6J charge points connecting to evbridge (ocpp chargers).
EXPOSE 1883 8080 8887
# Asks http://127.0.0.1:8080/healthz; set EVBRIDGE_HEALTHCHECK_URL when
# http.listen uses another port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/evbridge", "healthcheck"]
ENTRYPOINT ["/evbridge"]
CMD ["run", "-c", "/data/config.yaml", "--fallback", "/etc/evbridge/defaults.yaml"]
