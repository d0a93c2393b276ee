# Thin wrapper: the real build is CMake. `make run` and `make test` are the README's two commands.
BUILD_DIR ?= build
BERTH_ROOT ?= /var/lib/berth
BERTH_SOCKET ?= /run/berth/berth.sock

.PHONY: deps build run test bench bench-density bench-cri critest soak install clean

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

# 1000 sleep containers with network none, then 200 on the bridge: start and removal rates,
# berthd and shim memory, List/Inspect/Stats p50 and p99, and nothing left afterwards; then
# the kernel's own CPU per start of the same containers with no runtime at all.
DENSITY_CONTAINERS ?= 1000
DENSITY_BRIDGE ?= 200
bench-density: build
	$(BUILD_DIR)/bin/berth-density --containers $(DENSITY_CONTAINERS) --bridge $(DENSITY_BRIDGE)
	$(BUILD_DIR)/bin/berth-kernel-floor --containers $(DENSITY_CONTAINERS)

# The CRI: pod start, ExecSync p50/p99, berthd's memory with 100 pods. CRICTL=path/to/crictl
# also times pod start through crictl.
bench-cri: build
	$(BUILD_DIR)/bin/berth-cri-bench $(if $(CRICTL),--crictl $(CRICTL))

# cri-tools' critest (CRI conformance) against a real berthd, its images built here (on
# Debian's dynamic busybox, downloaded with apt) and served from a loopback registry:
# CRITEST=path/to/critest (v1.26, built outside this tree). Writes
# critest.log, critest-report.json and critest-summary.txt in the build directory.
critest: build
	@test -n "$(CRITEST)" || { echo "make critest needs CRITEST=path/to/critest"; exit 2; }
	cmake --build $(BUILD_DIR) --target critest_conformance
	rm -rf $(BUILD_DIR)/critest-busybox && mkdir -p $(BUILD_DIR)/critest-busybox
	cd $(BUILD_DIR)/critest-busybox && apt-get download busybox && dpkg-deb -x busybox_*.deb root
	cd $(BUILD_DIR) && CRITEST=$(abspath $(CRITEST)) CRITEST_BUSYBOX=$$PWD/critest-busybox/root/bin/busybox \
	  ./bin/critest_conformance

# 10,000 create/start/exec/stop/remove cycles from 8 clients with agent kills, then a flat RSS
# over the last 8,000 (`make test` runs 300 of them). SOAK_CYCLES and SOAK_SEED override.
SOAK_CYCLES ?= 10000
soak: build
	cd $(BUILD_DIR) && BERTH_SOAK_CYCLES=$(SOAK_CYCLES) $(if $(SOAK_SEED),BERTH_SOAK_SEED=$(SOAK_SEED)) ./bin/soak_test

# The programs, manual pages, bash completion and systemd unit of the build under PREFIX.
PREFIX ?= /usr/local
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR)
