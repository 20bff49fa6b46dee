/* SPDX-License-Identifier: MIT */
/* Why the BPF side could not record an event. Every collector keeps a per-CPU
 * array "drops" indexed by these; userspace exports it as
 * redscope_events_dropped_total{collector,reason}. */
#ifndef REDSCOPE_DROPS_H
#define REDSCOPE_DROPS_H

enum drop_reason {
	DROP_MAP_FULL = 0, /* an aggregation or state map had no room */
	DROP_READ_FAILED,  /* bpf_probe_read_user of a syscall buffer failed */
	DROP_CONN_FULL,	   /* no room to track a new connection */
	DROP_QUEUE_FULL,   /* too many pipelined requests waiting on one connection */
	DROP_RINGBUF_FULL, /* ring buffer reserve failed */
	DROP_DESYNC,	 /* a byte stream stopped making sense; parsing resumes at the next read */
	DROP_TLS_MISSED, /* a TLS session began before its uprobes were attached */
	/* Counted by the kernel, never by our programs: runs of a collector's
	 * programs it skipped because the same program was already running on
	 * that CPU (a tracepoint hit again from an interrupt), read from each
	 * program's recursion_misses. */
	DROP_RECURSION_MISS,
	DROP__MAX,
};

#define DROP_REASON_NAMES                                                                          \
	{                                                                                          \
		"map_full", "read_failed", "conn_table_full", "pipeline_full", "ringbuf_full",     \
		    "protocol_desync", "tls_missed", "recursion_miss",                             \
	}

#endif
