// SPDX-License-Identifier: MIT
/*
 * HTTP/1.x collector, userspace side: loads bpf/http.bpf.c with the hooks this
 * kernel allows (--http.hooks), then at each scrape reads its maps
 * (http_stats, http_endpoints, and the live connections: the http_socks
 * iterator or the http_conns hash) and renders the http_* families. Nothing
 * here sees individual requests.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector.h"
#include "grow.h"
#include "drops.h"
#include "http.h"
#include "http.skel.h"
#include "kernel.h"
#include "links.h"
#include "log.h"
#include "self.h"

static struct http_bpf *skel;
static struct bpf_link **links;
static size_t nr_links;
static bool socket_hooks;	   /* else syscall hooks: see bpf/http.bpf.c */
static struct bpf_link *iter_link; /* http_iter_socks over http_socks */
static const struct http_hot *hot; /* http_hot, mapped: ncpu * HTTP_HOT_SLOTS */
static size_t hot_len;		   /* bytes mapped */
static int ncpu;
static const struct config *conf;
/* Scrapes may overlap; they share nothing but this lock's short sections. */
static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const method_names[HTTP_M__MAX] = HTTP_METHOD_NAMES;

struct endpoint {
	__u32 id;
	char service[HTTP_SERVICE_LEN + 1];
	char endpoint[HTTP_EP_LEN + 1];
};

/* One http_stats entry, summed over CPUs, with its labels resolved. */
struct series {
	const struct endpoint *ep;
	__u16 method, status;
	struct http_stats st;
};

static __u32 count_conns(void);
static __u32 count_table(void);

static bool is_socket_hook(struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return !strncmp(sec, "tp_btf/", 7) || !strncmp(sec, "iter/", 5);
}

static void unmap_hot(void)
{
	if (hot)
		munmap((void *)hot, hot_len);
	hot = NULL;
}

static int start(const struct config *cfg)
{
	struct bpf_program *prog;
	struct bpf_link *link;
	int err;

	conf = cfg;
	skel = http_bpf__open();
	if (!skel) {
		err = -errno;
		log_error("http: cannot open BPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->nr_dur_bounds =
	    hist_fill_bounds(skel->rodata->dur_bounds, cfg->http_duration_buckets,
			     cfg->http_n_duration_buckets, 1e9);
	skel->rodata->nr_size_bounds = hist_fill_bounds(
	    skel->rodata->size_bounds, cfg->http_size_buckets, cfg->http_n_size_buckets, 1);
	skel->rodata->max_endpoints = cfg->http_max_endpoints;
	skel->rodata->self_tgid = getpid();

	/* One set of hooks or the other; the unused connection table shrinks.
	 * (vmlinux BTF is parsed only when the choice depends on it.) */
	socket_hooks = cfg->http_hooks != HOOKS_SYSCALL && kernel__has_socket_hooks(true);
	if (cfg->http_hooks == HOOKS_SOCKET && !socket_hooks) {
		socket_hooks = true; /* as asked: attaching will say what is missing */
		log_warn("http: --http.hooks=socket, but this kernel lacks the socket tracepoints "
			 "or sendfile through sock_sendmsg (Linux 6.5+)");
	}
	bpf_object__for_each_program(prog, skel->obj)
	    bpf_program__set_autoload(prog, is_socket_hook(prog) == socket_hooks);
	if (socket_hooks) {
		bpf_map__set_max_entries(skel->maps.http_conns, 1);
		skel->rodata->sock_slots = cfg->http_conn_slots;
		if (cfg->http_conn_slots)
			bpf_map__set_max_entries(skel->maps.http_sock_table, cfg->http_conn_slots);
	}
	/* Tables with a part per CPU (see cpu_entry in bpf/http.bpf.c). */
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		err = ncpu ? ncpu : -EINVAL;
		log_error("http: cannot count the possible CPUs: %s", strerror(-err));
		goto cleanup;
	}
	bpf_map__set_max_entries(skel->maps.http_hot, ncpu * HTTP_HOT_SLOTS);
	bpf_map__set_max_entries(skel->maps.http_paths, ncpu * HTTP_PATH_CACHE);
	bpf_map__set_max_entries(skel->maps.http_scratch, ncpu);
	log_info("http: %s hooks", socket_hooks ? "socket" : "syscall");

	err = http_bpf__load(skel);
	if (err) {
		log_error("http: cannot load BPF programs: %s", strerror(-err));
		goto cleanup;
	}
	/* Read in place at each scrape: one mapping instead of a syscall per slot. */
	hot_len = (size_t)ncpu * HTTP_HOT_SLOTS * sizeof(*hot);
	hot = mmap(NULL, hot_len, PROT_READ, MAP_SHARED, bpf_map__fd(skel->maps.http_hot), 0);
	if (hot == MAP_FAILED) {
		err = -errno;
		hot = NULL;
		log_error("http: cannot map http_hot: %s", strerror(-err));
		goto cleanup;
	}

	/* Attach one by one so each program's state is reported on its own. */
	links = calloc(32, sizeof(*links));
	if (!links) {
		err = -ENOMEM;
		goto cleanup;
	}
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		if (prog == skel->progs.http_iter_socks) {
			/* An iterator over http_socks, read at each scrape. */
			DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
			union bpf_iter_link_info info = {.map.map_fd =
							     bpf_map__fd(skel->maps.http_socks)};

			opts.link_info = &info;
			opts.link_info_len = sizeof(info);
			link = bpf_program__attach_iter(prog, &opts);
			iter_link = link;
		} else {
			link = bpf_program__attach(prog);
		}
		if (self__attached("http", prog, link) && nr_links < 32)
			links[nr_links++] = link;
	}
	if (socket_hooks) {
		self__map_counted("http_conns", count_conns, 0);
		if (cfg->http_conn_slots)
			self__map_counted("http_sock_table", count_table, cfg->http_conn_slots);
	} else {
		self__map("http_conns", bpf_map__fd(skel->maps.http_conns),
			  bpf_map__max_entries(skel->maps.http_conns));
	}
	self__map("http_endpoints", bpf_map__fd(skel->maps.http_endpoints),
		  bpf_map__max_entries(skel->maps.http_endpoints));
	self__map("http_services", bpf_map__fd(skel->maps.http_services),
		  bpf_map__max_entries(skel->maps.http_services));
	self__map("http_stats", bpf_map__fd(skel->maps.http_stats),
		  bpf_map__max_entries(skel->maps.http_stats));
	self__drops("http", bpf_map__fd(skel->maps.drops), skel->obj);
	log_info("http: %zu programs attached", nr_links);
	return 0;

cleanup:
	unmap_hot();
	http_bpf__destroy(skel);
	skel = NULL;
	return err;
}

/* ---- reading the maps -------------------------------------------------------- */

static int cmp_endpoint_id(const void *a, const void *b)
{
	const struct endpoint *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static struct endpoint *read_endpoints(size_t *count)
{
	int fd = bpf_map__fd(skel->maps.http_endpoints);
	struct http_ep_key key, next, *prev = NULL;
	struct endpoint *eps = NULL, *tmp;
	size_t n = 0, cap = 0;
	__u32 id;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &id))
			continue; /* deleted meanwhile */
		tmp = grow_array(eps, n, &cap, sizeof(*eps));
		if (!tmp)
			break;
		eps = tmp;
		eps[n].id = id;
		memcpy(eps[n].service, key.service, HTTP_SERVICE_LEN);
		eps[n].service[HTTP_SERVICE_LEN] = 0;
		memcpy(eps[n].endpoint, key.endpoint, HTTP_EP_LEN);
		eps[n].endpoint[HTTP_EP_LEN] = 0;
		n++;
	}
	qsort(eps, n, sizeof(*eps), cmp_endpoint_id);
	*count = n;
	return eps;
}

static void add_stats(struct http_stats *dst, const struct http_stats *s)
{
	int i;

	dst->dur_sum_ns += s->dur_sum_ns;
	dst->req_bytes_sum += s->req_bytes_sum;
	dst->resp_bytes_sum += s->resp_bytes_sum;
	for (i = 0; i < HIST_SLOTS; i++) {
		dst->dur[i] += s->dur[i];
		dst->req_bytes[i] += s->req_bytes[i];
		dst->resp_bytes[i] += s->resp_bytes[i];
	}
}

static int cmp_series(const void *a, const void *b)
{
	const struct series *x = a, *y = b;
	int r;

	r = strcmp(x->ep->service, y->ep->service);
	if (!r)
		r = strcmp(x->ep->endpoint, y->ep->endpoint);
	if (!r)
		r = (int)x->method - (int)y->method;
	if (!r)
		r = (int)x->status - (int)y->status;
	return r;
}

static int cmp_part(const void *a, const void *b)
{
	const struct http_stats_key *x = &((const struct http_hot *)a)->key;
	const struct http_stats_key *y = &((const struct http_hot *)b)->key;

	if (x->endpoint_id != y->endpoint_id)
		return x->endpoint_id < y->endpoint_id ? -1 : 1;
	if (x->method != y->method)
		return (int)x->method - (int)y->method;
	return (int)x->status - (int)y->status;
}

/* Counts of series from each place they sit (an http_hot slot on one CPU, or
 * an http_stats entry), before they are added up per series. */
struct parts {
	struct http_hot *v;
	size_t n, cap;
};

static struct http_hot *new_part(struct parts *ps, const struct http_stats_key *key)
{
	struct http_hot *tmp = grow_array(ps->v, ps->n, &ps->cap, sizeof(*tmp));

	if (!tmp)
		return NULL;
	ps->v = tmp;
	memset(&ps->v[ps->n], 0, sizeof(ps->v[ps->n]));
	ps->v[ps->n].key = *key;
	return &ps->v[ps->n++];
}

/* Every series' counts: a series may sit in http_hot on several CPUs and in
 * http_stats too (see bpf/http.bpf.c), so the places are summed per key. */
static int read_parts(struct parts *ps)
{
	int fd = bpf_map__fd(skel->maps.http_stats);
	struct http_stats_key key, next, *prev = NULL;
	struct http_stats *percpu = NULL;
	struct http_hot *pt;
	size_t i;
	int c, err = -ENOMEM;

	/* sizeof is a multiple of 8, as per-CPU values need */
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		goto out;
	for (i = 0; i < (size_t)ncpu * HTTP_HOT_SLOTS; i++) {
		if (!hot[i].key.endpoint_id)
			continue;
		if (!(pt = new_part(ps, &hot[i].key)))
			goto out;
		pt->st = hot[i].st;
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, percpu))
			continue;
		if (!(pt = new_part(ps, &key)))
			goto out;
		for (c = 0; c < ncpu; c++)
			add_stats(&pt->st, &percpu[c]);
	}
	err = 0;
out:
	free(percpu);
	return err;
}

static struct series *read_series(const struct endpoint *eps, size_t neps, size_t *count)
{
	struct parts ps = {0};
	struct series *rows = NULL;
	const struct endpoint *ep;
	struct endpoint probe;
	size_t i, n = 0;

	*count = 0;
	if (read_parts(&ps) || !ps.n)
		goto out;
	qsort(ps.v, ps.n, sizeof(*ps.v), cmp_part);
	rows = calloc(ps.n, sizeof(*rows));
	if (!rows)
		goto out;
	for (i = 0; i < ps.n; i++) {
		const struct http_stats_key *k = &ps.v[i].key;

		/* Sorted, a series' parts are adjacent: add to the row its first one made. */
		if (n && rows[n - 1].ep->id == k->endpoint_id && rows[n - 1].method == k->method &&
		    rows[n - 1].status == k->status) {
			add_stats(&rows[n - 1].st, &ps.v[i].st);
			continue;
		}
		probe.id = k->endpoint_id;
		ep = bsearch(&probe, eps, neps, sizeof(*eps), cmp_endpoint_id);
		if (!ep || k->method >= HTTP_M__MAX)
			continue;
		rows[n].ep = ep;
		rows[n].method = k->method;
		rows[n].status = k->status;
		rows[n].st = ps.v[i].st;
		n++;
	}
	qsort(rows, n, sizeof(*rows), cmp_series);
	*count = n;
out:
	free(ps.v);
	return rows;
}

/* ---- rendering ------------------------------------------------------------------ */

enum hist_kind { H_DURATION, H_REQ_SIZE, H_RESP_SIZE };

/* One histogram family over (service, method, endpoint): statuses are summed. */
static void render_histogram(struct prom *p, const struct series *rows, size_t n,
			     enum hist_kind kind)
{
	__u64 counts[HIST_SLOTS];
	double sum;
	size_t i = 0, j;
	int b;
	const double *bounds;
	unsigned nb;
	const char *name;

	if (kind == H_DURATION) {
		name = "http_request_duration_seconds";
		bounds = conf->http_duration_buckets;
		nb = conf->http_n_duration_buckets;
	} else {
		name = kind == H_REQ_SIZE ? "http_request_size_bytes" : "http_response_size_bytes";
		bounds = conf->http_size_buckets;
		nb = conf->http_n_size_buckets;
	}

	while (i < n) {
		memset(counts, 0, sizeof(counts));
		sum = 0;
		for (j = i; j < n && rows[j].ep == rows[i].ep && rows[j].method == rows[i].method;
		     j++) {
			const struct http_stats *st = &rows[j].st;
			const __u64 *src = kind == H_DURATION	? st->dur
					   : kind == H_REQ_SIZE ? st->req_bytes
								: st->resp_bytes;

			for (b = 0; b < HIST_SLOTS; b++)
				counts[b] += src[b];
			sum += kind == H_DURATION   ? st->dur_sum_ns / 1e9
			       : kind == H_REQ_SIZE ? (double)st->req_bytes_sum
						    : (double)st->resp_bytes_sum;
		}
		/* The kernel counted above-all values in slot nb: the +Inf bucket. */
		const char *labels[] = {
		    "service",	rows[i].ep->service,  "method", method_names[rows[i].method],
		    "endpoint", rows[i].ep->endpoint, NULL};
		prom__histogram(p, name, labels, bounds, counts, nb, sum);
		i = j;
	}
}

struct service_gauge {
	char service[HTTP_SERVICE_LEN + 1];
	__u64 in_progress;
};

static int cmp_gauge(const void *a, const void *b)
{
	return strcmp(((const struct service_gauge *)a)->service,
		      ((const struct service_gauge *)b)->service);
}

/* Every watched connection's record (struct http_inflight): from the
 * http_socks iterator (socket storage has no keys to walk), or from the
 * http_conns hash. Sets *count. */
static struct http_inflight *read_conns(size_t *count)
{
	struct http_conn_key key, next, *prev = NULL;
	struct http_inflight *recs = NULL, *tmp;
	struct http_conn conn;
	size_t n = 0, cap = 0;
	int fd, cfd = bpf_map__fd(skel->maps.http_conns);

	*count = 0;
	fd = socket_hooks && iter_link ? bpf_iter_create(bpf_link__fd(iter_link)) : -1;
	if (socket_hooks && fd < 0)
		return NULL;
	for (;;) {
		tmp = grow_array(recs, n, &cap, sizeof(*recs));
		if (!tmp)
			break;
		recs = tmp;
		if (socket_hooks) {
			if (read(fd, &recs[n], sizeof(*recs)) != (ssize_t)sizeof(*recs))
				break;
		} else {
			if (bpf_map_get_next_key(cfd, prev, &next))
				break;
			key = next;
			prev = &key;
			if (bpf_map_lookup_elem(cfd, &key, &conn))
				continue;
			memcpy(recs[n].service, conn.service, HTTP_SERVICE_LEN);
			recs[n].count = conn.ignore ? 0 : conn.count;
			recs[n].in_table = 0;
		}
		n++;
	}
	if (fd >= 0)
		close(fd);
	*count = n;
	return recs;
}

/*
 * The two connection counts on the map gauges, as of the latest read_conns()
 * of the in-progress gauge: a scrape renders that gauge first, so its one walk
 * of every connection serves the counts too, and all three agree. Each count
 * is taken once, and only while fresh; otherwise (a /health/detailed request,
 * say) it reads the connections itself.
 */
#define CONNS_FRESH_NS 1000000000ULL
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	__u32 conns, in_table;
	bool conns_ready, table_ready;
	__u64 at_ns;
} last_read;

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void counts_of(const struct http_inflight *recs, size_t n, __u32 *conns, __u32 *in_table)
{
	size_t i;

	*conns = n;
	*in_table = 0;
	for (i = 0; i < n && recs; i++)
		*in_table += recs[i].in_table;
}

static void keep_counts(const struct http_inflight *recs, size_t n)
{
	pthread_mutex_lock(&conns_lock);
	counts_of(recs, n, &last_read.conns, &last_read.in_table);
	last_read.conns_ready = last_read.table_ready = true;
	last_read.at_ns = monotonic_ns();
	pthread_mutex_unlock(&conns_lock);
}

/* One of the two counts: which = 0 watched connections, 1 those in the table. */
static __u32 conn_count(int which)
{
	struct http_inflight *recs;
	__u32 conns, in_table;
	bool *ready;
	size_t n;

	pthread_mutex_lock(&conns_lock);
	ready = which ? &last_read.table_ready : &last_read.conns_ready;
	if (*ready && monotonic_ns() - last_read.at_ns < CONNS_FRESH_NS) {
		*ready = false;
		conns = which ? last_read.in_table : last_read.conns;
		pthread_mutex_unlock(&conns_lock);
		return conns;
	}
	pthread_mutex_unlock(&conns_lock);
	recs = read_conns(&n);
	counts_of(recs, n, &conns, &in_table);
	free(recs);
	return which ? in_table : conns;
}

/* Watched connections. */
static __u32 count_conns(void)
{
	return conn_count(0);
}

/* Watched connections whose state is in http_sock_table. */
static __u32 count_table(void)
{
	return conn_count(1);
}

/* Requests read and not yet answered, per service. */
static void render_in_progress(struct prom *p)
{
	int sfd = bpf_map__fd(skel->maps.http_services);
	char skey[HTTP_SERVICE_LEN], snext[HTTP_SERVICE_LEN], *sprev = NULL;
	struct service_gauge *g = NULL, *tmp, probe, *hit;
	struct http_inflight *recs;
	size_t n = 0, cap = 0, nrecs, i;

	while (bpf_map_get_next_key(sfd, sprev, snext) == 0) {
		memcpy(skey, snext, sizeof(skey));
		sprev = skey;
		tmp = grow_array(g, n, &cap, sizeof(*g));
		if (!tmp)
			break;
		g = tmp;
		memcpy(g[n].service, skey, HTTP_SERVICE_LEN);
		g[n].service[HTTP_SERVICE_LEN] = 0;
		g[n].in_progress = 0;
		n++;
	}
	qsort(g, n, sizeof(*g), cmp_gauge);
	recs = read_conns(&nrecs);
	keep_counts(recs, nrecs);
	for (i = 0; i < nrecs; i++) {
		if (!recs[i].count)
			continue;
		memcpy(probe.service, recs[i].service, HTTP_SERVICE_LEN);
		probe.service[HTTP_SERVICE_LEN] = 0;
		hit = bsearch(&probe, g, n, sizeof(*g), cmp_gauge);
		if (hit)
			hit->in_progress += recs[i].count;
	}
	free(recs);
	prom__family(p, "http_requests_in_progress", "gauge",
		     "HTTP requests read by the server and not yet answered.");
	for (i = 0; i < n; i++) {
		const char *labels[] = {"service", g[i].service, NULL};
		prom__sample_u64(p, "http_requests_in_progress", labels, g[i].in_progress);
	}
	free(g);
}

static void render(struct prom *p)
{
	struct endpoint *eps;
	struct series *rows;
	size_t neps = 0, nrows = 0, i;
	char status[8];

	if (!skel)
		return;
	pthread_mutex_lock(&render_lock);
	eps = read_endpoints(&neps);
	rows = read_series(eps, neps, &nrows);

	prom__family(p, "http_requests_total", "counter",
		     "HTTP requests answered, by service, method, endpoint and status.");
	for (i = 0; i < nrows; i++) {
		snprintf(status, sizeof(status), "%u", rows[i].status);
		const char *labels[] = {
		    "service",	rows[i].ep->service,  "method", method_names[rows[i].method],
		    "endpoint", rows[i].ep->endpoint, "status", status,
		    NULL};
		prom__sample_u64(p, "http_requests_total", labels, hist_total(rows[i].st.dur));
	}
	prom__family(p, "http_request_duration_seconds", "histogram",
		     "From the first byte of the request read to the last byte of the response "
		     "written.");
	render_histogram(p, rows, nrows, H_DURATION);
	prom__family(p, "http_request_size_bytes", "histogram",
		     "Bytes of the request: request line, headers and body.");
	render_histogram(p, rows, nrows, H_REQ_SIZE);
	prom__family(p, "http_response_size_bytes", "histogram",
		     "Bytes of the response: status line, headers and body.");
	render_histogram(p, rows, nrows, H_RESP_SIZE);
	render_in_progress(p);

	free(rows);
	free(eps);
	pthread_mutex_unlock(&render_lock);
}

static bool process_gone(__u32 tgid)
{
	return kill(tgid, 0) && errno == ESRCH;
}

/* Syscall hooks: processes that exit close their sockets without close(2), so
 * their connections are forgotten here. (Socket storage goes with its socket.)
 * Keys are collected first: deleting while walking would restart the walk. */
static void tick(void)
{
	struct http_conn_key key, next, *prev = NULL, *dead = NULL, *tmp;
	static unsigned ticks;
	size_t n = 0, cap = 0, i;
	int fd;

	if (!skel || socket_hooks || ++ticks % 5)
		return;
	fd = bpf_map__fd(skel->maps.http_conns);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!process_gone(key.tgid))
			continue;
		tmp = grow_array(dead, n, &cap, sizeof(*dead));
		if (!tmp)
			break;
		dead = tmp;
		dead[n++] = key;
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &dead[i]);
	free(dead);
}

static void stop(void)
{
	if (links)
		links__destroy(links, nr_links);
	free(links);
	links = NULL;
	nr_links = 0;
	iter_link = NULL;
	unmap_hot();
	http_bpf__destroy(skel);
	skel = NULL;
}

const struct collector http_collector = {
    .name = "http",
    .start = start,
    .render = render,
    .tick = tick,
    .stop = stop,
};
