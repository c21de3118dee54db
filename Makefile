# MetaFuse Cloud: one build for everything.
#   make              build libmf and every service into $(BUILD)/
#   make test         what CI runs: install, build with -Werror, unit + integration (+ sanitizer pass)
#   make run|up|down  the local stack (see README.md)
#   make webui        the dashboard into webui/dist/ (npm ci when needed, Vite build)
#   make docs         the API reference as HTML (build/docs/api-reference.html)
#   make bench        benchmarks against raw baselines (bench/README.md)
#   make seed-scale   two tenants of 100,000 datasets each through COPY (scripts/seed_scale.py; SEED_ARGS=--datasets N)
#   make SANITIZE=address,undefined BUILD=build-san   a sanitizer build

BUILD    ?= build
SANITIZE ?=
CC       ?= cc

PKGS     := libh2o-evloop libpq jansson openssl hiredis libcurl sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wundef -Wno-unused-parameter -fno-common
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 $(WARN) -fstack-protector-strong \
            -MMD -MP -Ilibshared/include $(PKG_CFLAGS)
ifeq ($(CI),true)
CFLAGS   += -Werror
endif
# libpg_query (Debian libpg-query-dev) has no pkg-config file.
EXTRA_LIBS := -lpg_query -lpthread -lm
LDLIBS   += $(PKG_LIBS) $(EXTRA_LIBS)
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

LIB_SRC  := $(wildcard libshared/src/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIBMF    := $(BUILD)/lib/libmf.a

API_SRC  := $(wildcard services/api/src/*.c)
API_OBJ  := $(API_SRC:%.c=$(BUILD)/obj/%.o)
MF_API   := $(BUILD)/bin/mf-api

INGEST_SRC := $(wildcard services/ingest/src/*.c)
INGEST_OBJ := $(INGEST_SRC:%.c=$(BUILD)/obj/%.o)
MF_INGEST  := $(BUILD)/bin/mf-ingest

ANALYTICS_SRC := $(wildcard services/analytics/src/*.c)
ANALYTICS_OBJ := $(ANALYTICS_SRC:%.c=$(BUILD)/obj/%.o)
MF_ANALYTICS  := $(BUILD)/bin/mf-analytics

CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
METAFUSE := $(BUILD)/bin/metafuse

UNIT_SRC := $(wildcard tests/unit/libshared/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/libshared/%.c=$(BUILD)/tests/unit_%)

.PHONY: all test unit run up down bench clean deps docs format seed-scale webui
all: $(MF_API) $(MF_INGEST) $(MF_ANALYTICS) $(METAFUSE)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBMF): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(MF_API): $(API_OBJ) $(LIBMF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(API_OBJ) $(LIBMF) $(LDLIBS)

$(MF_INGEST): $(INGEST_OBJ) $(LIBMF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(INGEST_OBJ) $(LIBMF) $(LDLIBS)

$(MF_ANALYTICS): $(ANALYTICS_OBJ) $(LIBMF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(ANALYTICS_OBJ) $(LIBMF) $(LDLIBS)

$(METAFUSE): $(CLI_OBJ) $(LIBMF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBMF) $(LDLIBS)

$(BUILD)/tests/unit_%: tests/unit/libshared/%.c $(LIBMF)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBMF) $(LDLIBS) -lcmocka

# Builds and runs every unit test (cmocka); stops at the first failing file.
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

FUZZ_DRIVERS := openlineage emit batch sql dbt
FUZZ_REPLAY  := $(FUZZ_DRIVERS:%=$(BUILD)/tests/fuzz_replay_%)

$(BUILD)/tests/fuzz_replay_%: tests/fuzz/replay.c tests/fuzz/fuzz_%.c tests/fuzz/fuzz_check.h $(LIBMF)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/replay.c tests/fuzz/fuzz_$*.c $(LIBMF) $(LDLIBS)

.PHONY: fuzz-replay fuzz print-%
# `make -s print-PKGS`: one variable's value (tests/fuzz/build.sh links what the services link).
print-%:
	@echo $($*)

# Replays the committed fuzz corpus through each decoder's driver (tests/fuzz/README.md).
fuzz-replay: $(FUZZ_REPLAY)
	@set -e; for d in $(FUZZ_DRIVERS); do echo "== fuzz replay $$d"; $(BUILD)/tests/fuzz_replay_$$d tests/fuzz/corpus/$$d; done

# libFuzzer builds with clang into build-fuzz/ (long runs, by hand)
fuzz:
	tests/fuzz/build.sh

# The dashboard: npm ci when its lock file changed, then a Vite build into webui/dist/ (served by mf-api).
WEBUI_NPM := webui/node_modules/.mf-npm-ci-stamp
WEBUI_SRC := $(shell find webui/src webui/public -type f 2>/dev/null) webui/index.html webui/vite.config.ts \
             webui/tsconfig.json webui/package.json

webui: webui/dist/index.html

$(WEBUI_NPM): webui/package-lock.json webui/package.json
	cd webui && npm ci --no-audit --no-fund --loglevel=error
	touch $@

webui/dist/index.html: $(WEBUI_SRC) $(WEBUI_NPM)
	cd webui && npm run build

deps:
	scripts/deps.sh

test:
	scripts/test.sh

# Recursive make after deps.sh: pkg-config flags must be read once the packages exist.
run:
	scripts/deps.sh
	$(MAKE) all webui
	scripts/stack.sh run

up:
	scripts/deps.sh
	$(MAKE) all webui
	scripts/stack.sh up

down:
	scripts/stack.sh down

bench:
	scripts/deps.sh
	$(MAKE) all
	bench/run.sh

# The API reference as one HTML page, rendered from docs/openapi.yaml.
docs:
	scripts/deps.sh
	node_modules/.bin/redocly build-docs docs/openapi.yaml --output $(BUILD)/docs/api-reference.html

# Against the stack of `make up` (.run/env) or MF_PG_SUPER_URL/MF_API_URL/MF_PLATFORM_ADMIN_KEY.
seed-scale:
	/usr/bin/python3 scripts/seed_scale.py $(SEED_ARGS)

format:
	clang-format -i libshared/include/mf/*.h libshared/src/*.c services/*/src/*.c services/*/src/*.h cli/*.c cli/*.h

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(API_OBJ:.o=.d) $(INGEST_OBJ:.o=.d) $(ANALYTICS_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_BIN:=.d)
