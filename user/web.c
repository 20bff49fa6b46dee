// SPDX-License-Identifier: MIT
/* The HTTP server: /metrics, health endpoints and a landing page (libmicrohttpd). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "log.h"
#include "self.h"
#include "web.h"

static struct MHD_Daemon *daemon_;
static const struct config *conf;
static void (*render_metrics)(struct prom *p);

/* Reply with a copy of body (or, with owned, take body, which was malloc'd). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
			     char *body, size_t len, bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body,
					    owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned code, const char *msg)
{
	return reply(conn, code, "text/plain; charset=utf-8", (char *)msg, strlen(msg), false);
}

static enum MHD_Result send_prom(struct MHD_Connection *conn, struct prom *p, const char *type)
{
	if (p->oom || !p->buf) {
		prom__free(p);
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	return reply(conn, MHD_HTTP_OK, type, p->buf, p->len, true);
}

static enum MHD_Result landing(struct MHD_Connection *conn)
{
	struct prom p;

	prom__init(&p);
	prom__appendf(&p,
		      "<!DOCTYPE html>\n<html><head><title>redscope</title></head><body>\n"
		      "<h1>redscope %s</h1>\n<p>Kernel-level HTTP and PostgreSQL metrics.</p>\n"
		      "<ul>\n<li><a href=\"%s\">Metrics</a></li>\n"
		      "<li><a href=\"/health/live\">/health/live</a></li>\n"
		      "<li><a href=\"/health/ready\">/health/ready</a></li>\n"
		      "<li><a href=\"/health/startup\">/health/startup</a></li>\n"
		      "<li><a href=\"/health/detailed\">/health/detailed</a></li>\n"
		      "</ul>\n</body></html>\n",
		      REDSCOPE_VERSION, conf->telemetry_path);
	return send_prom(conn, &p, "text/html; charset=utf-8");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **req_cls)
{
	char reason[300], msg[320];
	struct prom p;

	(void)cls, (void)version, (void)upload_data, (void)req_cls;
	if (*upload_size) { /* a body we do not want: swallow it, answer at the end */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");

	if (!strcmp(url, conf->telemetry_path)) {
		prom__init(&p);
		render_metrics(&p);
		return send_prom(conn, &p, "text/plain; version=0.0.4; charset=utf-8");
	}
	if (!strcmp(url, "/"))
		return landing(conn);
	if (!strcmp(url, "/health/live"))
		return text(conn, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/health/startup"))
		return self__started() ? text(conn, MHD_HTTP_OK, "ok\n")
				       : text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
	if (!strcmp(url, "/health/ready")) {
		bool ok = self__ready(reason, sizeof(reason));

		snprintf(msg, sizeof(msg), "%s\n", reason);
		return text(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, msg);
	}
	if (!strcmp(url, "/health/detailed")) {
		prom__init(&p);
		self__health_json(&p);
		return send_prom(conn, &p, "application/json");
	}
	return text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* "[host]:port", "host:port" or ":port" (every address) into a bound, listening socket. */
static int listen_on(const char *addr)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res, *ai;
	char host[256] = "", *port;
	int fd = -1, one = 1, zero = 0, err, gai;

	snprintf(host, sizeof(host), "%s", addr);
	port = strrchr(host, ':');
	if (!port)
		return -EINVAL;
	*port++ = 0;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	/* No host: prefer one IPv6 socket that also takes IPv4. */
	hints.ai_family = host[0] ? AF_UNSPEC : AF_INET6;
	gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gai && !host[0]) {
		hints.ai_family = AF_INET;
		gai = getaddrinfo(NULL, port, &hints, &res);
	}
	if (gai) {
		log_error("cannot listen on %s: %s", addr, gai_strerror(gai));
		return -EINVAL;
	}
	err = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !host[0])
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 64))
			break;
		err = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		log_error("cannot listen on %s: %s", addr, strerror(-err));
		return err;
	}
	return fd;
}

int web__start(const struct config *cfg, void (*render)(struct prom *p))
{
	int fd;

	conf = cfg;
	render_metrics = render;
	fd = listen_on(cfg->listen_addr);
	if (fd < 0)
		return fd;
	/* A small pool: two scrapers (Prometheus and a person with curl) never wait
	 * on each other. */
	daemon_ = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				   handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
				   MHD_OPTION_THREAD_POOL_SIZE, 2, MHD_OPTION_CONNECTION_TIMEOUT,
				   30u, MHD_OPTION_END);
	if (!daemon_) {
		close(fd);
		log_error("cannot start the HTTP server on %s", cfg->listen_addr);
		return -EIO;
	}
	log_info("serving metrics on http://%s%s", cfg->listen_addr, cfg->telemetry_path);
	return 0;
}

void web__stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
}
