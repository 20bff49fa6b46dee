// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP/1.x server metrics for every process, on one of two sets of hooks that
 * feed the same parser (user/http.c loads one, see --http.hooks):
 *
 * socket hooks (Linux 6.5+), state in the socket's own storage (http_socks):
 *   inet_sock_set_state     a TCP handshake a server completed: watch it;
 *                           the server closing it: end a close-framed response
 *   sock_recv_length        a read on a socket: parse requests
 *   sock_send_length        a write: parse responses; on the last byte, count
 *                           the request into http_stats
 * syscall hooks (any kernel), state in a hash by (process, fd) (http_conns):
 *   accept/accept4 (exit), the nine read and write syscalls (exit), close (entry)
 *
 * Either way the bytes are found from the registers the syscall was entered
 * with, so nothing runs at syscall entry. Everything is aggregated here, in
 * exact buckets; userspace only reads maps.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "http.h"
#include "lib/drops.bpf.h"
#include "lib/sock_io.bpf.h"
#include "tgid_bits.h"
#include "http_parse.h"

#define EEXIST 17

/* Only the fields we read: naming vmlinux's whole task_struct would pull types
 * into our BTF that clang 14 encodes in a way the kernel rejects. CO-RE still
 * matches it against the running kernel's task_struct. */
struct task_struct___rs {
	struct task_struct___rs *group_leader;
	char comm[16];
	unsigned int flags;
} __attribute__((preserve_access_index));

/* Set by userspace before load; bounds in nanoseconds and bytes. */
const volatile __u64 dur_bounds[HIST_MAX_BOUNDS] = {};
const volatile __u32 nr_dur_bounds = 0;
const volatile __u64 size_bounds[HIST_MAX_BOUNDS] = {};
const volatile __u32 nr_size_bounds = 0;
const volatile __u32 max_endpoints = 100;
/* redscope's own web server: its scrapes are not the services' traffic. */
const volatile __u32 self_tgid = 0;
/* Slots of http_sock_table (--http.conn-slots): a power of 2, or 0 for none. */
const volatile __u32 sock_slots = 0;

/*
 * Connection state. With syscall hooks: in http_conns, a hash by (process, fd).
 * With socket hooks, in one of two homes:
 *   http_sock_table  a TCP connection a server accepted takes the slot its
 *                    socket cookie hashes to at the handshake, and frees it
 *                    when the socket closes: found in one load;
 *   http_socks       the socket's own storage, for a connection whose slot
 *                    another holds and for unix sockets (no close event would
 *                    free a slot): found by a helper that makes three
 *                    dependent loads, each a cache miss on a busy server.
 * Every watched socket also has an http_socks entry, empty when its state is
 * in the table: one load of sk->sk_bpf_storage then tells the sockets nobody
 * watches (clients, other protocols) from ours.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct http_conn);
} http_socks SEC(".maps");

struct sock_slot {
	__u64 cookie; /* the socket's cookie, 0: free */
	struct http_conn conn;
} __attribute__((aligned(64))); /* the cookie and the state's head share a cache line */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* page-aligned, so are the slots */
	__uint(max_entries, 1);		   /* set by userspace: sock_slots */
	__type(key, __u32);
	__type(value, struct sock_slot);
} http_sock_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* set to 1 by userspace when unused */
	__type(key, struct http_conn_key);
	__type(value, struct http_conn);
} http_conns SEC(".maps");

/* Where a read or write syscall's data is. */
enum io_kind { IO_FLAT = 0, IO_IOV, IO_NONE };
struct io_args {
	__u64 buf; /* buffer, or iovec array */
	__u64 iovcnt;
	__u32 kind;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct http_ep_key);
	__type(value, __u32);
} http_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[HTTP_SERVICE_LEN]);
	__type(value, struct http_service);
} http_services SEC(".maps");

/* Endpoint id allocator: ids start at 1. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} http_ep_seq SEC(".maps");

/* Entries are only created for series that occur, hence no preallocation:
 * per-CPU values would otherwise cost max_entries * CPUs up front. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct http_stats_key);
	__type(value, struct http_stats);
} http_stats SEC(".maps");

/*
 * The first home of a series' counts: a per-CPU table direct-mapped by a hash
 * of the series key, each slot claimed for good by the first series to land
 * there. A series whose slot another one holds counts in http_stats instead;
 * userspace adds both up per key. Why: a slot here is found in one load, an
 * http_stats entry in three dependent ones, on every request. Only programs
 * in task context use it (they never interrupt one another on a CPU), so a
 * claim is never torn; the state tracepoint, which may run in softirq, counts
 * into http_stats.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HTTP_HOT_SLOTS); /* per CPU: userspace multiplies */
	__type(key, __u32);
	__type(value, struct http_hot);
} http_hot SEC(".maps");

/* Per-CPU room for what does not fit the 512-byte stack. */
struct scratch {
	char buf[HTTP_WINDOW];
	struct http_head head; /* scanner state: in a map, see http_parse.h */
	struct http_norm norm;
	struct http_ep_key ek;
	char pad[HTTP_EP_PAD];	     /* endpoint writes are masked to HTTP_EP_MASK */
	__u64 path[HTTP_PATH_WORDS]; /* the request's path key, when path_words > 0 */
	__s32 path_words;	     /* how many of its words are not zero */
	__u32 path_slot;	     /* its place in http_paths */
	__u32 path_id;		     /* its endpoint id when http_paths knew it, else 0 */
} __attribute__((aligned(64)));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* per CPU: userspace multiplies */
	__type(key, __u32);
	__type(value, struct scratch);
} http_scratch SEC(".maps");

/*
 * Recent request paths and the endpoint id each got: a request whose path is
 * here skips normalization and the endpoint lookup. Per CPU, so no entry is
 * ever read while another CPU writes it; direct-mapped by a hash of service and
 * path, and an entry is used only when both match it whole. Ids never change
 * once given (endpoints are never removed), so an entry cannot go stale.
 */
struct path_entry {
	__u64 service[2];
	__u32 endpoint_id; /* 0: empty */
	__s32 path_words;
	__u64 path[HTTP_PATH_WORDS];
} __attribute__((aligned(64)));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, HTTP_PATH_CACHE); /* per CPU: userspace multiplies */
	__type(key, __u32);
	__type(value, struct path_entry);
} http_paths SEC(".maps");

/* Never written: the initial value of new entries. */
struct zeroes {
	struct http_stats stats;
	struct http_conn conn;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct zeroes);
} http_zero SEC(".maps");

/* This CPU's entry at slot of a table of per_cpu entries per CPU. A plain
 * array, not a per-CPU one: its entries are found by arithmetic alone, where
 * a per-CPU array first loads the entry's pointer. */
static __always_inline void *cpu_entry(void *map, __u32 per_cpu, __u32 slot)
{
	__u32 key = bpf_get_smp_processor_id() * per_cpu + slot;

	return bpf_map_lookup_elem(map, &key);
}

static __always_inline struct zeroes *zeroes(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&http_zero, &zero);
}

/*
 * The buckets of a request's duration, request size and response size among
 * their bounds, 5 bits each. A global function on purpose: the verifier checks
 * it once and its caller sees one result, instead of every exit of each loop
 * multiplied by the next one's; and one call, not three (calls cost here).
 */
__noinline __u32 http_buckets(__u64 dur, __u64 req_bytes, __u64 resp_bytes)
{
	return hist_bucket(dur_bounds, nr_dur_bounds, dur) |
	       hist_bucket(size_bounds, nr_size_bounds, req_bytes) << 5 |
	       hist_bucket(size_bounds, nr_size_bounds, resp_bytes) << 10;
}

_Static_assert(HIST_SLOTS <= 32, "a bucket index fits 5 bits");

/* Bucket i (0, 1, 2) of an http_buckets() result. */
static __always_inline __u32 bucket(__u32 packed, __u32 i)
{
	__u32 b = (packed >> (5 * i)) & 31;

	return b < HIST_SLOTS ? b : HIST_SLOTS - 1;
}

/* ---- endpoints ------------------------------------------------------------- */

static __always_inline __u32 new_endpoint_id(struct http_ep_key *ek)
{
	__u32 zero = 0, id, *found;
	__u64 *seq;
	long err;

	seq = bpf_map_lookup_elem(&http_ep_seq, &zero);
	if (!seq)
		return 0;
	id = __sync_fetch_and_add(seq, 1) + 1;
	err = bpf_map_update_elem(&http_endpoints, ek, &id, BPF_NOEXIST);
	if (!err)
		return id;
	if (err == -EEXIST) { /* another CPU interned it first */
		found = bpf_map_lookup_elem(&http_endpoints, ek);
		if (found)
			return *found;
	}
	drop(DROP_MAP_FULL);
	return 0;
}

/* The id of (service, endpoint) in ek, interning it within the per-service cap. */
static __always_inline __u32 endpoint_id(struct http_ep_key *ek)
{
	struct http_service *svc, fresh = {};
	__u32 *id;

	id = bpf_map_lookup_elem(&http_endpoints, ek);
	if (id)
		return *id;

	svc = bpf_map_lookup_elem(&http_services, ek->service);
	if (!svc) {
		bpf_map_update_elem(&http_services, ek->service, &fresh, BPF_NOEXIST);
		svc = bpf_map_lookup_elem(&http_services, ek->service);
		if (!svc) {
			drop(DROP_MAP_FULL);
			return 0;
		}
	}
	if (ek->endpoint[0] != '_' &&
	    __sync_fetch_and_add(&svc->nr_endpoints, 1) < (__u64)max_endpoints)
		return new_endpoint_id(ek);

	/* Over the cap: the request still counts, under "_other". */
	__builtin_memset(ek->endpoint, 0, sizeof(ek->endpoint));
	__builtin_memcpy(ek->endpoint, HTTP_OTHER, sizeof(HTTP_OTHER));
	id = bpf_map_lookup_elem(&http_endpoints, ek);
	if (id)
		return *id;
	return new_endpoint_id(ek);
}

/* ---- reading the syscall's buffer ------------------------------------------ */

/*
 * Copies up to HTTP_WINDOW bytes found at byte offset off of the syscall's
 * data (total bytes long) into dst, staying inside one iovec. Returns the
 * number of bytes copied.
 */
static __always_inline __u32 load_window(const struct io_args *a, __u64 off, __u64 total, char *dst)
{
	__u64 src = 0, len = 0, left = total - off;
	struct iovec iov;
	__u32 j;

	if (off >= total || a->kind == IO_NONE)
		return 0;
	if (a->kind == IO_FLAT) {
		src = a->buf + off;
		len = left;
	} else {
		for (j = 0; j < HTTP_MAX_IOV; j++) {
			if (j >= a->iovcnt)
				return 0;
			if (bpf_probe_read_user(&iov, sizeof(iov),
						(void *)(a->buf + j * sizeof(iov)))) {
				drop(DROP_READ_FAILED);
				return 0;
			}
			if (off < iov.iov_len) {
				src = (__u64)iov.iov_base + off;
				len = iov.iov_len - off;
				break;
			}
			off -= iov.iov_len;
		}
		if (!src)
			return 0;
		if (len > left)
			len = left;
	}
	if (len > HTTP_WINDOW)
		len = HTTP_WINDOW;
	if (bpf_probe_read_user(dst, len, (void *)src)) {
		drop(DROP_READ_FAILED);
		return 0;
	}
	return len;
}

/* ---- counting a finished request -------------------------------------------- */

/* Where the series of key counts on this CPU; *shared says it is an http_stats
 * entry, which the softirq state program may be adding to at the same time. */
static __always_inline struct http_stats *stats_of(struct http_stats_key *key, int task_ctx,
						   int *shared)
{
	struct http_stats *st;
	struct http_hot *hot;
	struct zeroes *z;
	__u32 slot;

	*shared = 0;
	if (task_ctx) {
		slot = http_hot_slot(key);
		hot = cpu_entry(&http_hot, HTTP_HOT_SLOTS, slot);
		if (hot) {
			if (!hot->key.endpoint_id)
				hot->key = *key;
			if (hot->key.endpoint_id == key->endpoint_id &&
			    hot->key.method == key->method && hot->key.status == key->status)
				return &hot->st;
		}
	}
	*shared = 1;
	st = bpf_map_lookup_elem(&http_stats, key);
	if (st)
		return st;
	z = zeroes();
	if (!z)
		return 0;
	bpf_map_update_elem(&http_stats, key, &z->stats, BPF_NOEXIST);
	st = bpf_map_lookup_elem(&http_stats, key);
	if (!st)
		drop(DROP_MAP_FULL);
	return st;
}

/*
 * A program in task context can be interrupted on its CPU by the softirq state
 * program counting into the same http_stats entry: a plain increment there
 * could then lose the other's count. http_hot slots are only ever written in
 * task context, so they keep the cheaper plain increments.
 */
static __always_inline void add(__u64 *counter, __u64 v, int shared)
{
	if (shared)
		__sync_fetch_and_add(counter, v);
	else
		*counter += v;
}

static __always_inline void record(const struct http_req *req, __u16 status, __u64 end_ns,
				   __u64 resp_bytes, int task_ctx)
{
	struct http_stats_key key = {
	    .endpoint_id = req->endpoint_id, .method = req->method, .status = status};
	struct http_stats *st;
	__u64 dur;
	__u32 b;
	int shared;

	st = stats_of(&key, task_ctx, &shared);
	if (!st)
		return;
	dur = end_ns > req->start_ns ? end_ns - req->start_ns : 0;
	b = http_buckets(dur, req->bytes, resp_bytes);
	add(&st->dur[bucket(b, 0)], 1, shared);
	add(&st->dur_sum_ns, dur, shared);
	add(&st->req_bytes[bucket(b, 1)], 1, shared);
	add(&st->req_bytes_sum, req->bytes, shared);
	add(&st->resp_bytes[bucket(b, 2)], 1, shared);
	add(&st->resp_bytes_sum, resp_bytes, shared);
}

/* The oldest request's response is complete: count it and dequeue it.
 * task_ctx: called from a read or write (see http_hot). */
static __always_inline void complete_head(struct http_conn *c, int task_ctx)
{
	struct http_req *req = &c->q[c->head & (HTTP_PIPELINE - 1)];

	if (req->endpoint_id) /* 0: its endpoint could not be stored, already a drop */
		record(req, c->status, c->last_write_ns, c->resp_bytes, task_ctx);
	c->head = (c->head + 1) & (HTTP_PIPELINE - 1);
	c->count--;
	/* Back to slot 0 when empty: a connection that does not pipeline then
	 * only ever uses the slot in the cache line next to its state. */
	if (!c->count)
		c->head = 0;
	c->status = 0;
	c->resp_mode = RESP_NONE;
	c->resp_bytes = 0;
	c->resp_expected = 0;
}

static __always_inline struct http_req *tail_req(struct http_conn *c)
{
	if (!c->count)
		return 0;
	return &c->q[(c->head + c->count - 1) & (HTTP_PIPELINE - 1)];
}

/* ---- requests ---------------------------------------------------------------- */

/*
 * Parses the request head at the start of s->buf (n bytes): returns the method,
 * or -1 when the bytes start no request; the endpoint goes to s->ek.endpoint
 * and the header framing to s->head. Global, so the verifier checks it once
 * and its callers see a plain number instead of one state per parse outcome.
 */
__noinline int http_parse_request(struct scratch *s, __u32 n)
{
	struct path_entry *e;
	__u64 svc[2], h;
	__u32 target = 0, i, same;
	int method, nw;

	if (!s)
		return -1;
	method = http_parse_method(s->buf, n, &target);
	if (method < 0)
		return -1;

	s->path_id = 0;
	nw = http_path_key(s->buf, target, n, s->path);
	s->path_words = nw;
	if (nw > 0) {
		__builtin_memcpy(svc, s->ek.service, sizeof(svc));
		h = (svc[0] ^ (svc[1] * 0x9e3779b97f4a7c15ULL)) * 0x9e3779b97f4a7c15ULL;
		for (i = 0; i < HTTP_PATH_WORDS && i < nw; i++)
			h = (h ^ s->path[i]) * 0x9e3779b97f4a7c15ULL;
		s->path_slot = h >> 56; /* HTTP_PATH_CACHE entries */
		e = cpu_entry(&http_paths, HTTP_PATH_CACHE, s->path_slot);
		if (e && e->endpoint_id && e->path_words == nw && e->service[0] == svc[0] &&
		    e->service[1] == svc[1]) {
			same = 1;
			for (i = 0; i < HTTP_PATH_WORDS && i < nw; i++)
				if (e->path[i] != s->path[i])
					same = 0;
			if (same)
				s->path_id = e->endpoint_id;
		}
	}
	if (!s->path_id) {
		__builtin_memset(s->ek.endpoint, 0, sizeof(s->ek.endpoint));
		if (http_normalize(s->buf, target, n, s->ek.endpoint, &s->norm)) {
			__builtin_memset(s->ek.endpoint, 0, sizeof(s->ek.endpoint));
			__builtin_memcpy(s->ek.endpoint, HTTP_OTHER, sizeof(HTTP_OTHER));
		}
	}
	http_scan_head(s->buf, 0, n, &s->head);
	return method;
}

/* The request in s got endpoint id: remember its path (see http_paths). */
static __always_inline void remember_path(struct scratch *s, __u32 id)
{
	struct path_entry *e;

	if (s->path_words <= 0 || !id)
		return;
	e = cpu_entry(&http_paths, HTTP_PATH_CACHE, s->path_slot);
	if (!e)
		return;
	__builtin_memcpy(e->service, s->ek.service, sizeof(e->service));
	__builtin_memcpy(e->path, s->path, sizeof(e->path));
	e->path_words = s->path_words;
	e->endpoint_id = id;
}

/* After a request's headers: what of its body is still to be read. */
static __always_inline void frame_request(struct http_conn *c, const struct http_head *h)
{
	if (h->chunked) {
		c->req_state = REQ_UNKNOWN;
	} else if (h->content_length > 0) {
		c->req_state = REQ_BODY;
		c->req_remaining = h->content_length;
	} else {
		c->req_state = REQ_IDLE;
	}
}

/* A new request may start at the window in s. Returns bytes consumed, or 0 to stop. */
static __always_inline __u64 start_request(struct http_conn *c, struct scratch *s, __u32 n,
					   __u64 now)
{
	struct http_req *req;
	int method;

	__builtin_memcpy(s->ek.service, c->service, sizeof(s->ek.service));
	method = http_parse_request(s, n);
	if (method < 0 || method >= HTTP_M__MAX) {
		if (!c->is_http) /* not an HTTP server socket: stop watching it */
			c->ignore = 1;
		return 0;
	}
	c->is_http = 1;

	/* Fallback end for a response whose end we could not see: the next
	 * request on a connection that does not pipeline. */
	if (c->count == 1 && c->status &&
	    (c->resp_mode == RESP_UNKNOWN || c->resp_mode == RESP_CHUNKED))
		complete_head(c, 1);

	if (c->count >= HTTP_PIPELINE) {
		drop(DROP_QUEUE_FULL);
		return 0;
	}
	req = &c->q[(c->head + c->count) & (HTTP_PIPELINE - 1)];
	req->start_ns = now;
	req->method = method;
	if (s->path_id) {
		req->endpoint_id = s->path_id;
	} else {
		req->endpoint_id = endpoint_id(&s->ek);
		remember_path(s, req->endpoint_id);
	}
	c->count++;

	if (!s->head.end) {
		req->bytes = n;
		c->req_state = REQ_HEADERS;
		return n;
	}
	req->bytes = s->head.end;
	frame_request(c, &s->head);
	return s->head.end;
}

/*
 * One syscall's buffer being walked, request by request (or response by
 * response). Only scalars: it is passed to global functions, which the
 * verifier checks once on their own instead of once per call site.
 */
struct walk {
	struct io_args a;
	__u64 total, off;
	__u64 now; /* the event's time: TCP's (see tcp_now), or 0 until walk_now() */
};

/* The event's time, read once and only when a request starts or a response
 * may end in it: a clock read costs more than a map lookup. */
static __always_inline __u64 walk_now(struct walk *w)
{
	if (!w->now)
		w->now = bpf_ktime_get_ns();
	return w->now;
}

/* One request (or a continuation of one) out of a read buffer; 1 stops the walk. */
__noinline int http_read_one(struct walk *w, struct http_conn *c)
{
	struct http_head *h;
	struct http_req *req;
	struct scratch *s;
	__u64 take, used;
	__u32 n;

	if (!w || w->off >= w->total)
		return 1;
	s = cpu_entry(&http_scratch, 1, 0);
	if (!c || !s)
		return 1;
	req = tail_req(c);
	if (c->req_state == REQ_BODY) {
		take = w->total - w->off;
		if (take > c->req_remaining)
			take = c->req_remaining;
		if (req)
			req->bytes += take;
		c->req_remaining -= take;
		w->off += take;
		if (!c->req_remaining)
			c->req_state = REQ_IDLE;
		return 0;
	}
	if (c->req_state == REQ_UNKNOWN) {
		if (req)
			req->bytes += w->total - w->off;
		return 1;
	}
	n = load_window(&w->a, w->off, w->total, s->buf);
	if (!n)
		return 1;
	if (c->req_state == REQ_HEADERS) {
		h = &s->head;
		http_scan_head(s->buf, 0, n, h);
		if (!h->end) {
			if (req)
				req->bytes += n;
			w->off += n;
			return 0;
		}
		if (req)
			req->bytes += h->end;
		w->off += h->end;
		frame_request(c, h);
		return 0;
	}
	used = start_request(c, s, n, walk_now(w));
	if (!used) {
		/* Bytes that start no request on an HTTP connection (an
		 * early-answered body, junk) belong to no new request. */
		if (c->is_http && req)
			req->bytes += w->total - w->off;
		return 1;
	}
	w->off += used;
	return 0;
}

/* ---- responses --------------------------------------------------------------- */

/* Did this write end with the last chunk ("0\r\n\r\n")? */
static __always_inline int ends_last_chunk(const struct io_args *a, __u64 total, struct scratch *s)
{
	if (total < 5 || load_window(a, total - 5, total, s->buf) != 5)
		return 0;
	return s->buf[0] == '0' && s->buf[1] == '\r' && s->buf[2] == '\n' && s->buf[3] == '\r' &&
	       s->buf[4] == '\n';
}

/* A response starts at this write's byte off. Returns bytes of header consumed
 * by an interim (1xx) response, 0 for a final response, -1 to stop. */
static __always_inline int start_response(struct http_conn *c, struct scratch *s, __u32 n)
{
	struct http_head *h;
	struct http_req *head = &c->q[c->head & (HTTP_PIPELINE - 1)];
	int status;

	status = http_parse_status(s->buf, n);
	if (status < 0)
		return -1;
	h = &s->head;
	http_scan_head(s->buf, 0, n, h);
	if (status < 200 && status != 101) /* 100 Continue and friends: not the answer */
		return h->end ? (int)h->end : -1;

	c->status = status;
	c->resp_bytes = 0;
	if (c->count == 1) /* whatever is read next is a new request */
		c->req_state = REQ_IDLE;
	if (!h->end) {
		c->resp_mode = RESP_UNKNOWN;
	} else if (head->method == HTTP_M_HEAD || status == 204 || status == 304 || status == 101) {
		c->resp_mode = RESP_LENGTH;
		c->resp_expected = h->end;
	} else if (h->chunked) {
		c->resp_mode = RESP_CHUNKED;
	} else if (h->content_length >= 0) {
		c->resp_mode = RESP_LENGTH;
		c->resp_expected = h->end + h->content_length;
	} else {
		c->resp_mode = RESP_UNKNOWN; /* ends with the connection */
	}
	return 0;
}

/* One response (or part of one) out of a write buffer; 1 stops the walk. */
__noinline int http_write_one(struct walk *w, struct http_conn *c)
{
	struct scratch *s;
	__u64 take, need;
	__u32 n;
	int interim;

	if (!w || w->off >= w->total)
		return 1;
	s = cpu_entry(&http_scratch, 1, 0);
	if (!c || !s || !c->count)
		return 1;
	if (c->resp_mode == RESP_NONE) {
		n = load_window(&w->a, w->off, w->total, s->buf);
		if (!n)
			return 1;
		interim = start_response(c, s, n);
		if (interim < 0)
			return 1;
		if (interim > 0) {
			w->off += interim;
			return 0;
		}
	}
	take = w->total - w->off;
	if (c->resp_mode == RESP_LENGTH) {
		need = c->resp_expected - c->resp_bytes;
		if (take < need) {
			c->resp_bytes += take;
			return 1;
		}
		c->resp_bytes += need;
		w->off += need;
		c->last_write_ns = walk_now(w);
		complete_head(c, 1);
		return 0;
	}
	/* Chunked, or ending with the connection: any write may be the last. */
	c->resp_bytes += take;
	c->last_write_ns = walk_now(w);
	if (c->resp_mode == RESP_CHUNKED && ends_last_chunk(&w->a, w->total, s))
		complete_head(c, 1);
	return 1;
}

/* ---- the hooks, common part ---------------------------------------------------- */

#define AF_UNIX	     1
#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD   0x00200000

/*
 * Where the bytes of the current read or write are in user memory: the
 * syscall that carries it, its arguments read back from the registers it was
 * entered with (x86_64 syscall numbers). sendfile, splice, io_uring and kernel
 * threads move bytes we cannot see: IO_NONE. Returns -1 when the msghdr cannot
 * be read.
 */
static __always_inline int io_args_of(struct task_struct___rs *task, struct pt_regs *regs,
				      struct io_args *a)
{
	struct user_msghdr m;

	a->kind = IO_NONE;
	if (task->flags & (PF_KTHREAD | PF_IO_WORKER))
		return 0;
	switch (regs->orig_ax) {
	case 0:	 /* read */
	case 1:	 /* write */
	case 44: /* sendto */
	case 45: /* recvfrom */
		a->kind = IO_FLAT;
		a->buf = PT_REGS_PARM2_SYSCALL(regs);
		break;
	case 19: /* readv */
	case 20: /* writev */
		a->kind = IO_IOV;
		a->buf = PT_REGS_PARM2_SYSCALL(regs);
		a->iovcnt = PT_REGS_PARM3_SYSCALL(regs);
		break;
	case 46: /* sendmsg */
	case 47: /* recvmsg */
		if (bpf_probe_read_user(&m, sizeof(m), (void *)PT_REGS_PARM2_SYSCALL(regs))) {
			drop(DROP_READ_FAILED);
			return -1;
		}
		a->kind = IO_IOV;
		a->buf = (__u64)m.msg_iov;
		a->iovcnt = m.msg_iovlen;
		break;
	}
	return 0;
}

/*
 * Whether ret more bytes on c need looking at, or only counting: a body of
 * known length (or of a response that ends with the connection) is counted
 * without finding its bytes, unless this read or write runs past its end.
 */
static __always_inline int needs_bytes(const struct http_conn *c, int ret, int is_write)
{
	if (is_write) {
		if (c->resp_mode == RESP_UNKNOWN)
			return 0;
		return c->resp_mode != RESP_LENGTH || ret > c->resp_expected - c->resp_bytes;
	}
	if (c->req_state == REQ_UNKNOWN)
		return 0;
	return c->req_state != REQ_BODY || ret > c->req_remaining;
}

/* ret bytes read from (or written to) watched connection c, by task within the
 * syscall whose registers are regs (both 0: fetched only if the bytes are
 * needed); now: the event's time if known, else 0. */
static __always_inline int on_io(struct http_conn *c, struct task_struct___rs *task,
				 struct pt_regs *regs, int ret, int is_write, __u64 now)
{
	struct task_struct___rs *cur;
	struct walk w = {.now = now};
	int r;

	if (c->ignore)
		return 0;
	if (!c->service[0]) { /* the first bytes: which process serves this socket */
		if (bpf_get_current_pid_tgid() >> 32 == self_tgid) {
			c->ignore = 1;
			return 0;
		}
		/* The process's name, not the thread's: worker threads rename themselves. */
		cur = (struct task_struct___rs *)bpf_get_current_task();
		BPF_CORE_READ_STR_INTO(&c->service, cur, group_leader, comm);
	}
	w.a.kind = IO_NONE;
	if (needs_bytes(c, ret, is_write)) {
		/* One task pointer for both: its flags are a direct load through it. */
		if (!task) {
			task = (struct task_struct___rs *)bpf_get_current_task_btf();
			regs = current_regs(task);
		}
		if (io_args_of(task, regs, &w.a))
			return 0;
		if (!is_write && w.a.kind == IO_NONE) {
			drop(DROP_READ_FAILED); /* request bytes we cannot read */
			return 0;
		}
	}
	w.total = ret;
	for (r = 0; r < HTTP_PER_BUFFER && w.off < w.total; r++) {
		if (is_write ? http_write_one(&w, c) : http_read_one(&w, c))
			return 0;
	}
	/* More requests (or responses) in one buffer than we walk: say so. */
	if (w.off < w.total)
		drop(DROP_QUEUE_FULL);
	return 0;
}

/* The server is closing c (or it was reset): a response that ends with the
 * connection ends here. */
static __always_inline void on_close(struct http_conn *c)
{
	if (c->ignore || !c->count || !c->status)
		return;
	/* Cut short (fewer bytes than its length said): it ends now. */
	if (c->resp_mode == RESP_LENGTH)
		c->last_write_ns = bpf_ktime_get_ns();
	complete_head(c, 0);
}

/* ---- socket hooks (Linux 6.5 and later) ----------------------------------------- */

/* The server's end of a unix stream connection: it carries the listener's
 * address (the client's end has none). TCP servers are found at handshake. */
static __always_inline int unix_server(struct sock *sk)
{
	struct unix_sock *u;

	if (sk->__sk_common.skc_family != AF_UNIX || sk->sk_type != SOCK_STREAM)
		return 0;
	u = bpf_skc_to_unix_sock(sk);
	return u && u->addr;
}

/* The slot of http_sock_table a socket with this cookie may hold. */
static __always_inline struct sock_slot *sock_slot(__u64 cookie)
{
	__u32 i = ((cookie * 0x9e3779b97f4a7c15ULL) >> 32) & (sock_slots - 1);

	return sock_slots ? bpf_map_lookup_elem(&http_sock_table, &i) : 0;
}

/* sk's slot if its state is in the table, else 0. The cookie is read, not
 * made: a socket without one was never given a slot. */
static __always_inline struct sock_slot *table_slot(struct sock *sk)
{
	__u64 cookie = sk->__sk_common.skc_cookie.counter;
	struct sock_slot *t;

	if (!cookie)
		return 0;
	t = sock_slot(cookie);
	return t && t->cookie == cookie ? t : 0;
}

/* A watched socket's state, wherever it lives (see http_sock_table). */
static __always_inline struct http_conn *sock_conn(struct sock *sk)
{
	struct sock_slot *t = table_slot(sk);

	return t ? &t->conn : bpf_sk_storage_get(&http_socks, sk, 0, 0);
}

/* A TCP connection that is not HTTP (or is redscope's own): its slot and
 * storage go, so its later reads and writes end at the first load. Not a unix
 * socket: its storage would be made again at its next read. */
static __always_inline void forget(struct sock *sk)
{
	struct sock_slot *t;

	if (sk->__sk_common.skc_family == AF_UNIX)
		return;
	t = table_slot(sk);
	if (t)
		t->cookie = 0;
	bpf_sk_storage_delete(&http_socks, sk);
}

static __always_inline int on_sock_io(struct sock *sk, int ret, int flags, int is_write)
{
	struct http_conn *c;

	if (ret <= 0 || (flags & MSG_PEEK))
		return 0;
	/* Most sockets carry no storage at all (clients, other protocols): one
	 * load says so. */
	c = sk->sk_bpf_storage ? sock_conn(sk) : 0;
	if (!c) {
		if (is_write || !unix_server(sk))
			return 0;
		c = bpf_sk_storage_get(&http_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!c) {
			drop(DROP_CONN_FULL);
			return 0;
		}
	}
	on_io(c, 0, 0, ret, is_write, tcp_now(sk, flags));
	if (c->ignore)
		forget(sk);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(http_sock_recv, struct sock *sk, int ret, int flags)
{
	return on_sock_io(sk, ret, flags, 0);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(http_sock_send, struct sock *sk, int ret, int flags)
{
	return on_sock_io(sk, ret, flags, 1);
}

/* TCP state changes: a connection a server accepted is watched from the end of
 * its handshake; the server closing it, shutting down writing, or a reset
 * ends a response that ends with the connection; closed, it frees its slot. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(http_sock_state, const struct sock *csk, const int oldstate, const int newstate)
{
	struct sock *sk = (struct sock *)csk;
	struct sock_slot *t;
	struct http_conn *c;
	struct zeroes *z;
	__u64 cookie;

	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		if (!bpf_sk_storage_get(&http_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE)) {
			drop(DROP_CONN_FULL);
			return 0;
		}
		/* Taken, the slot is this socket's until it closes; else its
		 * state stays in the storage just made. */
		cookie = bpf_get_socket_cookie(sk);
		t = sock_slot(cookie);
		z = zeroes();
		if (t && z && __sync_val_compare_and_swap(&t->cookie, 0, cookie) == 0)
			t->conn = z->conn;
		return 0;
	}
	if (newstate != TCP_FIN_WAIT1 && newstate != TCP_LAST_ACK && newstate != TCP_CLOSE)
		return 0;
	t = table_slot(sk);
	c = t ? &t->conn : bpf_sk_storage_get(&http_socks, sk, 0, 0);
	if (!c)
		return 0;
	on_close(c);
	if (newstate != TCP_CLOSE)
		return 0;
	c->count = 0; /* requests never answered: nothing to count */
	if (t)
		t->cookie = 0;
	return 0;
}

/* One record per watched socket, for the in-progress gauge (user/http.c). */
SEC("iter/bpf_sk_storage_map")
int http_iter_socks(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct http_conn *c = ctx->value;
	struct http_inflight rec = {};
	struct sock *sk = ctx->sk;
	struct sock_slot *t;

	if (!c || !sk)
		return 0;
	t = table_slot(sk);
	if (t) {
		c = &t->conn;
		rec.in_table = 1;
	}
	__builtin_memcpy(rec.service, c->service, sizeof(rec.service));
	rec.count = c->ignore ? 0 : c->count;
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/* ---- syscall hooks (older kernels) ---------------------------------------------- */

/* The processes that have accepted a connection since the agent started:
 * every other process's reads, writes and closes, most of a host's, end after
 * one load instead of a missed http_conns lookup. */
__u64 http_acceptors[TGID_BITS_WORDS];

static __always_inline int on_accept(long ret)
{
	struct http_conn_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = ret};
	struct zeroes *z;

	if (ret < 0 || key.tgid == self_tgid)
		return 0;
	tgid_add(http_acceptors, key.tgid);
	z = zeroes();
	if (!z)
		return 0;
	/* BPF_ANY: a reused fd starts from a clean state, never a stale request. */
	if (bpf_map_update_elem(&http_conns, &key, &z->conn, BPF_ANY))
		drop(DROP_CONN_FULL);
	return 0;
}

/* The end of a read or write on any fd: its fd is the syscall's first argument. */
static __always_inline int exit_io(long ret, int is_write)
{
	struct task_struct___rs *task;
	struct http_conn_key key;
	struct pt_regs *regs;
	struct http_conn *c;

	if (ret <= 0) /* errors and EAGAIN: nothing was transferred */
		return 0;
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	if (!tgid_in(http_acceptors, key.tgid))
		return 0;
	task = (struct task_struct___rs *)bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)task);
	key.fd = PT_REGS_PARM1_SYSCALL(regs);
	c = bpf_map_lookup_elem(&http_conns, &key);
	if (!c)
		return 0;
	on_io(c, task, regs, ret, is_write, 0);
	if (c->ignore) /* not HTTP: its later reads and writes end at the lookup */
		bpf_map_delete_elem(&http_conns, &key);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int http_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int http_exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept(ctx->ret);
}

#define EXIT_IO(name, syscall, is_write)                                                           \
	SEC("tracepoint/syscalls/sys_exit_" syscall)                                               \
	int name(struct trace_event_raw_sys_exit *ctx)                                             \
	{                                                                                          \
		return exit_io(ctx->ret, is_write);                                                \
	}

EXIT_IO(http_exit_read, "read", 0)
EXIT_IO(http_exit_recvfrom, "recvfrom", 0)
EXIT_IO(http_exit_readv, "readv", 0)
EXIT_IO(http_exit_recvmsg, "recvmsg", 0)
EXIT_IO(http_exit_write, "write", 1)
EXIT_IO(http_exit_sendto, "sendto", 1)
EXIT_IO(http_exit_writev, "writev", 1)
EXIT_IO(http_exit_sendmsg, "sendmsg", 1)
EXIT_IO(http_exit_sendfile, "sendfile64", 1)

/* close, at entry while the fd still names the socket. */
SEC("tracepoint/syscalls/sys_enter_close")
int http_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct http_conn_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = ctx->args[0]};
	struct http_conn *c;

	if (!tgid_in(http_acceptors, key.tgid))
		return 0;
	c = bpf_map_lookup_elem(&http_conns, &key);
	if (!c)
		return 0;
	on_close(c);
	bpf_map_delete_elem(&http_conns, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
