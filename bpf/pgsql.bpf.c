// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * PostgreSQL server metrics from the wire protocol, read on the backend's own
 * syscalls: no uprobe on a plaintext session's per-query path (TLS sessions
 * are read through uprobes, below).
 *
 * sched_process_fork       a postmaster (pg_servers, found by userspace) forks
 *                          a backend: track it (pg_conns, keyed by its tgid)
 * reads (recvfrom)         client messages: startup (database), Query, Parse,
 *                          Bind, Execute; queue the statements with their start
 * writes (sendto)          server messages: CommandComplete, ErrorResponse
 *                          (SQLSTATE), ReadyForQuery (transaction status): count
 *                          each statement into pg_hist, pg_count and pg_stmt
 * sched_process_exit       the backend is gone: forget it
 * USDT lock__wait__*,      lock waits and deadlocks, rare events: attached by
 * deadlock__found          userspace to each server binary it finds
 * uprobes be_tls_read,     the plaintext of TLS sessions, whose wire bytes are
 * be_tls_write             encrypted: attached with the USDT probes; only TLS
 *                          sessions call them
 *
 * PostgreSQL calls recv() and send() on its client socket, which are the
 * recvfrom and sendto syscalls. They are seen on one of two sets of hooks
 * (user/pgsql.c loads one, see --pgsql.hooks):
 *
 * socket hooks (Linux 6.3+)  sock_recv_length and sock_send_length; a backend's
 *                            client socket is the first stream socket it reads
 * syscall hooks (any kernel) recvfrom and sendto (exit); the client socket is
 *                            the one accept/accept4 (exit) returned to the
 *                            postmaster just before it forked the backend
 *
 * Why two: enabling any syscall tracepoint sends every syscall of every
 * process on the host down the kernel's slow path (+60 ns a syscall measured
 * here, 195 to 252 ns for getppid), watched or not; socket tracepoints cost
 * nothing where they do not fire.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/usdt.bpf.h>
#include "pgsql.h"
#include "lib/drops.bpf.h"
#include "lib/sock_io.bpf.h"
#include "tgid_bits.h"
#include "pgsql_parse.h"

/* Protocol codes of the first packet (no type byte). */
#define PG_PROTO_V3    196608
#define PG_SSL_CODE    80877103
#define PG_GSS_CODE    80877104
#define PG_CANCEL_CODE 80877102
#define PG_STARTUP_MAX 10000

enum { DIR_IN = 0, DIR_OUT = 1 };

/* Set by userspace before load; bounds in nanoseconds. */
const volatile __u64 dur_bounds[HIST_MAX_BOUNDS] = {};
const volatile __u32 nr_dur_bounds = 0;
/* Set by userspace: the socket hooks are the ones loaded (see above). */
const volatile __u32 socket_hooks = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct pg_server);
} pg_servers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct pg_conn);
} pg_conns SEC(".maps");

/* The processes with a pg_conns entry, and some that had one (see
 * include/tgid_bits.h): set by pgsql_fork, and by userspace for the backends
 * it adopts. */
__u64 pg_backends[TGID_BITS_WORDS];

/* The buffer of a be_tls_read/be_tls_write in flight, by thread. */
struct pg_args {
	__u64 buf;
	__u32 active;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pg_prep_key);
	__type(value, struct pg_prep);
} pg_prepared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pg_key);
	__type(value, struct pg_hist);
} pg_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pg_key);
	__type(value, __u64);
} pg_count SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct pg_stmt_key);
	__type(value, struct pg_hist);
} pg_stmt SEC(".maps");

/* The (database, service) pairs the series keys number, both ways. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PG_NAMES_MAX);
	__type(key, struct pg_names);
	__type(value, __u32);
} pg_name_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PG_NAMES_MAX);
	__type(key, __u32);
	__type(value, struct pg_names);
} pg_names SEC(".maps");

/* The last id given out. */
__u32 pg_names_last = 0;

/* Statement hashes whose text userspace has been sent. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} pg_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} pg_events SEC(".maps");

/* be_tls_read/be_tls_write's buffer, for their uretprobes (which see no arguments). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pg_args);
} pg_tls_args SEC(".maps");

/* Lock waits in progress, by thread: start time. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} pg_lockwait SEC(".maps");

/* One syscall buffer being walked, message by message. */
struct pg_walk {
	__u64 buf; /* user address */
	__u64 total;
	__u64 off;
	__u64 now;
	__u32 tgid;
	__u32 dir;
	__u32 win_len; /* bytes of buf copied to scratch.win, 0 before the walk */
	__u32 pad;
};

/* The head of each walked buffer is copied once (one user read, ~100 ns here)
 * and its message heads, staged payloads and statement texts are taken from
 * the copy: read one by one, a statement's answer (RowDescription, DataRow,
 * CommandComplete, ReadyForQuery) takes six user reads. */
#define PG_WIN 256

/* Startup packet parameters: "key\0value\0key\0value\0...\0". */
struct pg_params {
	__u32 n;
	__u32 tok_start;
	__u32 tok_index;
	__u32 key; /* 1 database, 2 user, 3 replication, 0 other */
	__u32 db_start, db_len, user_start, user_len;
	__u32 replication; /* a walsender, not a client session */
};

/* Per-CPU room for what does not fit the 512-byte stack. */
struct scratch {
	char win[PG_WIN];
	char text[PG_TEXT_LEN];
	struct pg_hasher h;
	struct pg_walk w;
	struct pg_params sp;
	struct pg_key key;
	struct pg_stmt_key skey;
	struct pg_names names;
	struct pg_prep_key pkey;
	struct pg_title title;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} pg_scratch SEC(".maps");

/* Never written: the initial value of new entries. */
struct zeroes {
	struct pg_conn conn;
	struct pg_hist hist;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zeroes);
} pg_zero SEC(".maps");

static __always_inline struct zeroes *zeroes(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pg_zero, &zero);
}

static __always_inline struct scratch *scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pg_scratch, &zero);
}

/* Global: the verifier checks the bucket loop once. */
__noinline __u32 pg_slot(__u64 v)
{
	return hist_bucket(dur_bounds, nr_dur_bounds, v);
}

/* ---- counting ------------------------------------------------------------------ */

static __always_inline void hist_add(void *map, void *key, __u64 ns)
{
	struct pg_hist *h;
	struct zeroes *z;
	__u32 b;

	if (!key)
		return;
	h = bpf_map_lookup_elem(map, key);
	if (!h) {
		z = zeroes();
		if (!z)
			return;
		bpf_map_update_elem(map, key, &z->hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(map, key);
		if (!h) {
			drop(DROP_MAP_FULL);
			return;
		}
	}
	b = pg_slot(ns);
	h->slots[b < HIST_SLOTS ? b : HIST_SLOTS - 1]++;
	h->sum_ns += ns;
}

static __always_inline void count_add(struct pg_key *key)
{
	__u64 one = 1, *v;

	if (!key)
		return;
	v = bpf_map_lookup_elem(&pg_count, key);
	if (v) {
		(*v)++;
		return;
	}
	if (bpf_map_update_elem(&pg_count, key, &one, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&pg_count, key); /* another CPU made it */
		if (v)
			(*v)++;
		else
			drop(DROP_MAP_FULL);
	}
}

/*
 * The id of c's (database, service) pair, numbered at its first series: once
 * per session, then kept in c. 0 when every id is taken (the series is then
 * not counted, and the drop is).
 */
static __always_inline __u32 names_id(struct scratch *s, struct pg_conn *c)
{
	struct pg_names *slot;
	__u32 id, *known;

	if (c->names)
		return c->names;
	__builtin_memcpy(s->names.database, c->database, sizeof(s->names.database));
	__builtin_memcpy(s->names.service, c->service, sizeof(s->names.service));
	known = bpf_map_lookup_elem(&pg_name_ids, &s->names);
	if (known) {
		c->names = *known;
		return c->names;
	}
	id = __sync_fetch_and_add(&pg_names_last, 1) + 1;
	slot = id < PG_NAMES_MAX ? bpf_map_lookup_elem(&pg_names, &id) : 0;
	if (!slot) {
		drop(DROP_MAP_FULL);
		return 0;
	}
	/* The names before the id is published: whoever finds the id (a
	 * series key, userspace) finds them too. */
	__builtin_memcpy(slot, &s->names, sizeof(*slot));
	if (bpf_map_update_elem(&pg_name_ids, &s->names, &id, BPF_NOEXIST)) {
		/* Another CPU numbered the pair first: its id (this one stays unused). */
		known = bpf_map_lookup_elem(&pg_name_ids, &s->names);
		if (!known) {
			drop(DROP_MAP_FULL);
			return 0;
		}
		id = *known;
	}
	c->names = id;
	return id;
}

/* The scratch key for this connection's database and what it counts, or 0. */
static __always_inline struct pg_key *conn_key(struct scratch *s, struct pg_conn *c, __u32 kind,
					       __u32 code)
{
	s->key.names = names_id(s, c);
	s->key.kind = kind;
	s->key.code = code;
	return s->key.names ? &s->key : 0;
}

/*
 * One statement answered (CommandComplete or ErrorResponse) now. Global
 * functions like this one are verified once on their own: inlined into the
 * message walk, their loops and branches would multiply its states.
 */
__noinline int pg_complete(struct scratch *s, struct pg_conn *c, __u32 op, __u32 err,
			   __u32 sqlstate)
{
	struct pg_pending *p;
	__u64 start, hash = 0, dur, now;

	if (!s || !c)
		return 0;
	now = s->w.now;
	start = c->last_read_ns;
	p = &c->q[c->head & (PG_QUEUE - 1)];

	if (c->count) {
		start = p->start_ns;
		hash = p->hash;
		if (err)
			op = p->op; /* no command tag: the statement's first word */
		if (!p->simple) {
			c->head = (c->head + 1) & (PG_QUEUE - 1);
			c->count--;
		}
	} else if (err) {
		op = PG_OP_OTHER;
	}
	if (op >= PG_OP__MAX)
		op = PG_OP_OTHER;
	dur = now > start ? now - start : 0;
	hist_add(&pg_hist, conn_key(s, c, PG_K_QUERY, op | (err ? 1 : 0) << 8), dur);
	if (err)
		count_add(conn_key(s, c, PG_K_ERROR, sqlstate));
	if (hash) {
		s->skey.hash = hash;
		s->skey.names = c->names; /* numbered just above, for pg_hist */
		s->skey.pad = 0;
		if (s->skey.names)
			hist_add(&pg_stmt, &s->skey, dur);
	}
	if (c->cyc_stmts < 255)
		c->cyc_stmts++;
	if (err)
		c->cyc_flags |= PG_CYC_ERROR;
	if (op == PG_OP_ROLLBACK)
		c->cyc_flags |= PG_CYC_ROLLBACK;
	return 0;
}

/*
 * ReadyForQuery: the end of a query cycle. A transaction ended when the
 * status returns to idle: after a block ('T'/'E' before), or as the implicit
 * transaction of the statements this cycle ran. Rolled back when it failed.
 */
static __always_inline void end_cycle(struct scratch *s, struct pg_conn *c, __u8 status)
{
	__u32 rollback;

	if (status == 'I' && (c->xact == 'T' || c->xact == 'E' || c->cyc_stmts)) {
		rollback = c->xact == 'E' || (c->cyc_flags & (PG_CYC_ERROR | PG_CYC_ROLLBACK));
		count_add(conn_key(s, c, PG_K_XACT, rollback));
	}
	c->xact = status;
	c->cyc_stmts = 0;
	c->cyc_flags = 0;
	c->head = 0;
	c->count = 0; /* statements left after an error were skipped by the server */
}

/* ---- client messages ------------------------------------------------------------- */

/* Copies n user bytes at src into dst: from the walked buffer's window when
 * they are in it (a copy within the kernel), else from user memory. */
static __always_inline long read_user(struct scratch *s, void *dst, __u32 n, __u64 src)
{
	__u64 off = src - s->w.buf;

	if (src >= s->w.buf && off + n <= s->w.win_len)
		return bpf_probe_read_kernel(dst, n, &s->win[off & (PG_WIN - 1)]);
	return bpf_probe_read_user(dst, n, (void *)src);
}

/* Copies n (<= PG_TEXT_LEN - 1) user bytes at src into s->text, NUL-terminated. */
static __always_inline __u32 load_text(struct scratch *s, __u64 src, __u64 n)
{
	if (n > PG_TEXT_LEN - 1)
		n = PG_TEXT_LEN - 1;
	if (n == 0)
		return 0;
	if (read_user(s, s->text, n, src)) {
		drop(DROP_READ_FAILED);
		return 0;
	}
	s->text[n & (PG_TEXT_LEN - 1)] = 0;
	return n;
}

/* Hashes the statement text in s->text; sends it to userspace the first time. */
__noinline int pg_hash_statement(struct scratch *s, __u32 n)
{
	struct pg_event *ev;
	__u8 one = 1;

	if (!s)
		return 0;
	pg_hash_text(s->text, n, &s->h);
	if (bpf_map_lookup_elem(&pg_seen, &s->h.hash))
		return 0;
	if (bpf_map_update_elem(&pg_seen, &s->h.hash, &one, BPF_NOEXIST))
		return 0; /* another CPU is sending it */
	ev = bpf_ringbuf_reserve(&pg_events, sizeof(*ev), 0);
	if (!ev) {
		bpf_map_delete_elem(&pg_seen, &s->h.hash); /* try again next time */
		drop(DROP_RINGBUF_FULL);
		return 0;
	}
	ev->kind = PG_EV_TEXT;
	ev->arg = s->h.hash;
	ev->len = n;
	bpf_probe_read_kernel(ev->text, sizeof(ev->text), s->text);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

static __always_inline void enqueue(struct pg_conn *c, __u64 now, __u64 hash, __u16 op, __u8 simple)
{
	struct pg_pending *p;

	if (c->count >= PG_QUEUE) {
		/* Its answer still counts, with the batch's start time. */
		drop(DROP_QUEUE_FULL);
		return;
	}
	p = &c->q[(c->head + c->count) & (PG_QUEUE - 1)];
	p->start_ns = now;
	p->hash = hash;
	p->op = op;
	p->simple = simple;
	c->count++;
}

/* Length of the NUL-terminated name at s->text[off], or -1 past the window. */
__noinline int pg_name_len(struct scratch *s, __u32 off, __u32 n)
{
	int i;

	if (!s)
		return -1;
	for (i = 0; i < 64; i++) {
		if (off + i >= n)
			return -1;
		if (s->text[(off + i) & (PG_TEXT_LEN - 1)] == 0)
			return i;
	}
	return -1;
}

/* s->pkey: the pg_prepared key for the name at s->text[off] (len bytes). */
__noinline int pg_prep_key(struct scratch *s, __u32 tgid, __u32 off, __u32 len)
{
	__u32 i;

	if (!s)
		return 0;
	__builtin_memset(&s->pkey, 0, sizeof(s->pkey));
	s->pkey.tgid = tgid;
	for (i = 0; i < PG_NAME_LEN; i++) {
		if (i >= len)
			break;
		s->pkey.name[i] = s->text[(off + i) & (PG_TEXT_LEN - 1)];
	}
	return 0;
}

/* A client message of the given type; its payload (avail bytes of it in this
 * buffer) starts at user address p. */
__noinline int pg_client_msg(struct scratch *s, struct pg_conn *c, __u32 type, __u64 p, __u64 avail)
{
	struct pg_prep prep = {}, *found;
	__u32 n;
	int nl, sl;

	if (!s || !c || c->state != PG_S_READY)
		return 0;
	switch (type) {
	case 'Q':
		n = load_text(s, p, avail);
		s->h.hash = 0;
		s->h.word = 0;
		if (n)
			pg_hash_statement(s, n);
		enqueue(c, s->w.now, s->h.hash, pg_word_op(s->h.word), 1);
		break;
	case 'P': /* statement name, text, parameter types */
		n = load_text(s, p, avail);
		nl = pg_name_len(s, 0, n);
		if (nl < 0)
			break;
		n = load_text(s, p + nl + 1, avail > (__u64)nl + 1 ? avail - nl - 1 : 0);
		if (!n)
			break;
		pg_hash_statement(s, n);
		prep.hash = s->h.hash;
		prep.op = pg_word_op(s->h.word);
		n = load_text(s, p, nl + 1);
		if (!n)
			break;
		pg_prep_key(s, s->w.tgid, 0, nl);
		bpf_map_update_elem(&pg_prepared, &s->pkey, &prep, BPF_ANY);
		break;
	case 'B': /* portal name, statement name, ... */
		c->bound_hash = 0;
		c->bound_op = PG_OP_OTHER;
		n = load_text(s, p, avail < 2 * 64 + 2 ? avail : 2 * 64 + 2);
		nl = pg_name_len(s, 0, n);
		if (nl < 0)
			break;
		sl = pg_name_len(s, nl + 1, n);
		if (sl < 0)
			break;
		pg_prep_key(s, s->w.tgid, nl + 1, sl);
		found = bpf_map_lookup_elem(&pg_prepared, &s->pkey);
		if (found) {
			c->bound_hash = found->hash;
			c->bound_op = found->op;
		}
		break;
	case 'E':
		enqueue(c, s->w.now, c->bound_hash, c->bound_op, 0);
		break;
	}
	return 0;
}

/* ---- server messages -------------------------------------------------------------- */

/* The SQLSTATE field ('C') of an ErrorResponse payload staged in st (n bytes). */
__noinline __u32 pg_sqlstate(struct pg_stage *st, __u32 n)
{
	const char *b;
	__u32 j;

	if (!st)
		return 0;
	b = &st->buf[5];
	/* Fields are a type byte and a NUL-terminated string: a byte after a NUL
	 * (or the first) is always a type byte. */
	for (j = 0; j + 6 < PG_STAGE_WANT; j++) {
		if (j + 6 >= n)
			break;
		if ((j == 0 || b[j - 1] == 0) && b[j] == 'C' && b[j + 6] == 0)
			return pg_sqlstate_pack(&b[j + 1]);
	}
	return 0;
}

/* Payload bytes of a server message that must be staged before it is handled. */
static __always_inline __u32 server_wants(__u8 type, __u64 plen)
{
	if (type != 'C' && type != 'E' && type != 'Z')
		return 0;
	return plen < PG_STAGE_WANT ? plen : PG_STAGE_WANT;
}

/* A server message whose first n payload bytes are staged in c->out. */
__noinline int pg_server_msg(struct scratch *s, struct pg_conn *c, __u32 type, __u32 n)
{
	const char *b;
	struct pg_pending *p;

	if (!s || !c)
		return 0;
	b = &c->out.buf[5];
	if (c->state == PG_S_AUTH) {
		if (type == 'Z' && n >= 1) { /* authenticated: a session begins */
			c->state = PG_S_READY;
			c->xact = b[0];
			count_add(conn_key(s, c, PG_K_CONN_OPENED, 0));
		}
		return 0;
	}
	if (c->state != PG_S_READY)
		return 0;
	switch (type) {
	case 'C':
		pg_complete(s, c, pg_tag_op(b, n), 0, 0);
		break;
	case 'E':
		pg_complete(s, c, PG_OP_OTHER, 1, pg_sqlstate(&c->out, n));
		break;
	case 'Z':
		if (n >= 1)
			end_cycle(s, c, b[0]);
		break;
	case 's': /* PortalSuspended: the Execute ran out of its row limit */
	case 'I': /* EmptyQueryResponse */
		p = &c->q[c->head & (PG_QUEUE - 1)];
		if (c->count && !p->simple) {
			c->head = (c->head + 1) & (PG_QUEUE - 1);
			c->count--;
		}
		break;
	}
	return 0;
}

/* ---- the message walk ----------------------------------------------------------- */

static __always_inline int valid_type(__u8 t)
{
	return (t >= 'A' && t <= 'Z') || (t >= 'a' && t <= 'z') || (t >= '1' && t <= '3');
}

/* Appends n (< 64) user bytes at src to the stage. */
static __always_inline int stage_add(struct scratch *s, struct pg_stage *st, __u64 src, __u32 n)
{
	__u32 at = st->len & 63;

	n &= 63;
	if (!n)
		return 0;
	if (read_user(s, &st->buf[at], n, src)) {
		drop(DROP_READ_FAILED);
		return -1;
	}
	st->len = at + n;
	return 0;
}

/* The message is handled: step over the rest of its payload, here or in the
 * buffers that follow (one loop iteration per message, not two). */
static __always_inline void skip_payload(struct pg_walk *w, struct pg_stage *st, __u64 rem)
{
	__u64 left = w->total - w->off;

	st->len = 0;
	if (rem <= left) {
		w->off += rem;
		st->rem = 0;
	} else {
		w->off = w->total;
		st->rem = rem - left;
	}
}

struct pg_walk_ctx {
	struct scratch *s;
	struct pg_conn *c;
};

/* One message (or the part of one in this buffer); 1 stops the walk. */
static long pg_step(__u32 i, void *arg)
{
	struct pg_walk_ctx *x = arg;
	struct scratch *s = x->s;
	struct pg_conn *c = x->c;
	struct pg_walk *w = &s->w;
	struct pg_stage *st;
	__u64 left, take, len, plen;
	__u32 want, have, n;
	__u8 type;

	if (w->off >= w->total)
		return 1;
	st = w->dir == DIR_OUT ? &c->out : &c->in;
	left = w->total - w->off;
	if (st->rem) {
		take = st->rem < left ? st->rem : left;
		st->rem -= take;
		w->off += take;
		return 0;
	}
	if (st->len < 5) {
		n = 5 - st->len;
		if (n > left)
			n = left;
		if (stage_add(s, st, w->buf + w->off, n))
			return 1;
		w->off += n;
		left -= n;
		if (st->len < 5)
			return 1; /* the rest of the head comes with the next buffer */
	}
	type = st->buf[0];
	len = bpf_ntohl(*(__u32 *)&st->buf[1]);
	if (!valid_type(type) || len < 4 || len > (1u << 30)) {
		st->len = 0;
		st->lost = 1; /* lost: start afresh at the next buffer */
		drop(DROP_DESYNC);
		return 1;
	}
	plen = len - 4;
	if (w->dir == DIR_IN) {
		pg_client_msg(s, c, type, w->buf + w->off, plen < left ? plen : left);
		skip_payload(w, st, plen);
		return 0;
	}
	want = server_wants(type, plen);
	have = st->len - 5;
	if (have < want) {
		n = want - have;
		if (n > left)
			n = left;
		if (stage_add(s, st, w->buf + w->off, n))
			return 1;
		w->off += n;
		if (st->len - 5 < want)
			return 1;
	}
	pg_server_msg(s, c, type, want);
	skip_payload(w, st, plen - want);
	return 0;
}

static __always_inline void walk(struct scratch *s, struct pg_conn *c)
{
	struct pg_walk_ctx x = {.s = s, .c = c};
	struct pg_stage *st = s->w.dir == DIR_OUT ? &c->out : &c->in;

	if (st->lost) { /* lost earlier: assume this buffer starts a message */
		st->lost = 0;
		st->rem = 0;
		st->len = 0;
	}
	bpf_loop(PG_MSGS_PER_BUF, pg_step, &x, 0);
	if (s->w.off < s->w.total && !st->lost) {
		st->lost = 1; /* more messages than we walk: resync at the next buffer */
		drop(DROP_DESYNC);
	}
}

/* ---- connection setup ------------------------------------------------------------- */

struct param_ctx {
	struct scratch *s;
};

static long param_step(__u32 i, void *arg)
{
	struct scratch *s = ((struct param_ctx *)arg)->s;
	char c;
	struct pg_params *sp = &s->sp;
	__u32 a, len;

	if (i >= sp->n)
		return 1;
	if (s->text[i & (PG_TEXT_LEN - 1)] != 0)
		return 0;
	len = i - sp->tok_start;
	if (len == 0 && !(sp->tok_index & 1))
		return 1; /* empty key: the list ended */
	a = sp->tok_start;
	if (!(sp->tok_index & 1)) {
		sp->key = 0;
		if (len == 8 && s->text[a & 1023] == 'd' && s->text[(a + 1) & 1023] == 'a' &&
		    s->text[(a + 2) & 1023] == 't' && s->text[(a + 3) & 1023] == 'a' &&
		    s->text[(a + 4) & 1023] == 'b' && s->text[(a + 5) & 1023] == 'a' &&
		    s->text[(a + 6) & 1023] == 's' && s->text[(a + 7) & 1023] == 'e')
			sp->key = 1;
		else if (len == 4 && s->text[a & 1023] == 'u' && s->text[(a + 1) & 1023] == 's' &&
			 s->text[(a + 2) & 1023] == 'e' && s->text[(a + 3) & 1023] == 'r')
			sp->key = 2;
		else if (len == 11 && s->text[a & 1023] == 'r' && s->text[(a + 1) & 1023] == 'e' &&
			 s->text[(a + 2) & 1023] == 'p' && s->text[(a + 10) & 1023] == 'n')
			sp->key = 3;
	} else if (sp->key == 3) {
		/* true, yes, 1, on or database; not false, no, 0 or off */
		c = s->text[a & 1023];
		sp->replication = c == 't' || c == 'y' || c == '1' || c == 'd' ||
				  (c == 'o' && s->text[(a + 1) & 1023] == 'n');
	} else if (sp->key == 1) {
		sp->db_start = a;
		sp->db_len = len;
	} else if (sp->key == 2) {
		sp->user_start = a;
		sp->user_len = len;
	}
	sp->tok_index++;
	sp->tok_start = i + 1;
	return 0;
}

/* The client's first packet: a startup message (its database, or user when
 * none is given, is the database) or a request for TLS/GSS encryption.
 * Returns 1 when the connection is not a PostgreSQL session. */
__noinline int pg_client_first(struct scratch *s, struct pg_conn *c, __u64 buf, __u64 total)
{
	struct pg_params *sp = &s->sp;
	struct param_ctx px = {.s = s};
	__u32 hdr[2], len, code, from, n, i;

	if (!s || !c)
		return 0;
	if (total < 8 || bpf_probe_read_user(hdr, sizeof(hdr), (void *)buf))
		return 1;
	len = bpf_ntohl(hdr[0]);
	code = bpf_ntohl(hdr[1]);
	if (len < 8 || len > PG_STARTUP_MAX)
		return 1;
	if (code == PG_SSL_CODE || code == PG_GSS_CODE) {
		c->state = PG_S_SSL_ASKED;
		return 0;
	}
	if (code != PG_PROTO_V3)
		return 1; /* a cancel request, or not PostgreSQL */
	n = load_text(s, buf + 8, (len < total ? len : total) - 8);
	__builtin_memset(sp, 0, sizeof(*sp));
	sp->n = n;
	bpf_loop(PG_TEXT_LEN, param_step, &px, 0);
	if (sp->replication)
		return 1; /* replication is not a client session: not followed */
	from = sp->db_len ? sp->db_start : sp->user_start;
	n = sp->db_len ? sp->db_len : sp->user_len;
	for (i = 0; i < PG_DB_LEN - 1; i++) {
		if (i >= n)
			break;
		c->database[i] = s->text[(from + i) & (PG_TEXT_LEN - 1)];
	}
	c->names = 0; /* numbered again at the next series */
	c->state = PG_S_AUTH;
	c->in.rem = len > total ? len - total : 0;
	return 0;
}

/* ---- tracepoints ---------------------------------------------------------------- */

static __always_inline int on_accept(long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pg_server *srv;

	if (ret < 0)
		return 0;
	srv = bpf_map_lookup_elem(&pg_servers, &tgid);
	if (srv) {
		srv->last_fd = ret;
		srv->pending = 1;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int pgsql_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int pgsql_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

/* The postmaster forks one backend per accepted connection, right after the
 * accept: the child serves that socket. With the socket hooks, which see no
 * accept, every child is tracked until its first socket read or write tells
 * a backend (it reads its client's startup packet) from the rest. */
SEC("tracepoint/sched/sched_process_fork")
int pgsql_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 parent = ctx->parent_pid, child = ctx->child_pid;
	struct pg_server *srv;
	struct pg_conn *c;
	struct zeroes *z;

	srv = bpf_map_lookup_elem(&pg_servers, &parent);
	if (!srv || (!socket_hooks && !srv->pending))
		return 0;
	srv->pending = 0;
	z = zeroes();
	if (!z)
		return 0;
	if (bpf_map_update_elem(&pg_conns, &child, &z->conn, BPF_ANY)) {
		drop(DROP_CONN_FULL);
		return 0;
	}
	c = bpf_map_lookup_elem(&pg_conns, &child);
	if (!c)
		return 0;
	tgid_add(pg_backends, child);
	c->fd = socket_hooks ? PG_FD_UNKNOWN : srv->last_fd;
	c->server = parent;
	bpf_get_current_comm(c->service, sizeof(c->service));
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int pgsql_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct pg_conn *c;

	if ((__u32)id != tgid)
		return 0; /* a thread, not the process */
	c = bpf_map_lookup_elem(&pg_conns, &tgid);
	/* A TLS session whose plaintext was not (all) seen: say so. */
	if (c && (c->tls == PG_TLS_PARTIAL || (c->tls && c->state == PG_S_TLS)))
		drop(DROP_TLS_MISSED);
	bpf_map_delete_elem(&pg_conns, &tgid);
	bpf_map_delete_elem(&pg_servers, &tgid);
	return 0;
}

/*
 * A TLS backend joined late: its startup packet, and the database it named,
 * went by encrypted. The process title PostgreSQL wrote over its argv names
 * the database too, and it is readable here, before the first statement this
 * session is seen to answer is counted.
 */
static __always_inline void title_database(struct scratch *s, struct pg_conn *c)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 start = BPF_CORE_READ(task, mm, arg_start), end = BPF_CORE_READ(task, mm, arg_end);
	__u32 n;

	if (end <= start)
		return;
	/* Enough for a cluster name, a 63-byte user and a 63-byte database. */
	n = load_text(s, start, end - start < 256 ? end - start : 256);
	if (n) {
		pg_title_database(s->text, n, &s->title, c->database, sizeof(c->database));
		c->names = 0;
	}
}

/* ret (> 0) bytes of backend tgid's client stream (dir) at user address buf:
 * from recv/send on fd, or for TLS (fd -1) from be_tls_read/be_tls_write; now:
 * their time if known (see tcp_now), else 0. */
static __always_inline int on_data(struct pg_conn *c, __u32 tgid, long ret, __s64 fd, __u64 buf,
				   __u32 dir, __u32 tls, __u64 now)
{
	struct scratch *s = scratch();
	__u8 answer;
	__u32 n;

	/* A TLS session (whole or joined late) is read through the uprobes only. */
	if (!s || (c->tls != 0) != tls || (fd >= 0 && c->fd != fd))
		return 0;
	s->w.buf = buf;
	s->w.win_len = 0; /* until the walk: reads before it go to user memory */

	switch (c->state) {
	case PG_S_STARTUP:
		if (dir == DIR_IN && pg_client_first(s, c, buf, ret))
			bpf_map_delete_elem(&pg_conns, &tgid);
		return 0;
	case PG_S_SSL_ASKED: /* the server's one-byte answer */
		if (dir != DIR_OUT || bpf_probe_read_user(&answer, 1, (void *)buf))
			return 0;
		if (answer == 'S') { /* from here on, the uprobes read it */
			c->state = PG_S_TLS;
			c->tls = PG_TLS_WHOLE;
		} else {
			c->state = answer == 'N' ? PG_S_STARTUP : PG_S_LOST;
		}
		return 0;
	case PG_S_TLS: /* the startup packet, unless the uprobes were attached after it */
		if (dir == DIR_IN && pg_client_first(s, c, buf, ret) == 0 && c->state != PG_S_TLS)
			return 0;
		c->state = PG_S_READY;
		c->tls = PG_TLS_PARTIAL; /* joined mid-session: what went before is lost */
		title_database(s, c);
		/* An answer to a statement we never saw start: no duration to count.
		 * The walk starts with the client's next message. */
		if (dir == DIR_OUT)
			return 0;
		break;
	case PG_S_AUTH:
	case PG_S_READY:
		break;
	default:
		return 0;
	}
	n = ret; /* > 0, and an int's worth at most */
	barrier_var(n);
	if (n > PG_WIN)
		n = PG_WIN;
	if (bpf_probe_read_user(s->win, n, (void *)buf) == 0)
		s->w.win_len = n;
	s->w.total = ret;
	s->w.off = 0;
	s->w.now = now ?: bpf_ktime_get_ns();
	s->w.tgid = tgid;
	s->w.dir = dir;
	if (dir == DIR_IN)
		c->last_read_ns = s->w.now;
	walk(s, c);
	return 0;
}

/* The backend the current process is, or 0: the first test of every read and
 * write on the host, so one load before any lookup. */
static __always_inline struct pg_conn *current_backend(long ret, __u32 *tgid)
{
	if (ret <= 0)
		return 0;
	*tgid = bpf_get_current_pid_tgid() >> 32;
	if (!tgid_in(pg_backends, *tgid))
		return 0;
	return bpf_map_lookup_elem(&pg_conns, tgid);
}

/* recvfrom/sendto, seen at syscall exit only: the fd and the buffer are still
 * in the registers the syscall was entered with. */
static __always_inline int exit_io(long ret, __u32 dir)
{
	struct pg_conn *c;
	struct pt_regs *regs;
	__u32 tgid;

	c = current_backend(ret, &tgid);
	if (!c)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return on_data(c, tgid, ret, (__u32)PT_REGS_PARM1_SYSCALL(regs),
		       PT_REGS_PARM2_SYSCALL(regs), dir, 0, 0);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int pgsql_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	return exit_io(ctx->ret, DIR_IN);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int pgsql_exit_sendto(struct trace_event_raw_sys_exit *ctx)
{
	return exit_io(ctx->ret, DIR_OUT);
}

/* A read or write on socket sk, inside its syscall. */
static __always_inline int on_sock_io(struct sock *sk, int ret, int flags, __u32 dir)
{
	struct pt_regs *regs;
	struct pg_conn *c;
	__u32 tgid, fd;

	c = current_backend(ret, &tgid);
	if (!c || (flags & MSG_PEEK) || sk->sk_type != SOCK_STREAM)
		return 0;
	regs = current_regs(bpf_get_current_task_btf());
	/* recv() and send(): anything else is not PostgreSQL talking to its client. */
	if (regs->orig_ax != 45 /* recvfrom */ && regs->orig_ax != 44 /* sendto */)
		return 0;
	fd = PT_REGS_PARM1_SYSCALL(regs);
	if (c->fd == PG_FD_UNKNOWN) {
		/* A backend's first read is its client's startup packet; a child
		 * whose first stream socket it writes to is a client itself (a
		 * WAL receiver, a replication worker): not followed. */
		if (dir != DIR_IN) {
			bpf_map_delete_elem(&pg_conns, &tgid);
			return 0;
		}
		c->fd = fd;
	}
	return on_data(c, tgid, ret, fd, PT_REGS_PARM2_SYSCALL(regs), dir, 0, tcp_now(sk, flags));
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(pgsql_sock_recv, struct sock *sk, int ret, int flags)
{
	return on_sock_io(sk, ret, flags, DIR_IN);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(pgsql_sock_send, struct sock *sk, int ret, int flags)
{
	return on_sock_io(sk, ret, flags, DIR_OUT);
}

/* ---- TLS sessions: uprobes on the server binary's be_tls_read/be_tls_write -------- */

static __always_inline int tls_enter(__u64 buf)
{
	struct pg_conn *c;
	struct pg_args *a;
	__u32 tgid;

	c = current_backend(1, &tgid);
	if (!c)
		return 0;
	/* Only TLS sessions call be_tls_*: a backend followed as plaintext (one
	 * adopted from /proc, whose TLS began before its server was found) is
	 * read here from now on, and its encrypted socket bytes no longer. */
	if (!c->tls) {
		c->tls = PG_TLS_PARTIAL;
		if (c->state != PG_S_READY)
			c->state = PG_S_TLS;
	}
	a = bpf_task_storage_get(&pg_tls_args, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!a) {
		drop(DROP_MAP_FULL);
		return 0;
	}
	a->buf = buf;
	a->active = 1;
	return 0;
}

static __always_inline int tls_exit(long ret, __u32 dir)
{
	struct pg_args *a;
	struct pg_conn *c;
	__u32 tgid;

	a = bpf_task_storage_get(&pg_tls_args, bpf_get_current_task_btf(), 0, 0);
	if (!a || !a->active)
		return 0;
	a->active = 0;
	c = current_backend(ret, &tgid);
	return c ? on_data(c, tgid, ret, -1, a->buf, dir, 1, 0) : 0;
}

/* ssize_t be_tls_read(Port *port, void *ptr, size_t len, int *waitfor) */
SEC("uprobe")
int BPF_KPROBE(pgsql_tls_read, void *port, void *ptr)
{
	return tls_enter((__u64)ptr);
}

SEC("uretprobe")
int BPF_KRETPROBE(pgsql_tls_read_ret, long ret)
{
	return tls_exit(ret, DIR_IN);
}

/* ssize_t be_tls_write(Port *port, void *ptr, size_t len, int *waitfor) */
SEC("uprobe")
int BPF_KPROBE(pgsql_tls_write, void *port, void *ptr)
{
	return tls_enter((__u64)ptr);
}

SEC("uretprobe")
int BPF_KRETPROBE(pgsql_tls_write_ret, long ret)
{
	return tls_exit(ret, DIR_OUT);
}

/* ---- rare events: USDT -------------------------------------------------------------- */

SEC("usdt")
int BPF_USDT(pgsql_lock_wait_start)
{
	__u32 tid = bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	if (bpf_map_update_elem(&pg_lockwait, &tid, &now, BPF_ANY))
		drop(DROP_MAP_FULL);
	return 0;
}

SEC("usdt")
int BPF_USDT(pgsql_lock_wait_done)
{
	__u64 id = bpf_get_current_pid_tgid(), *start, now = bpf_ktime_get_ns();
	__u32 tid = id, tgid = id >> 32;
	struct scratch *s = scratch();
	struct pg_conn *c;

	start = bpf_map_lookup_elem(&pg_lockwait, &tid);
	if (!start)
		return 0;
	c = bpf_map_lookup_elem(&pg_conns, &tgid);
	if (c && s && c->state == PG_S_READY)
		hist_add(&pg_hist, conn_key(s, c, PG_K_LOCK_WAIT, 0),
			 now > *start ? now - *start : 0);
	bpf_map_delete_elem(&pg_lockwait, &tid);
	return 0;
}

SEC("usdt")
int BPF_USDT(pgsql_deadlock)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct scratch *s = scratch();
	struct pg_conn *c;

	c = bpf_map_lookup_elem(&pg_conns, &tgid);
	if (c && s && c->state == PG_S_READY)
		count_add(conn_key(s, c, PG_K_DEADLOCK, 0));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
