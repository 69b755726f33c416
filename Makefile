# swapline — one Makefile for a fresh Debian 12 machine.
#   make demo    install what is missing, build, swap a test face into a test photo
#   make test    install, build, start the test servers, run every test
#   make bench   build and print the benchmarks
#   make deps    install the Debian packages (does nothing when all are present)
#   make build   configure and build into ./build
#   make asan    build with ASan/UBSan into ./build-asan and run the tests

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
TESTDATA ?= $(abspath ../shared/testdata)
DEMO_OUT ?= demo-out

# Every Debian package the build, the tests and the demo need.
DEPS_BUILD := build-essential cmake pkg-config libopencv-dev libdlib-dev libdlib-data \
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev zlib1g-dev \
  libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev \
  libcurl4-openssl-dev libssl-dev libpugixml-dev \
  libsqlitecpp-dev libhiredis-dev libcpp-httplib-dev \
  libgtest-dev libgmock-dev libbenchmark-dev
DEPS_RUNTIME := ffmpeg swift swift-proxy swift-account swift-container swift-object memcached curl awscli \
  radosgw ceph-mon ceph-osd redis-server apache2-utils
# The deployment checks (deploy/): manifests, schemas, alert rules.
DEPS_DEPLOY := kubectl yamllint prometheus nodejs npm
DEPS := $(DEPS_BUILD) $(DEPS_RUNTIME) $(DEPS_DEPLOY)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build test demo bench asan clean

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSWAPLINE_TESTDATA_DIR=$(TESTDATA) $(CMAKE_EXTRA) >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: deps build
	@mkdir -p $(DEMO_OUT)
	$(BUILD_DIR)/swapline swap \
	  -s $(TESTDATA)/photos/grace_hopper_usn_portrait.jpg \
	  -t $(TESTDATA)/photos/eileen_collins_nasa_portrait.png \
	  -o $(DEMO_OUT)/swapped.png
	@echo "demo output: $(abspath $(DEMO_OUT)/swapped.png)"

bench: build
	$(BUILD_DIR)/swapline bench image --testdata $(TESTDATA)
	$(BUILD_DIR)/swapline bench video --testdata $(TESTDATA)
	$(BUILD_DIR)/swapline bench store
	$(BUILD_DIR)/swapline bench queue
	$(BUILD_DIR)/swapline bench api

asan: deps
	$(MAKE) build BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_EXTRA=-DSWAPLINE_SANITIZE=ON
	cd build-asan && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR) build-asan

# Container image (deploy/docker/, deploy/README.md): podman state under .podman/.
#   make image         build localhost/swapline:latest (installs podman & co. when missing)
#   make test-deploy   the image rehearsed with podman (swap in and out of it, serve, drain)
DEPS_IMAGE := podman buildah debootstrap runc catatonit slirp4netns uidmap
IMAGE ?= localhost/swapline:latest

.PHONY: image test-deploy
image:
	@$(MAKE) --no-print-directory deps DEPS="$(DEPS_IMAGE)"
	@nice -n 10 deploy/docker/build-image.sh $(IMAGE) "$(DEPS_BUILD)"

test-deploy: deps build image
	tests/deploy/rehearsal.sh $(IMAGE) $(BUILD_DIR)/swapline $(TESTDATA)
