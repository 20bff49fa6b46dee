/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.x parsing that runs inside the BPF programs. It is plain C over a
 * window of HTTP_WINDOW bytes so the unit tests run the very same code in
 * userspace (with a bpf_loop stand-in). Byte scans go through bpf_loop: the
 * verifier checks the callback once instead of unrolling 1024 iterations.
 *
 * Scanner state (struct http_norm, struct http_head) must live in map memory
 * in BPF, not on the stack: the verifier tracks every stack value, and a
 * callback whose stack state changes each iteration is re-verified for each
 * one (180k instructions for one header scan); values in maps are unknown to
 * it, so the callback converges at once. The callbacks get the state through
 * a small context of pointers (struct http_scan) that does not change.
 */
#ifndef REDSCOPE_HTTP_PARSE_H
#define REDSCOPE_HTTP_PARSE_H

#include "http.h"

#define HTTP_MASK (HTTP_WINDOW - 1)
#define HB(b, i)  ((unsigned char)(b)[(i)&HTTP_MASK])

#include "bpf_loop_user.h"

/*
 * The 8 bytes at b[i & HTTP_MASK], little-endian. The window must have 8
 * readable bytes past its end (in BPF the scratch struct continues after the
 * buffer); bytes at or past n are stale and every caller bounds what it uses.
 */
static __always_inline __u64 http_word(const char *b, __u32 i)
{
#ifdef __bpf__
	/* One 8-byte load: clang would split an unaligned memcpy into eight byte
	 * loads, and the verifier allows unaligned loads from map values on
	 * architectures that handle them (x86, arm64). */
	return *(const __u64 *)(b + (i & HTTP_MASK));
#else
	__u64 w;

	__builtin_memcpy(&w, b + (i & HTTP_MASK), sizeof(w));
	return w;
#endif
}

static __always_inline int http_is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

#define HTTP_W3(a, b, c)		((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16)
#define HTTP_W4(a, b, c, d)		(HTTP_W3(a, b, c) | (__u64)(d) << 24)
#define HTTP_W5(a, b, c, d, e)		(HTTP_W4(a, b, c, d) | (__u64)(e) << 32)
#define HTTP_W6(a, b, c, d, e, f)	(HTTP_W5(a, b, c, d, e) | (__u64)(f) << 40)
#define HTTP_W7(a, b, c, d, e, f, g)	(HTTP_W6(a, b, c, d, e, f) | (__u64)(g) << 48)
#define HTTP_W8(a, b, c, d, e, f, g, h) (HTTP_W7(a, b, c, d, e, f, g) | (__u64)(h) << 56)

/*
 * A request line starts with a method token and a space, then a target
 * starting with '/', '*' or a scheme letter. Returns the method (unknown
 * tokens are HTTP_M_OTHER, so they cannot create series) and sets *target to
 * the target's offset, or returns -1 when b does not start a request.
 */
static __always_inline int http_parse_method(const char *b, __u32 n, __u32 *target)
{
	__u64 w;
	__u32 i, sp = 0;
	unsigned char c;

	for (i = 0; i < 24; i++) {
		if (i >= n)
			return -1;
		c = HB(b, i);
		if (c == ' ') {
			sp = i;
			break;
		}
		if ((c < 'A' || c > 'Z') && c != '-' && c != '_')
			return -1;
	}
	if (sp == 0 || sp + 1 >= n)
		return -1;
	c = HB(b, sp + 1);
	if (c != '/' && c != '*' && !(c >= 'a' && c <= 'z'))
		return -1;
	*target = sp + 1;

	/* Compare the method and its space as one word: no branch depends on the
	 * method's length, which keeps the verifier's work flat. Bytes past the
	 * space may be stale but are masked off. */
	w = http_word(b, 0);
	if ((w & 0xffffffffULL) == HTTP_W4('G', 'E', 'T', ' '))
		return HTTP_M_GET;
	if ((w & 0xffffffffULL) == HTTP_W4('P', 'U', 'T', ' '))
		return HTTP_M_PUT;
	if ((w & 0xffffffffffULL) == HTTP_W5('H', 'E', 'A', 'D', ' '))
		return HTTP_M_HEAD;
	if ((w & 0xffffffffffULL) == HTTP_W5('P', 'O', 'S', 'T', ' '))
		return HTTP_M_POST;
	if ((w & 0xffffffffffffULL) == HTTP_W6('P', 'A', 'T', 'C', 'H', ' '))
		return HTTP_M_PATCH;
	if ((w & 0xffffffffffffULL) == HTTP_W6('T', 'R', 'A', 'C', 'E', ' '))
		return HTTP_M_TRACE;
	if ((w & 0xffffffffffffffULL) == HTTP_W7('D', 'E', 'L', 'E', 'T', 'E', ' '))
		return HTTP_M_DELETE;
	if (w == HTTP_W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '))
		return HTTP_M_OPTIONS;
	if (w == HTTP_W8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '))
		return HTTP_M_CONNECT;
	return HTTP_M_OTHER;
}

/* "HTTP/1.x NNN" at b: the status code, or -1. */
static __always_inline int http_parse_status(const char *b, __u32 n)
{
	unsigned char d0, d1, d2;

	if (n < 12 || HB(b, 0) != 'H' || HB(b, 1) != 'T' || HB(b, 2) != 'T' || HB(b, 3) != 'P' ||
	    HB(b, 4) != '/' || HB(b, 5) != '1' || HB(b, 6) != '.' || HB(b, 8) != ' ')
		return -1;
	d0 = HB(b, 9);
	d1 = HB(b, 10);
	d2 = HB(b, 11);
	if (d0 < '1' || d0 > '5' || d1 < '0' || d1 > '9' || d2 < '0' || d2 > '9')
		return -1;
	return (d0 - '0') * 100 + (d1 - '0') * 10 + (d2 - '0');
}

/* ---- endpoint normalization ------------------------------------------------ */

/* What a bpf_loop callback gets: the window, an output, the scanner state. */
struct http_scan {
	const char *b;
	char *out;
	void *st;
};

struct http_norm {
	__u32 off, n;
	__u32 o;    /* next output byte */
	__u32 seg;  /* output offset where the current segment starts */
	__u32 slen; /* input length of the current segment */
	__u32 hi;   /* highest output offset written */
	__u8 digits, hex, uuid, overflow;
	int result; /* 1 while scanning, 0 done, -1 unusable */
};

static long http_norm_step(__u32 k, void *arg)
{
	struct http_scan *x = arg;
	struct http_norm *s = x->st;
	char *out = x->out;
	__u32 i = s->off + k;
	unsigned char c;
	int end;

	if (i >= s->n) {
		s->result = -1; /* the target runs past what we can see */
		return 1;
	}
	c = HB(x->b, i);
	end = c == ' ' || c == '?' || c == '#' || c == '\r' || c == '\n';
	if (end || c == '/') {
		/* Identifiers would make a series per object: fold them. */
		if (s->slen &&
		    (s->digits || (s->hex && s->slen >= 16) || (s->uuid && s->slen == 36))) {
			if (s->seg + 3 >= HTTP_EP_LEN) {
				s->result = -1;
				return 1;
			}
			out[s->seg & HTTP_EP_MASK] = ':';
			out[(s->seg + 1) & HTTP_EP_MASK] = 'i';
			out[(s->seg + 2) & HTTP_EP_MASK] = 'd';
			s->o = s->seg + 3;
			s->overflow = 0;
		}
		if (s->overflow) {
			s->result = -1;
			return 1;
		}
		if (end) {
			s->result = 0;
			return 1;
		}
		if (s->o >= HTTP_EP_LEN - 1) {
			s->result = -1;
			return 1;
		}
		out[s->o & HTTP_EP_MASK] = '/';
		s->o++;
		s->seg = s->o;
		s->slen = 0;
		s->digits = s->hex = s->uuid = 1;
		if (s->o > s->hi)
			s->hi = s->o;
		return 0;
	}
	/* Only printable ASCII reaches a label: hostile bytes cannot break the exposition. */
	if (c < 0x21 || c > 0x7e) {
		s->result = -1;
		return 1;
	}
	if (c < '0' || c > '9')
		s->digits = 0;
	if (!http_is_hex(c))
		s->hex = 0;
	if (s->slen == 8 || s->slen == 13 || s->slen == 18 || s->slen == 23) {
		if (c != '-')
			s->uuid = 0;
	} else if (!http_is_hex(c)) {
		s->uuid = 0;
	}
	s->slen++;
	if (s->o < HTTP_EP_LEN - 1) {
		out[s->o & HTTP_EP_MASK] = c;
		s->o++;
		if (s->o > s->hi)
			s->hi = s->o;
	} else {
		s->overflow = 1; /* may still fold into ":id" */
	}
	return 0;
}

/*
 * Writes the normalized endpoint of the request-target at b[off] into out
 * (HTTP_EP_LEN bytes zeroed by the caller, and room up to HTTP_EP_MASK that
 * is never written; st is scratch state): query string dropped, numeric,
 * UUID and long hex segments replaced by ":id". Returns 0, or -1 when the
 * target cannot be used (too long, cut, not origin-form, non-ASCII bytes).
 */
static __always_inline int http_normalize(const char *b, __u32 off, __u32 n, char *out,
					  struct http_norm *st)
{
	struct http_scan x = {.b = b, .out = out, .st = st};
	__u32 j;

	if (off >= n)
		return -1;
	if (HB(b, off) == '*') {
		out[0] = '*';
		return 0;
	}
	if (HB(b, off) != '/')
		return -1;
	__builtin_memset(st, 0, sizeof(*st));
	st->off = off;
	st->n = n;
	st->digits = st->hex = st->uuid = 1;
	st->result = 1;
	bpf_loop(HTTP_TARGET_SCAN, http_norm_step, &x, 0);
	if (st->result != 0)
		return -1;
	/* Clear what a folded identifier left behind. */
	for (j = 0; j < HTTP_EP_LEN; j++) {
		if (j >= st->hi)
			break;
		if (j >= st->o)
			out[j & HTTP_EP_MASK] = 0;
	}
	return 0;
}

/* ---- header block ---------------------------------------------------------- */

/*
 * The header scan runs once per request and once per response, so it moves a
 * line at a time and finds line ends eight bytes at a word (one bpf_loop
 * callback per HTTP_HEAD_LINES lines instead of one per byte).
 */
#define HTTP_HEAD_LINES 4
struct http_head {
	__u32 off, n;
	__u32 pos;	      /* next byte to look at */
	__u32 mid_line;	      /* pos is inside a line, not at its start */
	__u32 first;	      /* still on the request or status line */
	__u32 end;	      /* offset just past the blank line; 0 until seen */
	__s64 content_length; /* -1 when absent */
	__u8 chunked;	      /* Transfer-Encoding present: length unknown */
};

#define HTTP_ONES  0x0101010101010101ULL
#define HTTP_HIGHS 0x8080808080808080ULL
#define HTTP_LOWER 0x2020202020202020ULL /* ORed in: ASCII letters to lower case */

/* Non-zero when a byte of w is '\n'; the lowest flagged byte is exact. */
static __always_inline __u64 http_has_lf(__u64 w)
{
	__u64 v = w ^ (HTTP_ONES * '\n');

	return (v - HTTP_ONES) & ~v & HTTP_HIGHS;
}

/* Index of the lowest flagged byte of a non-zero http_has_lf() result: the
 * lowest flag, moved to bit 0 of its byte, times bytes 7..0 puts the byte's
 * index in the top byte (no branches, which cost more than the multiply). */
static __always_inline __u32 http_lowest_byte(__u64 t)
{
	return (((t & -t) >> 7) * 0x0001020304050607ULL) >> 56;
}

/* ---- path key ---------------------------------------------------------------- */

/*
 * A request's endpoint depends only on the bytes of its path, so the BPF side
 * remembers which endpoint id each recent path got and skips normalizing and
 * interning it again. The key is the path itself, compared whole: a cache hit
 * can never give another path's endpoint.
 */
#define HTTP_PATH_WORDS 8 /* paths under 64 bytes get a key */

/* Non-zero when a byte of w is below 0x21 (space, CR, LF, controls), '?' or
 * '#'. The lowest flagged byte is exact (borrows only flag bytes above it). */
static __always_inline __u64 http_path_stop(__u64 w)
{
	__u64 q = w ^ (HTTP_ONES * '?'), h = w ^ (HTTP_ONES * '#');

	return (((w - HTTP_ONES * 0x21) & ~w) | ((q - HTTP_ONES) & ~q) | ((h - HTTP_ONES) & ~h)) &
	       HTTP_HIGHS;
}

/*
 * The path of the request-target at b[t] (n bytes in b), up to the '?', '#' or
 * space that ends it, as HTTP_PATH_WORDS words with zeroes past its end.
 * Returns how many words hold path bytes (the rest are zero: hashing and
 * comparing stop there), or -1 when the path has no such end within 63 bytes
 * and within n, or ends in any other byte: normalization decides those.
 */
static __always_inline int http_path_key(const char *b, __u32 t, __u32 n, __u64 *key)
{
	__u64 w, stop;
	__u32 i, p;
	unsigned char c;

	__builtin_memset(key, 0, HTTP_PATH_WORDS * sizeof(*key));
	for (i = 0; i < HTTP_PATH_WORDS; i++) {
		w = http_word(b, t + 8 * i);
		stop = http_path_stop(w);
		if (!stop) {
			if (t + 8 * i + 8 > n)
				return -1; /* cut: what follows is not in the window */
			key[i] = w;
			continue;
		}
		p = http_lowest_byte(stop);
		if (t + 8 * i + p >= n)
			return -1;
		c = (w >> (8 * p)) & 0xff;
		if (c != ' ' && c != '?' && c != '#')
			return -1;
		if (!p)
			return i;
		key[i] = w & (~0ULL >> (64 - 8 * p));
		return i + 1;
	}
	return -1;
}

/* "content-" "length:" and "transfer" "-encodin" "g:", little-endian, lower case. */
#define HTTP_CL0 0x2d746e65746e6f63ULL
#define HTTP_CL1 0x3a6874676e656cULL
#define HTTP_TE0 0x726566736e617274ULL
#define HTTP_TE1 0x6e69646f636e652dULL
#define HTTP_TE2 0x3a67ULL

/* A header line starting at b[p]: note Content-Length and Transfer-Encoding. */
static __always_inline void http_header_line(const char *b, __u32 p, struct http_head *h)
{
	__u64 w0 = http_word(b, p) | HTTP_LOWER, w1 = http_word(b, p + 8) | HTTP_LOWER;
	__u32 i = p + 15, j;
	__s64 v = 0;
	unsigned char c;

	if (p + 18 <= h->n && w0 == HTTP_TE0 && w1 == HTTP_TE1 &&
	    ((http_word(b, p + 16) | HTTP_LOWER) & 0xffff) == HTTP_TE2) {
		h->chunked = 1;
		return;
	}
	if (p + 15 > h->n || w0 != HTTP_CL0 || (w1 & 0xffffffffffffffULL) != HTTP_CL1)
		return;
	/* A repeated header restarts the value; no digits reads as 0. */
	for (j = 0; j < 24; j++, i++) {
		if (i >= h->n)
			break;
		c = HB(b, i);
		if (c >= '0' && c <= '9') {
			if (v < (1LL << 40))
				v = v * 10 + (c - '0');
		} else if ((c != ' ' && c != '\t') || v) {
			break;
		}
	}
	h->content_length = v;
}

static long http_head_step(__u32 k, void *arg)
{
	struct http_scan *x = arg;
	struct http_head *h = x->st;
	__u32 p = h->pos, j, l;
	__u64 w, t = 0;

	(void)k;
	/* Several lines per callback: each call and return costs ~8 ns where
	 * returns go through a mitigation thunk (AMD SRSO). */
	for (l = 0; l < HTTP_HEAD_LINES; l++) {
		if (p >= h->n)
			return 1;
		if (!h->mid_line) {
			w = http_word(x->b, p);
			if ((w & 0xff) == '\n' || (w & 0xffff) == ('\r' | '\n' << 8)) {
				p += (w & 0xff) == '\n' ? 1 : 2;
				if (p <= h->n)
					h->end = p;
				return 1;
			}
			/* Only a line starting with C or T can be one of the two we need. */
			if (!h->first && (((w | 0x20) & 0xff) == 'c' || ((w | 0x20) & 0xff) == 't'))
				http_header_line(x->b, p, h);
			h->first = 0;
		}
		for (j = 0; j < 8; j++) {
			t = http_has_lf(http_word(x->b, p));
			if (t)
				break;
			p += 8;
		}
		if (!t) {
			h->pos = p;
			h->mid_line = 1;
			return 0;
		}
		p += http_lowest_byte(t);
		if (p >= h->n)
			return 1;
		p++;
		h->pos = p;
		h->mid_line = 0;
	}
	return 0;
}

/* Finds the end of the header block starting at b[off] and its body framing. */
static __always_inline void http_scan_head(const char *b, __u32 off, __u32 n, struct http_head *h)
{
	struct http_scan x = {.b = b, .st = h};

	h->off = off;
	h->n = n;
	h->pos = off;
	h->mid_line = 0;
	h->first = 1; /* the request or status line */
	h->end = 0;
	h->content_length = -1;
	h->chunked = 0;
	bpf_loop(HTTP_WINDOW, http_head_step, &x, 0);
}

#endif
