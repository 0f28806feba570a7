# kaas — the two commands a newcomer needs:
#   make run    install missing Debian packages, build, start kaasd on http://127.0.0.1:8080
#   make test   the same set-up, then every test (ctest)
#   make screenshots   regenerate docs/screenshots/*.png of the portal (headless chromium)
BUILD ?= build
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./var
KAASD_FLAGS ?=

.PHONY: all deps configure build run test unit integration bench screenshots clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

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

screenshots: build
	KAASD=$(BUILD)/bin/kaasd bash tests/web/run.sh screenshots

clean:
	rm -rf $(BUILD)
