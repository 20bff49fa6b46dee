/* SPDX-License-Identifier: MIT */
/* PostgreSQL collector: what bpf/pgsql.bpf.c and user/pgsql.c share. */
#ifndef REDSCOPE_PGSQL_H
#define REDSCOPE_PGSQL_H

#include "hist.h"

#define PG_DB_LEN	64   /* NAMEDATALEN */
#define PG_SERVICE_LEN	16   /* TASK_COMM_LEN */
#define PG_NAME_LEN	32   /* prepared statement names kept (longer ones are cut) */
#define PG_STAGE	128  /* per direction: a message head carried across buffers */
#define PG_STAGE_WANT	56   /* payload bytes of C/E/Z messages staged (tag, SQLSTATE) */
#define PG_TEXT_LEN	1024 /* statement text bytes hashed and sent to userspace */
#define PG_QUEUE	8    /* statements queued on one connection (power of 2) */
#define PG_MSGS_PER_BUF 2048 /* messages walked in one buffer (8 KB of 5-byte ones: 1639) */

/* Operations: the first word of the command tag (or, for a failed statement,
 * of its text). Anything else is OTHER, so no input can create series. */
enum pg_op {
	PG_OP_OTHER = 0,
	PG_OP_SELECT,
	PG_OP_INSERT,
	PG_OP_UPDATE,
	PG_OP_DELETE,
	PG_OP_MERGE,
	PG_OP_COPY,
	PG_OP_BEGIN,
	PG_OP_COMMIT,
	PG_OP_ROLLBACK,
	PG_OP_CREATE,
	PG_OP_DROP,
	PG_OP_ALTER,
	PG_OP_TRUNCATE,
	PG_OP_SET,
	PG_OP_SHOW,
	PG_OP_LOCK,
	PG_OP_VACUUM,
	PG_OP_ANALYZE,
	PG_OP_EXPLAIN,
	PG_OP_CALL,
	PG_OP_FETCH,
	PG_OP__MAX,
};

#define PG_OP_NAMES                                                                                \
	{                                                                                          \
		"OTHER", "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "BEGIN",         \
		    "COMMIT", "ROLLBACK", "CREATE", "DROP", "ALTER", "TRUNCATE", "SET", "SHOW",    \
		    "LOCK", "VACUUM", "ANALYZE", "EXPLAIN", "CALL", "FETCH",                       \
	}

/* What a pg_key counts. */
enum pg_kind {
	PG_K_QUERY = 1,	  /* pg_hist; code = op | status << 8 (0 ok, 1 error) */
	PG_K_LOCK_WAIT,	  /* pg_hist; code 0 */
	PG_K_CONN_OPENED, /* pg_count; code 0 */
	PG_K_XACT,	  /* pg_count; code 0 commit, 1 rollback */
	PG_K_ERROR,	  /* pg_count; code = SQLSTATE in base 36 (pg_sqlstate_pack) */
	PG_K_DEADLOCK,	  /* pg_count; code 0 */
};

/* A (database, service) pair: the key of pg_name_ids, the value of pg_names. */
struct pg_names {
	char database[PG_DB_LEN];
	char service[PG_SERVICE_LEN];
};

/* Pairs numbered (ids from 1; pg_names holds each id's pair): the series keys
 * carry the 4-byte id, which BPF hashes and compares on every statement,
 * instead of the 80 bytes of names. */
#define PG_NAMES_MAX 4096

/* pg_hist and pg_count (per-CPU): one series per database and what it counts. */
struct pg_key {
	__u32 names; /* id of the (database, service) pair */
	__u32 kind;
	__u32 code;
};

/* Non-cumulative bucket counts; the count is the sum of slots[]. */
struct pg_hist {
	__u64 sum_ns;
	__u64 slots[HIST_SLOTS];
};

/* pg_stmt (per-CPU): latency of one normalized statement. */
struct pg_stmt_key {
	__u64 hash; /* of the text with literals taken out (pgsql_parse.h) */
	__u32 names;
	__u32 pad;
};

/* pg_servers: a postmaster found by userspace; BPF notes its last accept so
 * the next fork (the backend for that connection) inherits the socket. */
struct pg_server {
	__u32 last_fd;
	__u32 pending; /* 1 between an accept and the fork that serves it */
};

enum pg_state {
	PG_S_STARTUP = 0, /* the client's first packet comes next */
	PG_S_SSL_ASKED,	  /* SSLRequest/GSSENCRequest sent: one byte 'S'/'N' answers it */
	PG_S_AUTH,	  /* startup seen; ready at the first ReadyForQuery */
	PG_S_READY,	  /* a session: queries are measured */
	PG_S_TLS,	  /* encrypted: read through uprobes on be_tls_read/be_tls_write */
	PG_S_LOST,	  /* the stream made no sense: wait for a message boundary */
};

/* A message head being put together across syscall buffers, per direction. */
struct pg_stage {
	__u64 rem;  /* bytes of the current message still to skip */
	__u32 len;  /* bytes in buf */
	__u32 lost; /* the stream made no sense: start afresh at the next buffer */
	char buf[PG_STAGE];
};

/* A statement sent and not yet answered. */
struct pg_pending {
	__u64 start_ns; /* exit of the read that brought its Query or Execute */
	__u64 hash;	/* 0: text unknown */
	__u16 op;	/* from its text, used when it fails */
	__u8 simple;	/* a Query message: may run several statements, ends at 'Z' */
	__u8 pad[5];
};

/* pg_conns: one backend process serving one client, keyed by its tgid. */
struct pg_conn {
	__u64 last_read_ns;
	__u64 bound_hash; /* statement of the last Bind */
	struct pg_stage in, out;
	struct pg_pending q[PG_QUEUE];
	char database[PG_DB_LEN];
	char service[PG_SERVICE_LEN];
	__u32 names; /* their id once a series needed it; 0 when they change */
	__u32 fd;
	__u32 server; /* postmaster tgid */
	__u16 bound_op;
	__u8 state;
	__u8 head;	/* oldest queued statement */
	__u8 count;	/* queued statements */
	__u8 xact;	/* transaction status of the last ReadyForQuery: 'I', 'T', 'E' */
	__u8 cyc_stmts; /* statements answered since the last ReadyForQuery */
	__u8 cyc_flags; /* PG_CYC_* since the last ReadyForQuery */
	__u8 tls;	/* PG_TLS_*: plaintext from the per-backend uprobes, not syscalls */
	__u8 pad[3];
};

/* pg_conn.fd of a postmaster's child not yet seen reading a socket (socket hooks) */
#define PG_FD_UNKNOWN 0xffffffffu

/* pg_conn.tls */
#define PG_TLS_WHOLE   1 /* plaintext from the uprobes, from the startup packet on */
#define PG_TLS_PARTIAL 2 /* the uprobes came after the session had begun */

#define PG_CYC_ERROR	1
#define PG_CYC_ROLLBACK 2

/* pg_prepared: a named (or the unnamed) prepared statement of one backend. */
struct pg_prep_key {
	__u32 tgid;
	__u32 pad;
	char name[PG_NAME_LEN];
};

struct pg_prep {
	__u64 hash;
	__u16 op;
	__u16 pad[3];
};

/* Ring buffer pg_events: what userspace must act on. */
enum pg_event_kind {
	PG_EV_TEXT = 1, /* a statement hash seen for the first time, with its text:
			 * userspace normalizes it (libpg_query) and keeps only that */
};

struct pg_event {
	__u32 kind;
	__u32 len; /* of text */
	__u64 arg; /* PG_EV_TEXT: the hash */
	char text[PG_TEXT_LEN];
};

_Static_assert(sizeof(struct pg_names) == PG_DB_LEN + PG_SERVICE_LEN, "pg_names layout");
_Static_assert(sizeof(struct pg_key) == 12, "pg_key layout");
_Static_assert(sizeof(struct pg_hist) == 8 + 8 * HIST_SLOTS, "pg_hist layout");
_Static_assert(sizeof(struct pg_stmt_key) == 16, "pg_stmt_key layout");
_Static_assert(sizeof(struct pg_stage) == 16 + PG_STAGE, "pg_stage layout");
_Static_assert(sizeof(struct pg_pending) == 24, "pg_pending layout");
_Static_assert(sizeof(struct pg_conn) == 16 + 2 * sizeof(struct pg_stage) + 24 * PG_QUEUE +
					     PG_DB_LEN + PG_SERVICE_LEN + 24,
	       "pg_conn layout");
_Static_assert(sizeof(struct pg_prep_key) == 40, "pg_prep_key layout");
_Static_assert(sizeof(struct pg_event) == 16 + PG_TEXT_LEN, "pg_event layout");

#endif
