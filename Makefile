# The README's commands. Everything goes through CMake; this file only names
# the common paths.
JOBS ?= $(shell nproc)
RELEASE := build/release
DEBUG := build/debug
FUZZ := build/fuzz
FUZZ_SECONDS ?= 30
PORT ?= 9292
# e2e tests that also run under ASan/UBSan (frameworks and bundler run in Release only, to
# keep CI well inside its time budget).
SANITIZED_E2E ?= e2e\.(smoke|resource_leaks|http_protocol|http_limits|uploads|rack_lint|hijack_and_streaming|processes|config_file|allocations|tls|http2|http2_rfc|grpc|websocket|websocket_rfc|websocket_hijack|proxy_protocol|pid1|request_hooks)_test|e2e_epoll\.(smoke|resource_leaks|http_protocol|hijack_and_streaming|tls|http2|http2_rfc|websocket_rfc)_test

.PHONY: all deps build debug serve test test-release test-debug test-fuzz bench package format clean

all: build

deps:
	scripts/install-deps.sh test

build:
	scripts/install-deps.sh build
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(RELEASE) -j$(JOBS)

debug:
	scripts/install-deps.sh build
	cmake -S . -B $(DEBUG) -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(DEBUG) -j$(JOBS)

# One command: install what is missing, build, serve the example app.
serve: build
	$(RELEASE)/hyperion -b tcp://127.0.0.1:$(PORT) examples/hello/config.ru

# One command: install what is missing, build both configurations, run everything.
test: deps test-release test-debug test-fuzz

test-release: build
	cd $(RELEASE) && ctest --output-on-failure -j2

test-debug: debug
	cd $(DEBUG) && ctest --output-on-failure -L unit
	cd $(DEBUG) && ctest --output-on-failure -R '$(SANITIZED_E2E)'

# The libFuzzer targets (tests/fuzz, clang), each for FUZZ_SECONDS from its seed corpus.
test-fuzz:
	scripts/install-deps.sh test
	cmake -S . -B $(FUZZ) -DHYPERION_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DHYPERION_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(FUZZ) -j$(JOBS)
	cd $(FUZZ) && ctest --output-on-failure -L fuzz

# The .deb (CPack, see the packaging section of CMakeLists.txt), at a path that
# only changes with the version: build/release/hyperion_<version>_<arch>.deb.
VERSION := $(shell grep -o 'hyperion VERSION [0-9.]*' CMakeLists.txt | cut -d' ' -f3)
DEB := $(RELEASE)/hyperion_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null || echo amd64).deb
package: build
	cd $(RELEASE) && cpack -G DEB
	@dpkg-deb -f $(DEB) Package Version Depends
	@echo "package: $(DEB)"

bench:
	scripts/install-deps.sh bench
	$(MAKE) build
	bench/run.sh

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'include/*.hpp' 'tests/*.cpp')

clean:
	rm -rf build
