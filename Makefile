# cryo build. `make` builds build/cryo; `make test` runs the suite; `make bench` the benchmark.
CC      ?= gcc
PREFIX  ?= /usr/local
DESTDIR ?=
O       := build

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CPPFLAGS += -Iinclude -Isrc -I$(O)/gen -D_GNU_SOURCE -MMD -MP $(shell pkg-config --cflags libmnl gnutls liblz4)
CPPFLAGS += $(shell pkg-config --cflags libnftables libnftnl)
LDLIBS  += -lprotobuf-c $(shell pkg-config --libs libmnl liblz4) -ldl $(shell pkg-config --libs libnftables libnftnl)

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

# the objects of the fuzz targets (make fuzz): clang, libFuzzer's coverage, ASan and UBSan
ifeq ($(SANITIZE),fuzz)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	   -fno-omit-frame-pointer
endif

PROTO   := $(wildcard images/*.proto)
PB_C    := $(patsubst images/%.proto,$(O)/gen/images/%.pb-c.c,$(PROTO))
PB_H    := $(PB_C:.c=.h)
# libcryotcp (src/net/tcp_repair.h): TCP connections through TCP_REPAIR, a library of its own
LIBTCP_SRCS := src/net/tcp_repair.c src/net/tcp_segment.c src/net/tcp_urg.c
LIBTCP  := $(O)/libcryotcp.a
SRCS    := $(filter-out $(LIBTCP_SRCS),$(wildcard src/*/*.c))
ASMS    := $(wildcard src/*/*.S)
# BPF programs cryo carries (src/bpf/*.bpf.c): built by clang for the BPF target, whatever CC
# (clang is one of scripts/deps.sh's packages already)
BPF_SRCS := $(wildcard src/bpf/*.bpf.c)
SRCS    := $(filter-out $(BPF_SRCS),$(SRCS))
OBJS    := $(patsubst %.c,$(O)/%.o,$(SRCS)) $(patsubst %.S,$(O)/%.o,$(ASMS)) $(PB_C:.c=.o)

all: $(O)/cryo

# generated sources are kept, not treated as intermediate files
.SECONDARY: $(PB_C) $(PB_H)

$(O)/gen/images/%.pb-c.c $(O)/gen/images/%.pb-c.h: images/%.proto
	@mkdir -p $(O)/gen
	protoc-c --c_out=$(O)/gen $<

$(O)/%.o: %.c | $(PB_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(O)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

$(O)/gen/%.bpf.o: src/bpf/%.bpf.c
	@mkdir -p $(O)/gen
	clang -target bpf -O2 -g -Wall -Werror -c $< -o $@

# the object that carries the BPF programs (.incbin of them, found in $(O)/gen)
$(O)/src/core/bpf_objs.o: src/core/bpf_objs.S $(patsubst src/bpf/%.c,$(O)/gen/%.o,$(BPF_SRCS))
	@mkdir -p $(dir $@)
	$(CC) -Wa,-I$(O)/gen -c $< -o $@

$(O)/gen/%.o: $(O)/gen/%.c
	$(CC) $(CPPFLAGS) $(filter-out -Werror,$(CFLAGS)) -c $< -o $@

$(LIBTCP): $(patsubst %.c,$(O)/%.o,$(LIBTCP_SRCS))
	$(AR) rcs $@ $^

# the library alone, for another program: link build/libcryotcp.a, include src/net/tcp_repair.h
libcryotcp: $(LIBTCP)

$(O)/cryo: $(OBJS) $(LIBTCP)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LIBTCP) $(LDLIBS)

tests: $(O)/cryo
	$(MAKE) -C tests

test: all
	bash tests/run.sh

# every fault point of every crash case, not a sample (slow: tens of minutes)
crash-test: all
	ZT_CRASH_ALL=1 ZT_CRASH_RANDOM=100 bash tests/run.sh crash-dump crash-dump-random fail-dump

bench: all
	bash bench/run.sh

# lazy restore against a plain one, 1 GiB (bench/lazy.sh)
bench-lazy: all
	bash bench/lazy.sh

demo: all
	bash demo.sh

install: $(O)/cryo
	install -D -m 0755 $(O)/cryo $(DESTDIR)$(PREFIX)/sbin/cryo
	ln -sf cryo $(DESTDIR)$(PREFIX)/sbin/criu
	install -D -m 0644 docs/cryo.8 $(DESTDIR)$(PREFIX)/share/man/man8/cryo.8
	ln -sf cryo.8 $(DESTDIR)$(PREFIX)/share/man/man8/criu.8
	install -D -m 0644 docs/cryo.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/cryo
	ln -sf cryo $(DESTDIR)$(PREFIX)/share/bash-completion/completions/criu

format:
	clang-format -i $(SRCS) $(wildcard src/*/*.h include/cryo/*.h)

clean:
	rm -rf $(O)
	$(MAKE) -C tests clean

# libFuzzer targets of the image readers (tests/fuzz/fuzz.c), built in build-fuzz with clang;
# `make fuzz` runs each for FUZZ_SECONDS / number of targets, from tests/fuzz/corpus, and
# replays tests/fuzz/regressions. The test suite runs a short round (tests/cases/fuzz.sh).
FUZZ_TARGETS := inventory pstree core mm pagemap files stats raw show restore lz4
FUZZ_SECONDS ?= 600
FUZZ_LIB     = $(filter-out $(O)/src/cli/main.o,$(OBJS)) $(LIBTCP)

fuzz-build:
	$(MAKE) O=build-fuzz CC=clang SANITIZE=fuzz fuzz-targets

fuzz-targets: $(patsubst %,$(O)/fuzz/fuzz-%,$(FUZZ_TARGETS))

$(O)/fuzz/fuzz-%: tests/fuzz/fuzz.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DFUZZ_TARGET=$* -fsanitize=fuzzer $< $(FUZZ_LIB) -o $@ $(LDLIBS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh


.PHONY: libcryotcp
.PHONY: all test tests crash-test bench bench-lazy demo install format clean fuzz fuzz-build fuzz-targets
-include $(OBJS:.o=.d) $(patsubst %.c,$(O)/%.d,$(LIBTCP_SRCS))
