// SPDX-License-Identifier: MIT
/* The HTTP parser the BPF programs run (include/http_parse.h), run here. */
#include <string.h>
#include "check.h"
#include "http_parse.h"

/* Like the BPF scratch buffer, 8 readable bytes past the window (http_word). */
static char win[HTTP_WINDOW + 8];

static __u32 load(const char *s)
{
	size_t n = strlen(s);

	memset(win, 0, sizeof(win));
	if (n > HTTP_WINDOW)
		n = HTTP_WINDOW;
	memcpy(win, s, n);
	return n;
}

/* Normalized endpoint of a request line, or "_other" when unusable. */
static const char *endpoint(const char *req)
{
	static char out[HTTP_EP_LEN + 1];
	struct http_norm st;
	__u32 n = load(req), target = 0;

	memset(out, 0, sizeof(out));
	if (http_parse_method(win, n, &target) < 0)
		return "(not a request)";
	if (http_normalize(win, target, n, out, &st))
		return "_other";
	return out;
}

static int method(const char *req)
{
	__u32 target;

	return http_parse_method(win, load(req), &target);
}

static void test_methods(void)
{
	CHECK(method("GET / HTTP/1.1\r\n") == HTTP_M_GET, "GET");
	CHECK(method("HEAD / HTTP/1.1\r\n") == HTTP_M_HEAD, "HEAD");
	CHECK(method("POST /x HTTP/1.1\r\n") == HTTP_M_POST, "POST");
	CHECK(method("PUT /x HTTP/1.1\r\n") == HTTP_M_PUT, "PUT");
	CHECK(method("DELETE /x HTTP/1.1\r\n") == HTTP_M_DELETE, "DELETE");
	CHECK(method("PATCH /x HTTP/1.1\r\n") == HTTP_M_PATCH, "PATCH");
	CHECK(method("OPTIONS * HTTP/1.1\r\n") == HTTP_M_OPTIONS, "OPTIONS");
	CHECK(method("CONNECT example.org:443 HTTP/1.1\r\n") == HTTP_M_CONNECT, "CONNECT");
	CHECK(method("TRACE / HTTP/1.1\r\n") == HTTP_M_TRACE, "TRACE");
	/* Unknown tokens are HTTP but cannot create series. */
	CHECK(method("PROPFIND / HTTP/1.1\r\n") == HTTP_M_OTHER, "PROPFIND -> _OTHER");
	CHECK(method("GETX / HTTP/1.1\r\n") == HTTP_M_OTHER, "GETX -> _OTHER");
	CHECK(method("BREW-COFFEE / HTTP/1.1\r\n") == HTTP_M_OTHER, "token with dash -> _OTHER");
	/* Not a request at all. */
	CHECK(method("get / HTTP/1.1\r\n") == -1, "lowercase method is not HTTP/1.x");
	CHECK(method("\x16\x03\x01\x02\x00") == -1, "TLS ClientHello");
	CHECK(method("GET") == -1, "half a request line");
	CHECK(method("GET  / HTTP/1.1") == -1, "double space");
	CHECK(method("GET ^ HTTP/1.1") == -1, "bad target");
	CHECK(method("SSH-2.0-OpenSSH_9.2\r\n") == -1, "SSH banner");
	CHECK(method("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1") == -1, "overlong token");
	CHECK(method("") == -1, "nothing");
}

static void test_endpoints(void)
{
	const char *long_ok = "GET "
			      "/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/"
			      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy/zzzz HTTP/1.1";
	char big[HTTP_WINDOW + 64];

	CHECK(!strcmp(endpoint("GET / HTTP/1.1\r\n"), "/"), "root");
	CHECK(!strcmp(endpoint("GET /index.html HTTP/1.1\r\n"), "/index.html"), "file");
	CHECK(!strcmp(endpoint("GET /api/users/123 HTTP/1.1\r\n"), "/api/users/:id"),
	      "numeric id: %s", endpoint("GET /api/users/123 HTTP/1.1\r\n"));
	CHECK(!strcmp(endpoint("GET /api/users/456?x=1&y=2 HTTP/1.1\r\n"), "/api/users/:id"),
	      "query string dropped");
	CHECK(!strcmp(endpoint("GET /a/1/b/22/c HTTP/1.1\r\n"), "/a/:id/b/:id/c"), "two ids");
	CHECK(!strcmp(endpoint("GET /o/550e8400-e29b-41d4-a716-446655440000/x HTTP/1.1\r\n"),
		      "/o/:id/x"),
	      "uuid: %s", endpoint("GET /o/550e8400-e29b-41d4-a716-446655440000/x HTTP/1.1\r\n"));
	CHECK(!strcmp(endpoint("GET /o/550e8400-e29b-41d4-a716-44665544000/x HTTP/1.1\r\n"),
		      "/o/550e8400-e29b-41d4-a716-44665544000/x"),
	      "35-char almost-uuid stays");
	CHECK(!strcmp(endpoint("GET /commit/0123456789abcdef HTTP/1.1\r\n"), "/commit/:id"),
	      "16 hex chars");
	CHECK(!strcmp(endpoint("GET /commit/0123456789abcde HTTP/1.1\r\n"),
		      "/commit/0123456789abcde"),
	      "15 hex chars stay");
	CHECK(!strcmp(endpoint("GET /c/da39a3ee5e6b4b0d3255bfef95601890afd80709 HTTP/1.1\r\n"),
		      "/c/:id"),
	      "sha1");
	CHECK(!strcmp(endpoint("GET /v2/users HTTP/1.1\r\n"), "/v2/users"), "v2 is not an id");
	CHECK(!strcmp(endpoint("GET /users/ HTTP/1.1\r\n"), "/users/"), "trailing slash kept");
	CHECK(!strcmp(endpoint("GET /x#frag HTTP/1.1\r\n"), "/x"), "fragment dropped");
	CHECK(!strcmp(endpoint("OPTIONS * HTTP/1.1\r\n"), "*"), "asterisk form");
	CHECK(!strcmp(endpoint("GET http://example.org/ HTTP/1.1\r\n"), "_other"),
	      "absolute form is not an endpoint");
	CHECK(!strcmp(endpoint(long_ok), "_other"), "longer than HTTP_EP_LEN -> _other");
	CHECK(!strcmp(endpoint("GET /x/\xff\xfe HTTP/1.1\r\n"), "_other"),
	      "non-ASCII bytes never reach a label");
	CHECK(!strcmp(endpoint("GET /x\"y HTTP/1.1\r\n"), "/x\"y"),
	      "quote is kept (the exposition escapes it)");
	CHECK(!strcmp(endpoint("GET /abc"), "_other"), "target cut by the buffer");
	/* A long id folds even when its raw form would not fit. */
	memset(big, 0, sizeof(big));
	strcpy(big, "GET /a/");
	memset(big + 7, '7', 150);
	strcat(big, "/b HTTP/1.1\r\n");
	CHECK(!strcmp(endpoint(big), "/a/:id/b"), "150-digit id folds: %s", endpoint(big));
	/* A 16 KB URL: the window holds only its start. */
	memset(big, 0, sizeof(big));
	strcpy(big, "GET /");
	memset(big + 5, 'x', sizeof(big) - 6);
	CHECK(!strcmp(endpoint(big), "_other"), "16 KB URL -> _other");
	/* After folding, no stale bytes trail the endpoint. */
	CHECK(!strcmp(endpoint("GET /12345678901234567890/ok HTTP/1.1\r\n"), "/:id/ok"),
	      "fold then continue: %s", endpoint("GET /12345678901234567890/ok HTTP/1.1\r\n"));
	{
		static char out[HTTP_EP_LEN];
		struct http_norm st;
		__u32 n = load("GET /12345678901234567890 HTTP/1.1\r\n"), t = 0, i, clean = 1;

		memset(out, 0, sizeof(out));
		http_parse_method(win, n, &t);
		http_normalize(win, t, n, out, &st);
		for (i = 4; i < HTTP_EP_LEN; i++)
			clean &= out[i] == 0;
		CHECK(clean, "bytes after a folded id are zero (they are part of the map key)");
	}
}

static void test_head(void)
{
	struct http_head h;
	__u32 n;

	n = load("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.end == n, "end of headers: %u of %u", h.end, n);
	CHECK(h.content_length == -1, "no content-length");
	CHECK(!h.chunked, "not chunked");

	n = load("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\nbody");
	http_scan_head(win, 0, n, &h);
	CHECK(h.end == n - 4, "end before the body");
	CHECK(h.content_length == 42, "content-length 42, got %lld", (long long)h.content_length);

	n = load("HTTP/1.1 200 OK\r\ncontent-length:7\r\n\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.content_length == 7, "lowercase, no space");

	n = load("HTTP/1.1 200 OK\r\nX-Content-Length: 9\r\n\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.content_length == -1, "only at line start");

	n = load("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.chunked, "chunked");
	CHECK(h.end == 47, "end %u", h.end);

	n = load("GET / HTTP/1.1\r\nHost: a\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.end == 0, "headers not finished");

	n = load("GET / HTTP/1.1\nHost: a\n\nGET /b HTTP/1.1\n\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.end == 24, "bare LF accepted, end %u", h.end);

	/* Pipelined: the second request starts where the first ends. */
	n = load("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.end == 19, "first request ends at 19, got %u", h.end);
	http_scan_head(win, h.end, n, &h);
	CHECK(h.end == n, "second ends at the buffer end");

	{
		/* Lines longer than one step (64 bytes) and many of them. */
		static char big[HTTP_WINDOW];
		int k;

		strcpy(big, "HTTP/1.1 200 OK\r\nX-Long: ");
		for (k = 0; k < 300; k++)
			strcat(big, "a");
		strcat(big, "\r\n");
		for (k = 0; k < 20; k++)
			strcat(big, "X: y\r\n");
		strcat(big, "CONTENT-LENGTH:\t 612\r\n\r\n");
		n = load(big);
		http_scan_head(win, 0, n, &h);
		CHECK(h.end == n && h.content_length == 612,
		      "long and many lines: end %u of %u, length %lld", h.end, n,
		      (long long)h.content_length);
	}
	n = load("HTTP/1.1 200 OK\r\nContent-Lengthy: 5\r\nTransfer-Encodings: x\r\n\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.content_length == -1 && !h.chunked && h.end == n, "look-alike names do not count");
	n = load("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r");
	http_scan_head(win, 0, n, &h);
	CHECK(h.end == 0, "a blank line cut after its CR is not the end yet");
	n = load("HTTP/1.1 200 OK\r\nContent-Len");
	http_scan_head(win, 0, n, &h);
	CHECK(h.end == 0 && h.content_length == -1, "a header cut in its name");
	n = load("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 20\r\n\r\n");
	http_scan_head(win, 0, n, &h);
	CHECK(h.content_length == 20, "the last of repeated headers");

	n = load("HTTP/1.1 404 Not Found\r\n");
	CHECK(http_parse_status(win, n) == 404, "status 404");
	n = load("HTTP/1.0 500 X\r\n");
	CHECK(http_parse_status(win, n) == 500, "HTTP/1.0 500");
	n = load("HTTP/2 200\r\n");
	CHECK(http_parse_status(win, n) == -1, "not HTTP/1.x");
	n = load("<html>");
	CHECK(http_parse_status(win, n) == -1, "body bytes are no status line");
	n = load("HTTP/1.1 99");
	CHECK(http_parse_status(win, n) == -1, "short");
}

/* The path key of a request line (n bytes of it in the window): its words
 * used and the key, or -1. The window past n is filled with junk, as a reused buffer would be. */
static int path_key(const char *req, __u32 n, __u64 *key)
{
	__u32 target = 0;

	memset(win, 'x', sizeof(win));
	memcpy(win, req, strlen(req));
	if (http_parse_method(win, n, &target) < 0)
		return -2;
	return http_path_key(win, target, n, key);
}

static int same_key(const char *a, const char *b)
{
	__u64 ka[HTTP_PATH_WORDS], kb[HTTP_PATH_WORDS];

	if (path_key(a, strlen(a), ka) < 0 || path_key(b, strlen(b), kb) < 0)
		return -1;
	return !memcmp(ka, kb, sizeof(ka));
}

static void test_path_keys(void)
{
	__u64 key[HTTP_PATH_WORDS], want[HTTP_PATH_WORDS];
	const char *reqs[] = {
	    "GET / HTTP/1.1\r\n",
	    "GET /index.html HTTP/1.1\r\n",
	    "GET /a?x=1 HTTP/1.1\r\n",
	    "GET /a HTTP/1.1\r\n",
	    "GET /users/42 HTTP/1.1\r\n",
	    "GET /users/43 HTTP/1.1\r\n",
	    "GET /abcdefg HTTP/1.1\r\n",
	    "GET /abcdefgh HTTP/1.1\r\n",
	    "GET /caf\xc3\xa9 HTTP/1.1\r\n",
	    "GET *x HTTP/1.1\r\n",
	    "GET /a#f HTTP/1.1\r\n",
	    "GET /A HTTP/1.1\r\n",
	};
	char long_path[128];
	unsigned i, j;

	CHECK(path_key("GET /index.html HTTP/1.1\r\n", 26, key) == 2,
	      "a plain path has a key, in the words its bytes fill");
	memset(want, 0, sizeof(want));
	memcpy(want, "/index.html", 11);
	CHECK(!memcmp(key, want, sizeof(want)), "the key is the path, zero past its end");
	CHECK(path_key("GET /abcdefg HTTP/1.1\r\n", 23, key) == 1,
	      "a path filling one word exactly uses that word only");
	CHECK(same_key("GET /a?x=1 HTTP/1.1\r\n", "GET /a?y=2 HTTP/1.1\r\n") == 1,
	      "the query string is not part of the key");
	CHECK(same_key("GET /a#top HTTP/1.1\r\n", "GET /a HTTP/1.1\r\n") == 1, "nor the fragment");
	CHECK(same_key("GET /a HTTP/1.1\r\n", "POST /a HTTP/1.1\r\n") == 1, "nor the method");
	CHECK(same_key("GET /a HTTP/1.1\r\n", "GET /b HTTP/1.1\r\n") == 0,
	      "paths differ, keys differ");
	CHECK(same_key("GET /abcdefgh HTTP/1.1\r\n", "GET /abcdefg HTTP/1.1\r\n") == 0,
	      "a path one word long differs from one a byte shorter");

	/* 63 bytes have a key; 64 bytes are left to normalization. */
	memset(long_path, 0, sizeof(long_path));
	memcpy(long_path, "GET /", 5);
	memset(long_path + 5, 'p', 62);
	strcat(long_path, " HTTP/1.1\r\n");
	CHECK(path_key(long_path, strlen(long_path), key) == 8, "a 63-byte path has a key");
	memset(long_path + 5, 'p', 63);
	strcpy(long_path + 68, " HTTP/1.1\r\n");
	CHECK(path_key(long_path, strlen(long_path), key) == -1, "a 64-byte path has none");

	CHECK(path_key("GET /index.html HTTP/1.1\r\n", 12, key) == -1,
	      "a path cut by the end of the data has none (what follows is stale)");
	CHECK(path_key("GET /abcdefgh HTTP/1.1\r\n", 13, key) == -1,
	      "nor one cut exactly at a word's end");
	CHECK(path_key("GET /a\r\n", 8, key) == -1, "a path ended by CR is left to normalization");
	CHECK(path_key("GET /a\tb HTTP/1.1\r\n", 19, key) == -1, "so is one with a control byte");

	/* Equal keys must mean equal endpoints: that is what makes the cache exact. */
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		for (j = 0; j < sizeof(reqs) / sizeof(reqs[0]); j++) {
			char ei[HTTP_EP_LEN + 1];

			if (same_key(reqs[i], reqs[j]) != 1)
				continue;
			strcpy(ei, endpoint(reqs[i]));
			CHECK(!strcmp(ei, endpoint(reqs[j])), "same key, same endpoint: %s / %s",
			      reqs[i], reqs[j]);
		}
	}
	CHECK(same_key("GET /users/42 HTTP/1.1\r\n", "GET /users/43 HTTP/1.1\r\n") == 0,
	      "ids are told apart by the key (normalization folds them afterwards)");
}

/* Every position of the first LF in a word, with and without LFs and
 * look-alike bytes (0x0b, which the borrow can flag) above it. */
static void test_lowest_lf(void)
{
	unsigned char b[8];
	__u64 w;
	int pos, bad = 0, j;

	for (pos = 0; pos < 8; pos++) {
		for (j = 0; j < 3; j++) {
			memset(b, 'a', sizeof(b));
			b[pos] = '\n';
			if (j == 1)
				memset(b + pos + 1, '\n', 7 - pos);
			if (j == 2)
				memset(b + pos + 1, 0x0b, 7 - pos);
			memcpy(&w, b, sizeof(w));
			if (!http_has_lf(w) || http_lowest_byte(http_has_lf(w)) != (__u32)pos)
				bad++;
		}
	}
	CHECK(bad == 0, "the first LF of a word found at each of its 8 bytes");
	memset(b, 'a', sizeof(b));
	memcpy(&w, b, sizeof(w));
	CHECK(!http_has_lf(w), "a word without LF has no flag");
}

int main(void)
{
	test_lowest_lf();
	test_methods();
	test_endpoints();
	test_head();
	test_path_keys();
	FINISH();
}
