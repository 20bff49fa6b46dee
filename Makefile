# redscope: one Makefile, output under build/. `make V=1` shows full commands.
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:

OUT       := build
ARCH      := x86
BPFTOOL   ?= bpftool
CLANG     ?= clang
CC        ?= cc
MULTIARCH := $(shell $(CC) -dumpmachine)
VMLINUX   := bpf/vmlinux/$(ARCH)/vmlinux.h

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I$(dir $(VMLINUX)) -Iinclude -Ibpf -I/usr/include/$(MULTIARCH) -MMD -MP
CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -std=gnu11 \
	-Iinclude -Iuser -I$(OUT) -MMD -MP $(shell pkg-config --cflags libbpf libmicrohttpd 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs libbpf libmicrohttpd 2>/dev/null || echo -lbpf -lmicrohttpd) \
	-lpg_query -lelf -lz -lpthread -lm

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
LIB_OBJS  := $(filter-out $(OUT)/user/main.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/unit/%,$(UNIT_SRCS))

-include $(wildcard user/*.mk tests/*/*.mk)

.PHONY: all run test deps unit-tests bench format format-check vmlinux clean
all: $(OUT)/redscope

$(OUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUT)/user/%.o: user/%.c | $(SKELS) $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/redscope: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/unit/%: tests/unit/%.c $(LIB_OBJS) | $(OUT)/tests/unit
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) $(LDLIBS) -o $@

unit-tests: $(UNIT_BINS)

# The benchmarks' floor (scripts/bench-http.sh, scripts/bench-pgsql.sh): empty
# programs on the collectors' hooks, loaded by a small skeleton loader.
bench: $(OUT)/redscope $(OUT)/bench/floor

$(OUT)/bench/%.bpf.o: tests/bench/%.bpf.c $(VMLINUX) | $(OUT)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUT)/bench/floor: tests/bench/floor.c $(OUT)/bench/floor.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(OUT)/bench $< $(LDLIBS) -o $@

$(OUT) $(OUT)/user $(OUT)/tests/unit $(OUT)/bench:
	$(Q)mkdir -p $@

# Installs the Debian packages that are missing (needs root and apt).
deps:
	$(Q)scripts/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all
	./$(OUT)/redscope $(ARGS)

test: deps
	$(Q)$(MAKE) --no-print-directory format-check all unit-tests
	$(Q)tests/run-all.sh

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

format:
	clang-format -i $(wildcard bpf/*.bpf.c bpf/lib/*.h include/*.h user/*.c user/*.h tests/unit/*.c tests/bench/*.c)

format-check:
	clang-format --dry-run -Werror $(wildcard bpf/*.bpf.c bpf/lib/*.h include/*.h user/*.c user/*.h tests/unit/*.c tests/bench/*.c)

clean:
	rm -rf $(OUT)

-include $(wildcard $(OUT)/*.d $(OUT)/user/*.d $(OUT)/tests/unit/*.d $(OUT)/bench/*.d)
