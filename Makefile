# kaas — the two commands a newcomer needs:
#   make run    install missing Debian packages, build, start kaasd on http://127.0.0.1:8080
#   make test   the same set-up, then every test (ctest)
#   make screenshots   regenerate docs/screenshots/*.png of the portal (headless chromium)
BUILD ?= build
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./var
KAASD_FLAGS ?=

.PHONY: all deps configure build run test unit integration bench screenshots vm-test clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAAS_VM_TESTS=OFF >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)
	@echo "built: $(BUILD)/bin/kaasd $(BUILD)/bin/kaas"

run: build
	$(BUILD)/bin/kaasd --listen $(LISTEN) --data-dir $(DATA_DIR) $(KAASD_FLAGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L integration

bench: build
	bench/run.sh $(BUILD)

# Real VMs: libvirtd + QEMU (TCG) guests bootstrapped by Ansible (docs/real-vms.md).
vm-test: build
	scripts/install-deps.sh --vm
	scripts/start-libvirtd.sh
	scripts/build-guest-image.sh $(BUILD)/guest-image
	cmake -S . -B $(BUILD) -DKAAS_VM_TESTS=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && ctest --output-on-failure -L vm

screenshots: build
	KAASD=$(BUILD)/bin/kaasd bash tests/web/run.sh screenshots

clean:
	rm -rf $(BUILD)
