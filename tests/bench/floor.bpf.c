// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark's floor: an empty program on each of the 3 tracepoints the
 * HTTP collector (bpf/http.bpf.c) attaches to (its fourth program is an
 * iterator, run only when /metrics is scraped). What these cost is what any
 * design built on those tracepoints pays before doing any work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_sock_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_sock_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(floor_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
