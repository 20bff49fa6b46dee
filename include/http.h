/* SPDX-License-Identifier: MIT */
/* HTTP/1.x collector: what bpf/http.bpf.c and user/http.c share. */
#ifndef REDSCOPE_HTTP_H
#define REDSCOPE_HTTP_H

#include "hist.h"

#define HTTP_SERVICE_LEN 16  /* TASK_COMM_LEN */
#define HTTP_EP_LEN	 96  /* normalized endpoint, NUL included */
#define HTTP_EP_MASK	 127 /* endpoint indexes are masked with this for the verifier */
#define HTTP_EP_PAD	 (HTTP_EP_MASK + 1 - HTTP_EP_LEN)
#define HTTP_TARGET_SCAN 256	       /* raw request-target bytes examined */
#define HTTP_WINDOW	 1024	       /* bytes of one buffer parsed at a time (power of 2) */
#define HTTP_PIPELINE	 8	       /* requests queued on one connection (power of 2) */
#define HTTP_PER_BUFFER	 HTTP_PIPELINE /* requests or responses parsed out of one buffer */
#define HTTP_MAX_IOV	 8	       /* iovec entries walked in readv/writev/msghdr */
#define HTTP_OTHER	 "_other"      /* endpoint for the cap and unusable paths */

enum http_method {
	HTTP_M_OTHER = 0,
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_POST,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_PATCH,
	HTTP_M_OPTIONS,
	HTTP_M_CONNECT,
	HTTP_M_TRACE,
	HTTP_M__MAX,
};

#define HTTP_METHOD_NAMES                                                                          \
	{                                                                                          \
		"_OTHER", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT",   \
		    "TRACE",                                                                       \
	}

/* http_endpoints: (service, endpoint) -> endpoint id, so the other maps stay small. */
struct http_ep_key {
	char service[HTTP_SERVICE_LEN];
	char endpoint[HTTP_EP_LEN];
};

/* http_services: per service, how many endpoints it has been given. */
struct http_service {
	__u64 nr_endpoints;
};

/* http_stats (per-CPU): one series per (endpoint, method, status). */
struct http_stats_key {
	__u32 endpoint_id;
	__u16 method;
	__u16 status;
};

/* Non-cumulative bucket counts; the request count is the sum of dur[]. */
struct http_stats {
	__u64 dur_sum_ns;
	__u64 req_bytes_sum;
	__u64 resp_bytes_sum;
	__u64 dur[HIST_SLOTS];
	__u64 req_bytes[HIST_SLOTS];
	__u64 resp_bytes[HIST_SLOTS];
};

/* http_hot (per-CPU): a series' counts, in the slot its key hashes to. */
#define HTTP_HOT_SLOTS 256 /* power of 2 */
struct http_hot {
	struct http_stats_key key; /* endpoint_id 0: a free slot */
	struct http_stats st;
} __attribute__((aligned(64)));

/* http_paths: recent request paths per CPU (see bpf/http.bpf.c). */
#define HTTP_PATH_CACHE 256 /* power of 2 */

static inline __u32 http_hot_slot(const struct http_stats_key *k)
{
	__u64 v = (__u64)k->endpoint_id | (__u64)k->method << 32 | (__u64)k->status << 48;

	return (v * 0x9e3779b97f4a7c15ULL) >> 56; /* HTTP_HOT_SLOTS */
}

/* http_conns (syscall hooks): one accepted socket, keyed by (tgid, fd). */
struct http_conn_key {
	__u32 tgid;
	__u32 fd;
};

/* What the http_socks iterator writes per watched socket. */
struct http_inflight {
	char service[HTTP_SERVICE_LEN];
	__u32 count;	/* requests read and not yet answered */
	__u32 in_table; /* its state is in http_sock_table, not its storage */
};

/* A request read but not yet answered. */
struct http_req {
	__u64 start_ns; /* time of the read that brought its first byte (see walk_now) */
	__u64 bytes;
	__u32 endpoint_id; /* 0: could not be recorded (already counted as a drop) */
	__u16 method;
	__u16 pad;
};

enum http_req_state {
	REQ_IDLE = 0, /* the next byte read starts a new request */
	REQ_HEADERS,  /* inside the tail request's headers, end not seen yet */
	REQ_BODY,     /* req_remaining body bytes of the tail request to come */
	REQ_UNKNOWN,  /* length unknown (chunked upload): ends when its response starts */
};

enum http_resp_mode {
	RESP_NONE = 0, /* the head request's response has not started */
	RESP_LENGTH,   /* ends after resp_expected bytes */
	RESP_CHUNKED,  /* ends with the write that ends in the last chunk */
	RESP_UNKNOWN,  /* ends when the next request starts or the connection closes */
};

struct http_conn {
	__u64 last_write_ns; /* latest write of the head response that may have been its last */
	__u64 resp_bytes;
	__u64 resp_expected;
	__u64 req_remaining;
	char service[HTTP_SERVICE_LEN];
	__u16 status; /* of the head request's response, 0 before it starts */
	__u8 resp_mode;
	__u8 req_state;
	__u8 head;  /* index of the oldest queued request */
	__u8 count; /* queued requests */
	__u8 is_http;
	__u8 ignore; /* not an HTTP server socket, or redscope's own */
	struct http_req q[HTTP_PIPELINE];
};

_Static_assert(sizeof(struct http_ep_key) == 112, "http_ep_key layout");
_Static_assert(sizeof(struct http_stats_key) == 8, "http_stats_key layout");
_Static_assert(sizeof(struct http_stats) == 24 + 3 * 8 * HIST_SLOTS, "http_stats layout");
_Static_assert(HTTP_HOT_SLOTS == 256, "http_hot_slot takes the top 8 bits");
_Static_assert(sizeof(struct http_req) == 24, "http_req layout");
_Static_assert(sizeof(struct http_conn) == 56 + 24 * HTTP_PIPELINE, "http_conn layout");

#endif
