# Oast — plain Makefile (redis style). `make` builds build/oast and
# build/liboast.{so,a}; `make test`, `make demo`, `make bench`, `make clean`.
# SANITIZE=address,undefined builds instrumented objects in build/san/.

PYTHON ?= /usr/bin/python3
CC ?= cc
PKGS := libmicrohttpd gnutls libcurl jansson sqlite3 libargon2 lmdb libzstd zlib yaml-0.1 xgboost hdf5

ifeq ($(SANITIZE),)
BUILD ?= build
OPT ?= -O2
SANFLAGS :=
else
BUILD ?= build/san
OPT ?= -O1
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wno-missing-field-initializers
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lsnappy -lpthread -lm
CFLAGS += -std=gnu11 -g $(OPT) $(WARN) -fPIC -Iinclude -Isrc $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)

# liboast: the C client library (public API in include/oast) and util.
LIB_SRC := $(wildcard src/util/*.c src/client/*.c)
# Everything the server needs beyond the library.
SERVER_DIRS := http meta auth project fstore formats formats/parquet exp exec model serve jobs prov
SERVER_SRC := $(foreach d,$(SERVER_DIRS),$(wildcard src/$(d)/*.c))
CLI_SRC := $(wildcard src/cli/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/src/main.o

.PHONY: all deps test unit integration demo bench clean install
all: $(BUILD)/oast $(BUILD)/liboast.so $(BUILD)/liboast.a $(BUILD)/unit_tests

deps:
	@./scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/liboast.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/liboast.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/oast: $(MAIN_OBJ) $(CLI_OBJ) $(SERVER_OBJ) $(LIB_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

$(BUILD)/unit_tests: $(UNIT_OBJ) $(CLI_OBJ) $(SERVER_OBJ) $(LIB_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

# Test helper: dumps and writes Parquet files with our codec, so the
# integration suite can check them against DuckDB.
$(BUILD)/pqtool: $(BUILD)/obj/tests/tools/pqtool.o $(SERVER_OBJ) $(LIB_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS) $(PKG_LIBS)

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests

integration: $(BUILD)/oast $(BUILD)/liboast.so $(BUILD)/pqtool
	OAST_BIN=$(abspath $(BUILD)/oast) OAST_LIB=$(abspath $(BUILD)/liboast.so) OAST_PQTOOL=$(abspath $(BUILD)/pqtool) \
	  PYTHONPATH=$(abspath python) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# The README's test command: install, build, unit tests, integration suites.
# Its last line is pytest's summary.
test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

demo: deps
	$(MAKE) all
	./scripts/demo.sh $(BUILD)/oast

bench: deps
	$(MAKE) all
	./bench/run-all.sh

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/oast
	install -m 0755 $(BUILD)/oast $(DESTDIR)$(PREFIX)/bin/oast
	install -m 0644 $(BUILD)/liboast.so $(BUILD)/liboast.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 include/oast/*.h $(DESTDIR)$(PREFIX)/include/oast/
	pydir=$$($(PYTHON) -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])'); \
	  install -d $(DESTDIR)$$pydir/oast && install -m 0644 python/oast/*.py $(DESTDIR)$$pydir/oast/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
