# The commands of this repository. Each one installs the Debian packages it needs when
# they are missing, then builds (CMake + Ninja into build/, ccache when present).
#
#   make run     the whole backend in development mode on http://127.0.0.1:8080
#                (GATEWAY_PORT=8081 make run moves it); Ctrl-C stops it
#   make test    every test, against a PostgreSQL and a Redis of its own
#                (make test ARGS='-R kustomize' passes arguments to ctest)
#   make bench   the gateway against nginx, logins against the hash ceiling, roster imports
#                and the journey against /v1/me, payment notifications against a plain
#                PostgreSQL update, material uploads against dd, the live channel's fan-out
#                against Redis pub/sub, room transitions against their Lua script alone
#                (tests/bench/results/)
#   make build   build only
#   make format  clang-format every tracked C++ file
#   make openapi regenerate docs/api/openapi.json from the protos
#   make clean   remove build/ (make run's data in .local/ stays)

SHELL := /bin/bash
.DEFAULT_GOAL := help
ARGS ?=

.PHONY: help run test bench build format clean openapi

help:
	@sed -n '4,14p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

run:
	@bash deploy/local/run.sh

test:
	@bash deploy/local/test.sh $(ARGS)

bench:
	@bash tests/bench/bench.sh
	@bash tests/bench/login_bench.sh
	@bash tests/bench/enrollment_bench.sh
	@bash tests/bench/payment_bench.sh
	@bash tests/bench/upload_bench.sh
	@bash tests/bench/live_bench.sh
	@bash tests/bench/room_bench.sh
	@bash tests/bench/signal_bench.sh

build:
	@bash deploy/local/install-deps.sh && source deploy/local/lib.sh && build

format:
	@bash deploy/local/install-deps.sh
	@git ls-files -z -- '*.h' '*.cc' | xargs -0 -r clang-format -i

clean:
	rm -rf build

openapi:
	@bash deploy/local/install-deps.sh && source deploy/local/lib.sh && build && \
	  build/gateway/openapi/openapi-gen --dev > docs/api/openapi.json.tmp && \
	  mv docs/api/openapi.json.tmp docs/api/openapi.json
