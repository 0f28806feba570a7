# kaas — the two commands a newcomer needs:
#   make run    install missing Debian packages, build, start kaasd on http://127.0.0.1:8080
#   make test   the same set-up, then every test (ctest); the real-VM tests (label vm) too
#               when libvirtd answers at qemu:///system (VM_TESTS=auto|ON|OFF; .ci/run and
#               `make vm-test` install and start libvirtd first)
#   make screenshots   regenerate docs/screenshots/*.png of the portal (headless chromium)
BUILD ?= build
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./var
KAASD_FLAGS ?=
VM_TESTS ?= auto

.PHONY: all deps configure build run test unit integration bench fuzz screenshots vm-test clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@vm=$(VM_TESTS); \
	if [ "$$vm" = auto ]; then \
	  if virsh -c qemu:///system version >/dev/null 2>&1; then vm=ON; else vm=OFF; \
	    echo "make: libvirtd is not running: the real-VM tests are off (make vm-test runs them)"; fi; \
	fi; \
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAAS_VM_TESTS=$$vm >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)
	@echo "built: $(BUILD)/bin/kaasd $(BUILD)/bin/kaas"

# Only what it runs: kaasd and the CLI (the tests, the benchmark and the fuzz targets are most of
# a full build).
run: configure
	@cmake --build $(BUILD) -j$(JOBS) --target kaasd kaas
	$(BUILD)/bin/kaasd --listen $(LISTEN) --data-dir $(DATA_DIR) $(KAASD_FLAGS)

# Everything but the real VMs in parallel, then the VM tests alone (they need both cores).
test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE vm; rest=$$?; \
	  if grep -q '^KAAS_VM_TESTS:BOOL=ON' CMakeCache.txt; then \
	    ctest --output-on-failure -L vm; vm=$$?; else vm=0; fi; \
	  test $$rest -eq 0 -a $$vm -eq 0

unit: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L integration

bench: build
	bench/run.sh $(BUILD)

# The libFuzzer targets (fuzz/), 300 s each (FUZZ_SECONDS); make test runs them 10 s each.
FUZZ_SECONDS ?= 300
fuzz: deps
	scripts/fuzz.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

# Real VMs: libvirtd + QEMU (TCG) guests bootstrapped by Ansible (docs/real-vms.md).
vm-test:
	scripts/install-deps.sh --vm
	scripts/start-libvirtd.sh
	$(MAKE) build VM_TESTS=ON
	cd $(BUILD) && ctest --output-on-failure -L vm

screenshots: build
	KAASD=$(BUILD)/bin/kaasd bash tests/web/run.sh screenshots

clean:
	rm -rf $(BUILD)
