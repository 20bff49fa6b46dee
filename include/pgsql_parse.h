/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL wire pieces that run inside the BPF programs, plain C so the unit
 * tests run the very same code: operation words, SQLSTATE packing, the
 * statement hash that leaves literals out, and backend titles.
 *
 * As in http_parse.h, the hasher's state lives in map memory in BPF (struct
 * pg_hasher in the per-CPU scratch), so its bpf_loop callback converges.
 */
#ifndef REDSCOPE_PGSQL_PARSE_H
#define REDSCOPE_PGSQL_PARSE_H

#include "pgsql.h"

#define PG_TEXT_MASK (PG_TEXT_LEN - 1)

#include "bpf_loop_user.h"

/* Eight characters packed little-endian (a case label: gcc does not fold "..."[i]). */
#define PG_W(a, b, c, d, e, f, g, h)                                                               \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 |   \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

/* A word of up to 8 upper-case letters, packed little-endian, zero padded. */
static __always_inline __u16 pg_word_op(__u64 w)
{
	switch (w) {
	case PG_W('S', 'E', 'L', 'E', 'C', 'T', 0, 0):
	case PG_W('T', 'A', 'B', 'L', 'E', 0, 0, 0):
	case PG_W('V', 'A', 'L', 'U', 'E', 'S', 0, 0):
		return PG_OP_SELECT;
	case PG_W('I', 'N', 'S', 'E', 'R', 'T', 0, 0):
		return PG_OP_INSERT;
	case PG_W('U', 'P', 'D', 'A', 'T', 'E', 0, 0):
		return PG_OP_UPDATE;
	case PG_W('D', 'E', 'L', 'E', 'T', 'E', 0, 0):
		return PG_OP_DELETE;
	case PG_W('M', 'E', 'R', 'G', 'E', 0, 0, 0):
		return PG_OP_MERGE;
	case PG_W('C', 'O', 'P', 'Y', 0, 0, 0, 0):
		return PG_OP_COPY;
	case PG_W('B', 'E', 'G', 'I', 'N', 0, 0, 0):
	case PG_W('S', 'T', 'A', 'R', 'T', 0, 0, 0):
		return PG_OP_BEGIN;
	case PG_W('C', 'O', 'M', 'M', 'I', 'T', 0, 0):
	case PG_W('E', 'N', 'D', 0, 0, 0, 0, 0):
		return PG_OP_COMMIT;
	case PG_W('R', 'O', 'L', 'L', 'B', 'A', 'C', 'K'):
	case PG_W('A', 'B', 'O', 'R', 'T', 0, 0, 0):
		return PG_OP_ROLLBACK;
	case PG_W('C', 'R', 'E', 'A', 'T', 'E', 0, 0):
		return PG_OP_CREATE;
	case PG_W('D', 'R', 'O', 'P', 0, 0, 0, 0):
		return PG_OP_DROP;
	case PG_W('A', 'L', 'T', 'E', 'R', 0, 0, 0):
		return PG_OP_ALTER;
	case PG_W('T', 'R', 'U', 'N', 'C', 'A', 'T', 'E'):
		return PG_OP_TRUNCATE;
	case PG_W('S', 'E', 'T', 0, 0, 0, 0, 0):
	case PG_W('R', 'E', 'S', 'E', 'T', 0, 0, 0):
		return PG_OP_SET;
	case PG_W('S', 'H', 'O', 'W', 0, 0, 0, 0):
		return PG_OP_SHOW;
	case PG_W('L', 'O', 'C', 'K', 0, 0, 0, 0):
		return PG_OP_LOCK;
	case PG_W('V', 'A', 'C', 'U', 'U', 'M', 0, 0):
		return PG_OP_VACUUM;
	case PG_W('A', 'N', 'A', 'L', 'Y', 'Z', 'E', 0):
		return PG_OP_ANALYZE;
	case PG_W('E', 'X', 'P', 'L', 'A', 'I', 'N', 0):
		return PG_OP_EXPLAIN;
	case PG_W('C', 'A', 'L', 'L', 0, 0, 0, 0):
		return PG_OP_CALL;
	case PG_W('F', 'E', 'T', 'C', 'H', 0, 0, 0):
		return PG_OP_FETCH;
	}
	return PG_OP_OTHER;
}

/* The operation of a command tag ("SELECT 1", "INSERT 0 1", "ROLLBACK"). */
static __always_inline __u16 pg_tag_op(const char *tag, __u32 n)
{
	__u64 w = 0;
	__u32 i;
	char c;

	for (i = 0; i < 9; i++) {
		if (i >= n)
			break;
		c = tag[i];
		if (c < 'A' || c > 'Z')
			break;
		if (i == 8)
			return PG_OP_OTHER; /* longer than any word we know */
		w |= (__u64)(unsigned char)c << (8 * i);
	}
	return pg_word_op(w);
}

/* SQLSTATE: five characters of [0-9A-Z], packed in base 36 (fits 32 bits). */
static __always_inline __u32 pg_sqlstate_pack(const char *s)
{
	__u32 v = 0, i, d;
	char c;

	for (i = 0; i < 5; i++) {
		c = s[i];
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'Z')
			d = c - 'A' + 10;
		else
			return 0;
		v = v * 36 + d;
	}
	return v;
}

/*
 * Statement hash: FNV-1a over the text with every string and number literal
 * replaced by '?', letters folded to lower case and whitespace runs made one
 * space. Texts that differ only in literals hash the same, so the kernel keeps
 * one entry per statement shape; userspace merges shapes that libpg_query
 * fingerprints alike. Also yields the first word's operation.
 */
struct pg_hasher {
	__u64 hash;
	__u64 word; /* first word, upper case, packed */
	__u32 n;    /* bytes of text */
	__u32 pad;
	__u32 in_str; /* inside '...' */
	__u32 in_num;
	__u32 prev;  /* previous byte emitted (after folding) */
	__u32 wlen;  /* letters of the first word */
	__u32 wdone; /* the first word has ended */
};

struct pg_hash_ctx {
	const char *text; /* PG_TEXT_LEN bytes */
	struct pg_hasher *h;
};

#define PG_FNV_OFFSET 0xcbf29ce484222325ULL
#define PG_FNV_PRIME  0x100000001b3ULL

static __always_inline void pg_emit(struct pg_hasher *h, __u32 c)
{
	h->hash = (h->hash ^ c) * PG_FNV_PRIME;
	h->prev = c;
}

static __always_inline int pg_is_ident(__u32 c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c >= 128;
}

/* One byte of the text; 1 ends the text (its NUL). */
static __always_inline int pg_hash_byte(struct pg_hasher *h, __u32 c)
{
	if (c == 0)
		return 1;
	if (h->in_str) {
		if (c == '\'')
			h->in_str = 0;
		return 0;
	}
	if (c >= 'A' && c <= 'Z')
		c += 'a' - 'A';
	/* The first word gives the operation of a statement that fails. */
	if (!h->wdone) {
		if (c >= 'a' && c <= 'z') {
			if (h->wlen < 8)
				h->word |= (__u64)(c - ('a' - 'A')) << (8 * h->wlen);
			h->wlen++;
		} else if (h->wlen > 0 || (c != ' ' && c != '\t' && c != '\n' && c != '\r')) {
			h->wdone = 1;
		}
	}
	if (h->in_num) {
		if ((c >= '0' && c <= '9') || c == '.' || (c >= 'a' && c <= 'z'))
			return 0; /* 1.5, 1e3, 0x1f */
		h->in_num = 0;
	}
	if (c == '\'') {
		h->in_str = 1;
		pg_emit(h, '?');
		return 0;
	}
	if (c >= '0' && c <= '9' && !pg_is_ident(h->prev)) {
		h->in_num = 1;
		pg_emit(h, '?');
		return 0;
	}
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
		if (h->prev != ' ' && h->prev != 0)
			pg_emit(h, ' ');
		return 0;
	}
	pg_emit(h, c);
	return 0;
}

/* Bytes one bpf_loop callback hashes: each call and return costs ~8 ns where
 * returns go through a mitigation thunk (AMD SRSO); one byte a call was the
 * PostgreSQL collector's largest cost (~2 us a pgbench -S transaction). */
#define PG_HASH_BYTES 16

static long pg_hash_step(__u32 k, void *arg)
{
	struct pg_hash_ctx *x = arg;
	struct pg_hasher *h = x->h;
	__u32 i, j;

	for (j = 0; j < PG_HASH_BYTES; j++) {
		i = k * PG_HASH_BYTES + j;
		if (i >= h->n)
			return 1;
		if (pg_hash_byte(h, (unsigned char)x->text[i & PG_TEXT_MASK]))
			return 1;
	}
	return 0;
}

/* Hashes the first n bytes of text (a PG_TEXT_LEN buffer) into *h. */
static __always_inline void pg_hash_text(const char *text, __u32 n, struct pg_hasher *h)
{
	struct pg_hash_ctx x = {.text = text, .h = h};

	h->hash = PG_FNV_OFFSET;
	h->word = 0;
	h->n = n < PG_TEXT_LEN ? n : PG_TEXT_LEN;
	h->in_str = 0;
	h->in_num = 0;
	h->prev = 0;
	h->wlen = 0;
	h->wdone = 0;
	bpf_loop(PG_TEXT_LEN / PG_HASH_BYTES, pg_hash_step, &x, 0);
	if (h->wlen > 8)
		h->word = 0;
	if (h->hash == 0)
		h->hash = 1; /* 0 means "unknown" */
}

/*
 * A client backend's process title, "postgres: [cluster: ]user database
 * host(port)|[local] state": PostgreSQL writes it over its argv, so both
 * userspace (/proc/PID/cmdline) and the BPF side (the backend's own memory)
 * read it. The step splits it at spaces and keeps the first PG_TITLE_TOKENS
 * tokens' offsets and lengths (state in map memory in BPF, as above).
 */
#define PG_TITLE_TOKENS 5 /* "postgres:", cluster, user, database, host */

struct pg_title {
	__u32 n;     /* bytes of title */
	__u32 count; /* tokens seen */
	__u32 cur;   /* start of the token being read, or n + 1 between tokens */
	__u32 start[PG_TITLE_TOKENS];
	__u32 len[PG_TITLE_TOKENS];
};

struct pg_title_ctx {
	const char *text; /* PG_TEXT_LEN bytes */
	struct pg_title *t;
};

static long pg_title_step(__u32 i, void *arg)
{
	struct pg_title_ctx *x = arg;
	struct pg_title *t = x->t;
	__u32 c = i < t->n ? (unsigned char)x->text[i & PG_TEXT_MASK] : 0;
	__u32 k = t->count;

	if (c != ' ' && c != 0) {
		if (t->cur > t->n)
			t->cur = i;
		return 0;
	}
	if (t->cur <= t->n && k < PG_TITLE_TOKENS) { /* a token ends at i */
		t->start[k] = t->cur;
		t->len[k] = i - t->cur;
		t->count = k + 1;
	}
	t->cur = t->n + 1;
	return c == 0 || t->count >= PG_TITLE_TOKENS;
}

/*
 * The database named by the title in text (n bytes, NUL-terminated within a
 * PG_TEXT_LEN buffer), copied into db (dbsz bytes, NUL-terminated). Returns
 * 0, or -1 for the server's other processes (checkpointer, autovacuum worker,
 * walsender, ...): their titles do not end the third field with a host.
 */
static __always_inline int pg_title_database(const char *text, __u32 n, struct pg_title *t,
					     char *db, __u32 dbsz)
{
	struct pg_title_ctx x = {.text = text, .t = t};
	__u32 f, hs, hl, ds, dl, i;

	if (n > PG_TEXT_LEN - 1)
		n = PG_TEXT_LEN - 1;
	__builtin_memset(t, 0, sizeof(*t));
	t->n = n;
	t->cur = n + 1;
	bpf_loop(PG_TEXT_LEN, pg_title_step, &x, 0);
	if (t->count < 4 || t->start[0] != 0 || t->len[0] != 9)
		return -1;
	for (i = 0; i < 9; i++)
		if (text[i] != "postgres:"[i])
			return -1;
	/* A cluster name ends with ':' (Debian's "15/main:"). Tokens are never empty. */
	f = text[(t->start[1] + t->len[1] - 1) & PG_TEXT_MASK] == ':' ? 2 : 1;
	if (f + 2 >= t->count)
		return -1;
	/* The host: "[local]", or "address(port)". */
	hs = t->start[f + 2];
	hl = t->len[f + 2];
	if (!(hl == 7 && text[hs & PG_TEXT_MASK] == '[' && text[(hs + 6) & PG_TEXT_MASK] == ']')) {
		if (text[(hs + hl - 1) & PG_TEXT_MASK] != ')')
			return -1;
		for (i = 0; i < PG_TEXT_LEN; i++)
			if (i >= hl || text[(hs + i) & PG_TEXT_MASK] == '(')
				break;
		if (i >= hl)
			return -1;
	}
	ds = t->start[f + 1];
	dl = t->len[f + 1];
	for (i = 0; i < dbsz - 1; i++) {
		if (i >= dl)
			break;
		db[i] = text[(ds + i) & PG_TEXT_MASK];
	}
	db[i] = 0;
	return 0;
}

#endif
