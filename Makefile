# Thin wrapper: the real build is CMake. `make run` and `make test` are the README's two commands.
BUILD_DIR ?= build
BERTH_ROOT ?= /var/lib/berth
BERTH_SOCKET ?= /run/berth/berth.sock

.PHONY: deps build run test bench clean

deps:
	./deploy/install-deps.sh

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j$$(nproc)

run: build
	$(BUILD_DIR)/bin/berthd --root $(BERTH_ROOT) --socket $(BERTH_SOCKET)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 900

bench: build
	$(BUILD_DIR)/bin/berth-bench

clean:
	rm -rf $(BUILD_DIR)
