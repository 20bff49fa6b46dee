// SPDX-License-Identifier: MIT
/*
 * PostgreSQL collector, userspace side: loads bpf/pgsql.bpf.c, finds the
 * PostgreSQL servers on the host (once a second, in /proc), tells the BPF side
 * about them, attaches the USDT probes to each server binary, names statements
 * (libpg_query), and at each scrape reads the maps and renders the db_*
 * families. Individual queries are never seen here.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pg_query.h>

#include "collector.h"
#include "grow.h"
#include "drops.h"
#include "kernel.h"
#include "links.h"
#include "log.h"
#include "pgsql.h"
#include "pgsql_parse.h"
#include "pgsql.skel.h"
#include "tgid_bits.h"
#include "self.h"

#define MAX_BINARIES 32
#define NR_USDT	     3
#define TEXTS_CAP    32768 /* statement hashes named (power of 2) */

static struct pgsql_bpf *skel;
/* pg_names as read so far, by id (a pair's service, a comm, is never empty). */
static struct pg_names names_cache[PG_NAMES_MAX];
static bool socket_hooks; /* else syscall hooks: see bpf/pgsql.bpf.c */
static struct bpf_link *tp_links[16];
static size_t nr_tp_links;
static bool tp_attached; /* attach_tracepoints() ran */
static struct ring_buffer *events_rb;
static pthread_t events_thread;
static volatile bool events_stop;
static const struct config *conf;
/* Scrapes may overlap one another and the tick: they share this lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const op_names[PG_OP__MAX] = PG_OP_NAMES;

/* The USDT probes (provider "postgresql") and the programs they run. */
static const struct {
	const char *probe;
	const char *prog;
} usdt_probes[NR_USDT] = {
    {"lock__wait__start", "pgsql_lock_wait_start"},
    {"lock__wait__done", "pgsql_lock_wait_done"},
    {"deadlock__found", "pgsql_deadlock"},
};

/* Where PostgreSQL holds a TLS session's plaintext: the functions that
 * decrypt what it reads and encrypt what it writes. Only TLS sessions call
 * them, so plaintext sessions never hit these uprobes. */
#define NR_TLS_UP 4
static const struct {
	const char *func;
	const char *prog;
	bool ret;
} tls_probes[NR_TLS_UP] = {
    {"be_tls_read", "pgsql_tls_read", false},
    {"be_tls_read", "pgsql_tls_read_ret", true},
    {"be_tls_write", "pgsql_tls_write", false},
    {"be_tls_write", "pgsql_tls_write_ret", true},
};

/* A server binary the USDT and TLS programs are attached to. */
struct binary {
	dev_t dev;
	ino_t ino;
	struct bpf_link *links[NR_USDT];
	struct bpf_link *tls_links[NR_TLS_UP];
};
static struct binary binaries[MAX_BINARIES];
static size_t nr_binaries;
static unsigned usdt_attached[NR_USDT];	 /* binaries each probe is attached to */
static unsigned tls_attached[NR_TLS_UP]; /* the same for the TLS uprobes */
/* Statement hash (BPF) -> fingerprint and literal-free text (libpg_query). */
struct stmt_text {
	__u64 hash; /* 0: free slot */
	__u64 fingerprint;
	char *query;
};
static struct stmt_text texts[TEXTS_CAP];
static size_t nr_texts;

/* ---- statement texts ---------------------------------------------------------------- */

static struct stmt_text *text_slot(__u64 hash)
{
	size_t i = hash & (TEXTS_CAP - 1), n;

	for (n = 0; n < TEXTS_CAP; n++, i = (i + 1) & (TEXTS_CAP - 1))
		if (texts[i].hash == hash || texts[i].hash == 0)
			return &texts[i];
	return NULL;
}

/* Drops trailing semicolons and whitespace. */
static void trim_statement(char *q)
{
	size_t n = strlen(q);

	while (n && (q[n - 1] == ';' || isspace((unsigned char)q[n - 1])))
		q[--n] = 0;
}

/* A statement seen for the first time: keep its fingerprint and normalized
 * text; the text with its literals is dropped here and never logged. */
static void on_text(const struct pg_event *ev)
{
	PgQueryFingerprintResult fp;
	PgQueryNormalizeResult norm;
	struct stmt_text *slot;
	char text[PG_TEXT_LEN + 1];
	size_t n;

	n = ev->len < PG_TEXT_LEN ? ev->len : PG_TEXT_LEN;
	memcpy(text, ev->text, n);
	text[n] = 0;

	pthread_mutex_lock(&lock);
	slot = text_slot(ev->arg);
	if (!slot || slot->hash || nr_texts >= TEXTS_CAP / 2) {
		pthread_mutex_unlock(&lock);
		return;
	}
	fp = pg_query_fingerprint(text);
	norm = pg_query_normalize(text);
	if (!fp.error && !norm.error && norm.normalized_query) {
		slot->hash = ev->arg;
		slot->fingerprint = fp.fingerprint;
		slot->query = strdup(norm.normalized_query);
		if (slot->query) /* one shape whether or not the client ended it with ';' */
			trim_statement(slot->query);
		nr_texts++;
	} else {
		/* Cut at PG_TEXT_LEN or not SQL: counted, but without a statement row. */
		log_debug("pgsql: a statement text could not be parsed (%zu bytes)", n);
	}
	pg_query_free_fingerprint_result(fp);
	pg_query_free_normalize_result(norm);
	memset(text, 0, sizeof(text));
	pthread_mutex_unlock(&lock);
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct pg_event *ev = data;

	(void)ctx;
	if (size < offsetof(struct pg_event, text))
		return 0;
	if (ev->kind == PG_EV_TEXT && size >= sizeof(*ev))
		on_text(ev);
	return 0;
}

/* Statement texts are taken as they come, not at the next tick: a scrape
 * then names every statement the BPF side saw before it. */
static void *events_main(void *arg)
{
	(void)arg;
	while (!events_stop)
		ring_buffer__poll(events_rb, 100);
	return NULL;
}

/* ---- finding servers -------------------------------------------------------------- */

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

/* ppid and comm from /proc/PID/stat. */
static int proc_stat(int pid, int *ppid, char *comm, size_t commsz)
{
	char path[64], buf[512], *open_paren, *close_paren;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -1;
	snprintf(comm, commsz, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
	if (sscanf(close_paren + 2, "%*c %d", ppid) != 1)
		return -1;
	return 0;
}

/* Every PostgreSQL process sets its title to "postgres: ...", whatever the
 * binary is called: that is how servers are recognised. */
static bool has_pg_title(int pid, char *title, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	n = read_file(path, title, size);
	return n > 10 && !strncmp(title, "postgres: ", 10);
}

/* The database of a client backend from its title (pg_title_database, the
 * parser the BPF side runs on a TLS backend it joined late). Returns false
 * for the server's other processes (checkpointer, autovacuum worker, ...). */
bool pgsql__title_database(const char *title, char *db, size_t dbsz);
bool pgsql__title_database(const char *title, char *db, size_t dbsz)
{
	char text[PG_TEXT_LEN] = {0};
	struct pg_title t;

	if (!dbsz)
		return false;
	snprintf(text, sizeof(text), "%s", title);
	return pg_title_database(text, strlen(text), &t, db, dbsz) == 0;
}

/* The one socket a backend holds: its client. -1 when not exactly one. */
static int backend_socket(int pid)
{
	char path[320], link[64];
	struct dirent *de;
	int fd = -1, found = 0;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (!strncmp(link, "socket:", 7)) {
			fd = atoi(de->d_name);
			found++;
		}
	}
	closedir(d);
	return found == 1 ? fd : -1;
}

/* The outcome of one per-binary attach: a program attached to any binary is
 * reported attached; one attached nowhere, with the first reason. */
static void binary_attached(const char *prog, struct bpf_link *link, unsigned *attached,
			    const char *err)
{
	if (link) {
		(*attached)++;
		self__program("pgsql", prog, true, false, NULL);
	} else if (!*attached) {
		self__program("pgsql", prog, false, false, err);
	}
}

/* The USDT probes for lock waits and deadlocks. */
static void attach_usdt(struct binary *b, const char *exe, int pid)
{
	struct bpf_program *prog;
	char probe_err[128] = "";
	size_t i;

	for (i = 0; i < NR_USDT; i++) {
		prog = bpf_object__find_program_by_name(skel->obj, usdt_probes[i].prog);
		if (!prog)
			continue;
		b->links[i] = bpf_program__attach_usdt(prog, -1, exe, "postgresql",
						       usdt_probes[i].probe, NULL);
		if (!b->links[i]) {
			snprintf(probe_err, sizeof(probe_err),
				 "server binary of pid %d has no USDT probe postgresql:%s (%s)",
				 pid, usdt_probes[i].probe, strerror(errno));
			log_warn("pgsql: %s: lock waits and deadlocks are not measured there",
				 probe_err);
		}
		binary_attached(usdt_probes[i].prog, b->links[i], &usdt_attached[i], probe_err);
	}
}

/*
 * The TLS uprobes, on every process running the binary (the kernel puts the
 * breakpoints in the binary's pages as each process maps them): in place
 * before the server's first TLS session, so each one is read whole, from its
 * startup packet on. A binary built without OpenSSL has no be_tls_read: its
 * TLS sessions (none, then) are not read, and /health/detailed says so.
 */
static void attach_tls(struct binary *b, const char *exe, int pid)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_program *prog;
	char probe_err[160] = "";
	size_t i;

	for (i = 0; i < NR_TLS_UP; i++) {
		prog = bpf_object__find_program_by_name(skel->obj, tls_probes[i].prog);
		if (!prog)
			continue;
		opts.func_name = tls_probes[i].func;
		opts.retprobe = tls_probes[i].ret;
		b->tls_links[i] = bpf_program__attach_uprobe_opts(prog, -1, exe, 0, &opts);
		if (!b->tls_links[i]) {
			snprintf(probe_err, sizeof(probe_err),
				 "server binary of pid %d: no uprobe on %s (%s)", pid,
				 tls_probes[i].func, strerror(errno));
			log_warn("pgsql: %s: TLS sessions are not measured there", probe_err);
		}
		binary_attached(tls_probes[i].prog, b->tls_links[i], &tls_attached[i], probe_err);
	}
}

/* The per-binary programs (USDT and TLS), once for each server binary. */
static void attach_binary(int pid)
{
	struct binary *b;
	struct stat st;
	char exe[64];
	size_t i;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (stat(exe, &st))
		return;
	for (i = 0; i < nr_binaries; i++)
		if (binaries[i].dev == st.st_dev && binaries[i].ino == st.st_ino)
			return;
	if (nr_binaries == MAX_BINARIES)
		return;
	b = &binaries[nr_binaries++];
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	attach_usdt(b, exe, pid);
	attach_tls(b, exe, pid);
}

/* A backend that was connected before its server was known: track it from
 * its next message, with the database its title names. */
static void adopt_backend(int pid, int server, const char *service, const char *title)
{
	__u32 key = pid;
	struct pg_conn c;
	char db[PG_DB_LEN];
	int fd;

	if (!pgsql__title_database(title, db, sizeof(db)))
		return;
	/* Followed since its fork (a TLS backend joined late reads its database
	 * from its title on the BPF side). */
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.pg_conns), &key, &c))
		return;
	fd = backend_socket(pid);
	if (fd < 0)
		return;
	memset(&c, 0, sizeof(c));
	memcpy(c.database, db, strnlen(db, sizeof(c.database) - 1));
	memcpy(c.service, service, strnlen(service, sizeof(c.service) - 1));
	c.fd = fd;
	c.server = server;
	c.state = PG_S_READY;
	c.xact = 'I';
	/* Its bit in pg_backends first: a message in between then finds no
	 * entry, as before. */
	tgid_add(skel->bss->pg_backends, key);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.pg_conns), &key, &c, BPF_NOEXIST) == 0)
		log_debug("pgsql: following backend %d (database %s)", pid, db);
}

struct pg_proc {
	int pid, ppid;
	char title[256];
};

/* A program of the hooks in use that attach_tracepoints() attaches (the USDT
 * probes and TLS uprobes are attached per server binary). */
static bool is_tracepoint(struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return bpf_program__autoload(prog) &&
	       (!strncmp(sec, "tracepoint/", 11) || !strncmp(sec, "tp_btf/", 7));
}

/*
 * Attaches the tracepoint programs: fork, exit, and the socket or syscall
 * hooks. Done when the first server is found, not at start: a host without
 * PostgreSQL would otherwise pay for them on every socket read and write, for
 * nothing (two programs on one tracepoint cost more than one, README). With
 * --check, at start, to say whether they can be.
 */
static void attach_tracepoints(void)
{
	struct bpf_program *prog;
	struct bpf_link *link;

	if (tp_attached)
		return;
	tp_attached = true;
	bpf_object__for_each_program(prog, skel->obj)
	{
		if (!is_tracepoint(prog))
			continue;
		link = self__attached("pgsql", prog, bpf_program__attach(prog));
		if (link && nr_tp_links < sizeof(tp_links) / sizeof(tp_links[0]))
			tp_links[nr_tp_links++] = link;
	}
	log_info("pgsql: %zu programs attached", nr_tp_links);
}

/* One pass over /proc: servers (the parents of "postgres: " processes) into
 * pg_servers, the USDT probes and TLS uprobes onto their binaries, and their
 * unknown backends adopted. */
static void discover(void)
{
	int sfd = bpf_map__fd(skel->maps.pg_servers), pid, ppid, sppid;
	struct pg_proc *procs = NULL, *tmp;
	struct pg_server fresh = {};
	char comm[32], title[256], scomm[32];
	size_t n = 0, cap = 0, i;
	int last_ppid = -1;
	bool is_server = false;
	struct dirent *de;
	__u32 key;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (!has_pg_title(pid, title, sizeof(title)) ||
		    proc_stat(pid, &ppid, comm, sizeof(comm)))
			continue;
		tmp = grow_array(procs, n, &cap, sizeof(*procs));
		if (!tmp)
			break;
		procs = tmp;
		procs[n].pid = pid;
		procs[n].ppid = ppid;
		snprintf(procs[n].title, sizeof(procs[n].title), "%s", title);
		n++;
	}
	closedir(d);

	for (i = 0; i < n; i++) {
		ppid = procs[i].ppid;
		key = ppid;
		/* The server is the parent that does not carry a title itself.
		 * Its processes mostly come one after another in /proc: look at
		 * a parent once per run of them, not once per backend. */
		if (ppid != last_ppid) {
			last_ppid = ppid;
			is_server = !has_pg_title(ppid, title, sizeof(title)) &&
				    !proc_stat(ppid, &sppid, scomm, sizeof(scomm));
			if (is_server) {
				/* Before the fork hook can know the server, so that
				 * every backend it follows is read whole (TLS ones
				 * too). Once per binary. */
				attach_tracepoints();
				attach_binary(ppid);
				if (bpf_map_update_elem(sfd, &key, &fresh, BPF_NOEXIST) == 0)
					log_info("pgsql: PostgreSQL server pid %d found", ppid);
			}
		}
		if (is_server)
			adopt_backend(procs[i].pid, ppid, scomm, procs[i].title);
	}
	free(procs);
}

/* ---- start / stop ---------------------------------------------------------------- */

static int start(const struct config *cfg)
{
	struct bpf_program *prog;
	size_t i;
	int err;

	conf = cfg;
	skel = pgsql_bpf__open();
	if (!skel) {
		err = -errno;
		log_error("pgsql: cannot open BPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->nr_dur_bounds =
	    hist_fill_bounds(skel->rodata->dur_bounds, cfg->pgsql_duration_buckets,
			     cfg->pgsql_n_duration_buckets, 1e9);

	/* One set of hooks or the other (see bpf/pgsql.bpf.c). */
	socket_hooks = cfg->pgsql_hooks != HOOKS_SYSCALL && kernel__has_socket_hooks(false);
	if (cfg->pgsql_hooks == HOOKS_SOCKET && !socket_hooks) {
		socket_hooks = true; /* as asked: attaching will say what is missing */
		log_warn("pgsql: --pgsql.hooks=socket, but this kernel lacks the socket "
			 "tracepoints (Linux 6.3+)");
	}
	skel->rodata->socket_hooks = socket_hooks;
	bpf_object__for_each_program(prog, skel->obj)
	{
		const char *sec = bpf_program__section_name(prog);

		if (!strncmp(sec, "tp_btf/", 7))
			bpf_program__set_autoload(prog, socket_hooks);
		else if (!strncmp(sec, "tracepoint/syscalls/", 20))
			bpf_program__set_autoload(prog, !socket_hooks);
	}
	log_info("pgsql: %s hooks", socket_hooks ? "socket" : "syscall");
	err = pgsql_bpf__load(skel);
	if (err) {
		log_error("pgsql: cannot load BPF programs: %s", strerror(-err));
		goto cleanup;
	}

	tp_attached = false;
	if (cfg->check) {
		attach_tracepoints();
	} else {
		bpf_object__for_each_program(prog, skel->obj)
		{
			if (is_tracepoint(prog))
				self__program("pgsql", bpf_program__name(prog), false, false,
					      "no PostgreSQL server found yet");
		}
	}
	for (i = 0; i < NR_USDT; i++)
		self__program("pgsql", usdt_probes[i].prog, false, false,
			      "no PostgreSQL server found yet");
	for (i = 0; i < NR_TLS_UP; i++)
		self__program("pgsql", tls_probes[i].prog, false, false,
			      "no PostgreSQL server found yet");

	events_rb = ring_buffer__new(bpf_map__fd(skel->maps.pg_events), on_event, NULL, NULL);
	if (!events_rb) {
		err = -errno;
		log_error("pgsql: cannot open the event ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	events_stop = false;
	err = -pthread_create(&events_thread, NULL, events_main, NULL);
	if (err) {
		log_error("pgsql: cannot start the event thread: %s", strerror(-err));
		ring_buffer__free(events_rb);
		events_rb = NULL;
		goto cleanup;
	}
	self__map("pg_conns", bpf_map__fd(skel->maps.pg_conns),
		  bpf_map__max_entries(skel->maps.pg_conns));
	self__map("pg_hist", bpf_map__fd(skel->maps.pg_hist),
		  bpf_map__max_entries(skel->maps.pg_hist));
	self__map("pg_count", bpf_map__fd(skel->maps.pg_count),
		  bpf_map__max_entries(skel->maps.pg_count));
	self__map("pg_stmt", bpf_map__fd(skel->maps.pg_stmt),
		  bpf_map__max_entries(skel->maps.pg_stmt));
	self__map("pg_name_ids", bpf_map__fd(skel->maps.pg_name_ids),
		  bpf_map__max_entries(skel->maps.pg_name_ids));
	self__drops("pgsql", bpf_map__fd(skel->maps.drops), skel->obj);
	discover();
	return 0;

cleanup:
	pgsql_bpf__destroy(skel);
	skel = NULL;
	return err;
}

static void tick(void)
{
	if (!skel)
		return;
	discover();
}

static void stop(void)
{
	struct bpf_link **all;
	size_t i, j, n = 0;

	if (events_rb) {
		events_stop = true;
		pthread_join(events_thread, NULL);
	}
	/* All at once: each detach waits for the kernel (links.h). */
	all = calloc(MAX_BINARIES * (NR_USDT + NR_TLS_UP) + nr_tp_links, sizeof(*all));
	for (i = 0; i < nr_binaries; i++) {
		for (j = 0; j < NR_USDT; j++)
			if (all && binaries[i].links[j])
				all[n++] = binaries[i].links[j];
			else
				bpf_link__destroy(binaries[i].links[j]);
		for (j = 0; j < NR_TLS_UP; j++)
			if (all && binaries[i].tls_links[j])
				all[n++] = binaries[i].tls_links[j];
			else
				bpf_link__destroy(binaries[i].tls_links[j]);
		memset(&binaries[i], 0, sizeof(binaries[i]));
	}
	memset(usdt_attached, 0, sizeof(usdt_attached));
	memset(tls_attached, 0, sizeof(tls_attached));
	for (i = 0; i < nr_tp_links; i++)
		if (all)
			all[n++] = tp_links[i];
		else
			bpf_link__destroy(tp_links[i]);
	links__destroy(all, n);
	free(all);
	nr_tp_links = 0;
	nr_binaries = 0;
	ring_buffer__free(events_rb);
	events_rb = NULL;
	pgsql_bpf__destroy(skel);
	skel = NULL;
	for (i = 0; i < TEXTS_CAP; i++) {
		free(texts[i].query);
		texts[i].query = NULL;
		texts[i].hash = 0;
	}
	nr_texts = 0;
	memset(names_cache, 0, sizeof(names_cache));
}

/* ---- reading the maps ---------------------------------------------------------------- */

/* A series as rendered: its key with the names its id stands for. */
struct series {
	char database[PG_DB_LEN];
	char service[PG_SERVICE_LEN];
	__u32 kind;
	__u32 code;
};

/*
 * The names of a pair id found in a series key. BPF writes them before any
 * key carries the id, and an id is never given to another pair, so each is
 * read from pg_names once; 0 when it cannot be.
 */
static const struct pg_names *names_of(__u32 id)
{
	struct pg_names *n = id < PG_NAMES_MAX ? &names_cache[id] : NULL;

	if (!n || (!n->service[0] && bpf_map_lookup_elem(bpf_map__fd(skel->maps.pg_names), &id, n)))
		return NULL;
	return n;
}

/* A series of the pair id: its names into s; false when they are unknown. */
static bool series_of(__u32 id, __u32 kind, __u32 code, struct series *s)
{
	const struct pg_names *n = names_of(id);

	if (!n)
		return false;
	memcpy(s->database, n->database, PG_DB_LEN);
	memcpy(s->service, n->service, PG_SERVICE_LEN);
	s->kind = kind;
	s->code = code;
	return true;
}

/* One map entry summed over CPUs: a histogram or a counter. */
struct row {
	struct series key;
	__u64 hash;	   /* pg_stmt rows: the fingerprint once named */
	const char *query; /* pg_stmt rows */
	struct pg_hist h;
	__u64 value;
};

static int cmp_key(const struct series *x, const struct series *y)
{
	int r = strncmp(x->service, y->service, PG_SERVICE_LEN);

	if (!r)
		r = strncmp(x->database, y->database, PG_DB_LEN);
	if (!r)
		r = (int)x->kind - (int)y->kind;
	/* Queries: by operation, then status, so one operation's rows are adjacent. */
	if (!r)
		r = (int)(x->code & 0xff) - (int)(y->code & 0xff);
	if (!r)
		r = (x->code > y->code) - (x->code < y->code);
	return r;
}

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int r = cmp_key(&x->key, &y->key);

	if (!r)
		r = (x->hash > y->hash) - (x->hash < y->hash);
	return r;
}

static struct row *grow(struct row *rows, size_t n, size_t *cap)
{
	struct row *tmp = grow_array(rows, n, cap, sizeof(*rows));

	if (!tmp)
		free(rows);
	return tmp;
}

/* pg_hist or pg_count (value_size 8) entries, summed over CPUs. */
static struct row *read_rows(int fd, bool hist, size_t *count)
{
	int ncpu = libbpf_num_possible_cpus(), c, i;
	size_t vsz = hist ? sizeof(struct pg_hist) : sizeof(__u64), n = 0, cap = 0;
	struct pg_key key, next, *prev = NULL;
	struct row *rows = NULL;
	struct series series;
	char *percpu;

	percpu = calloc(ncpu, vsz);
	if (!percpu)
		return NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!series_of(key.names, key.kind, key.code, &series) ||
		    bpf_map_lookup_elem(fd, &key, percpu))
			continue;
		rows = grow(rows, n, &cap);
		if (!rows)
			break;
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].key = series;
		for (c = 0; c < ncpu; c++) {
			if (hist) {
				const struct pg_hist *h = (const void *)(percpu + c * vsz);

				rows[n].h.sum_ns += h->sum_ns;
				for (i = 0; i < HIST_SLOTS; i++)
					rows[n].h.slots[i] += h->slots[i];
			} else {
				rows[n].value += *(const __u64 *)(percpu + c * vsz);
			}
		}
		n++;
	}
	free(percpu);
	if (rows)
		qsort(rows, n, sizeof(*rows), cmp_row);
	*count = rows ? n : 0;
	return rows;
}

static void hist_merge(struct pg_hist *dst, const struct pg_hist *src)
{
	int i;

	dst->sum_ns += src->sum_ns;
	for (i = 0; i < HIST_SLOTS; i++)
		dst->slots[i] += src->slots[i];
}

/* ---- rendering -------------------------------------------------------------------- */

/* service, database NUL-terminated from a key. */
struct labels {
	char service[PG_SERVICE_LEN + 1];
	char database[PG_DB_LEN + 1];
};

static void key_labels(const struct series *k, struct labels *l)
{
	memcpy(l->service, k->service, PG_SERVICE_LEN);
	l->service[PG_SERVICE_LEN] = 0;
	memcpy(l->database, k->database, PG_DB_LEN);
	l->database[PG_DB_LEN] = 0;
}

static const char *op_name(__u32 code)
{
	return (code & 0xff) < PG_OP__MAX ? op_names[code & 0xff] : "OTHER";
}

void pgsql__sqlstate_unpack(__u32 v, char out[6]);
void pgsql__sqlstate_unpack(__u32 v, char out[6])
{
	int i, d;

	for (i = 4; i >= 0; i--) {
		d = v % 36;
		v /= 36;
		out[i] = d < 10 ? '0' + d : 'A' + d - 10;
	}
	out[5] = 0;
}

/* extra_key NULL: service, db_system and database only. */
static void render_hist(struct prom *p, const char *name, const struct labels *l,
			const char *extra_key, const char *extra_val, const struct pg_hist *h)
{
	const char *labels[] = {"service",   l->service, "db_system", "postgresql", "database",
				l->database, extra_key,	 extra_val,   NULL};

	prom__histogram(p, name, labels, conf->pgsql_duration_buckets, h->slots,
			conf->pgsql_n_duration_buckets, h->sum_ns / 1e9);
}

static void render_queries(struct prom *p, const struct row *rows, size_t n)
{
	struct labels l;
	struct pg_hist sum;
	size_t i, j;

	prom__family(p, "db_queries_total", "counter",
		     "Statements answered by the server, by operation and status (ok or error).");
	for (i = 0; i < n; i++) {
		if (rows[i].key.kind != PG_K_QUERY)
			continue;
		key_labels(&rows[i].key, &l);
		const char *labels[] = {"service",   l.service,
					"db_system", "postgresql",
					"database",  l.database,
					"operation", op_name(rows[i].key.code),
					"status",    rows[i].key.code >> 8 ? "error" : "ok",
					NULL};
		prom__sample_u64(p, "db_queries_total", labels, hist_total(rows[i].h.slots));
	}
	prom__family(p, "db_query_duration_seconds", "histogram",
		     "From the read that brought the statement to the write that handed its "
		     "answer to the kernel.");
	for (i = 0; i < n; i = j) {
		if (rows[i].key.kind != PG_K_QUERY) {
			j = i + 1;
			continue;
		}
		memset(&sum, 0, sizeof(sum));
		for (j = i; j < n && rows[j].key.kind == PG_K_QUERY &&
			    (rows[j].key.code & 0xff) == (rows[i].key.code & 0xff) &&
			    !strncmp(rows[j].key.database, rows[i].key.database, PG_DB_LEN) &&
			    !strncmp(rows[j].key.service, rows[i].key.service, PG_SERVICE_LEN);
		     j++)
			hist_merge(&sum, &rows[j].h);
		key_labels(&rows[i].key, &l);
		render_hist(p, "db_query_duration_seconds", &l, "operation",
			    op_name(rows[i].key.code), &sum);
	}
	prom__family(p, "db_lock_wait_duration_seconds", "histogram",
		     "Time backends waited for a heavyweight lock.");
	for (i = 0; i < n; i++) {
		if (rows[i].key.kind != PG_K_LOCK_WAIT)
			continue;
		key_labels(&rows[i].key, &l);
		render_hist(p, "db_lock_wait_duration_seconds", &l, NULL, NULL, &rows[i].h);
	}
}

/* Counter families of pg_count, one kind each. */
static void render_counter(struct prom *p, const struct row *rows, size_t n, __u32 kind,
			   const char *name, const char *help)
{
	char code[8];
	struct labels l;
	size_t i;

	prom__family(p, name, "counter", help);
	for (i = 0; i < n; i++) {
		if (rows[i].key.kind != kind)
			continue;
		key_labels(&rows[i].key, &l);
		const char *extra_key = NULL, *extra_val = NULL;
		if (kind == PG_K_ERROR) {
			pgsql__sqlstate_unpack(rows[i].key.code, code);
			extra_key = "sqlstate";
			extra_val = code;
		} else if (kind == PG_K_XACT) {
			extra_key = "outcome";
			extra_val = rows[i].key.code ? "rollback" : "commit";
		}
		const char *labels[] = {"service",    l.service,  "db_system",
					"postgresql", "database", l.database,
					extra_key,    extra_val,  NULL};
		prom__sample_u64(p, name, labels, rows[i].value);
	}
}

struct active {
	struct series key; /* service and database; kind 0 */
	__u64 n;
};

static int cmp_active(const void *a, const void *b)
{
	return cmp_key(&((const struct active *)a)->key, &((const struct active *)b)->key);
}

/* Adds inc to the (service, database) entry of *a, creating it. */
static struct active *active_add(struct active *a, size_t *n, size_t *cap, const char *service,
				 const char *database, __u64 inc)
{
	struct active probe = {}, *tmp;
	size_t k;

	memcpy(probe.key.service, service, PG_SERVICE_LEN);
	memcpy(probe.key.database, database, PG_DB_LEN);
	for (k = 0; k < *n; k++) {
		if (!cmp_key(&a[k].key, &probe.key)) {
			a[k].n += inc;
			return a;
		}
	}
	tmp = grow_array(a, *n, cap, sizeof(*a));
	if (!tmp)
		return a;
	a = tmp;
	probe.n = inc;
	a[(*n)++] = probe;
	return a;
}

/* Sessions open now, from the live backend table; a database that had
 * sessions and has none now shows 0. */
static void render_active(struct prom *p, const struct row *counts, size_t ncounts)
{
	int fd = bpf_map__fd(skel->maps.pg_conns);
	__u32 key, next, *prev = NULL;
	size_t n = 0, cap = 0, i;
	struct active *a = NULL;
	struct pg_conn c;
	struct labels l;

	for (i = 0; i < ncounts; i++)
		if (counts[i].key.kind == PG_K_CONN_OPENED)
			a = active_add(a, &n, &cap, counts[i].key.service, counts[i].key.database,
				       0);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &c) || c.state != PG_S_READY)
			continue;
		a = active_add(a, &n, &cap, c.service, c.database, 1);
	}
	if (a)
		qsort(a, n, sizeof(*a), cmp_active);
	prom__family(p, "db_connections_active", "gauge",
		     "Client sessions open now (authenticated backends).");
	for (i = 0; i < n; i++) {
		key_labels(&a[i].key, &l);
		const char *labels[] = {"service",  l.service,	"db_system", "postgresql",
					"database", l.database, NULL};
		prom__sample_u64(p, "db_connections_active", labels, a[i].n);
	}
	free(a);
}

static int cmp_stmt_total(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return (x->h.sum_ns < y->h.sum_ns) - (x->h.sum_ns > y->h.sum_ns);
}

/* The top statements by total time, each with its histogram and its text. */
static void render_statements(struct prom *p)
{
	int fd = bpf_map__fd(skel->maps.pg_stmt), ncpu = libbpf_num_possible_cpus(), c;
	struct pg_stmt_key key, next, *prev = NULL;
	struct row *rows = NULL;
	struct pg_hist *percpu;
	size_t n = 0, cap = 0, m = 0, i;
	struct stmt_text *t;
	struct series series;
	struct labels l;
	char fp[20];

	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		t = text_slot(key.hash);
		if (!t || t->hash != key.hash || !series_of(key.names, 0, 0, &series) ||
		    bpf_map_lookup_elem(fd, &key, percpu))
			continue; /* not named (yet): no statement row */
		rows = grow(rows, n, &cap);
		if (!rows)
			break;
		memset(&rows[n], 0, sizeof(rows[n]));
		rows[n].key = series;
		rows[n].hash = t->fingerprint;
		rows[n].query = t->query;
		for (c = 0; c < ncpu; c++)
			hist_merge(&rows[n].h, &percpu[c]);
		n++;
	}
	free(percpu);
	/* Shapes libpg_query fingerprints alike are one statement. */
	if (rows)
		qsort(rows, n, sizeof(*rows), cmp_row);
	for (i = 0; i < n; i++) {
		if (m && !cmp_row(&rows[m - 1], &rows[i]))
			hist_merge(&rows[m - 1].h, &rows[i].h);
		else
			rows[m++] = rows[i];
	}
	if (rows)
		qsort(rows, m, sizeof(*rows), cmp_stmt_total);
	if (m > conf->pgsql_max_statements)
		m = conf->pgsql_max_statements;
	if (rows)
		qsort(rows, m, sizeof(*rows), cmp_row);

	prom__family(p, "db_statement_duration_seconds", "histogram",
		     "Latency of the statements with the most total time, by fingerprint.");
	for (i = 0; i < m; i++) {
		key_labels(&rows[i].key, &l);
		snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)rows[i].hash);
		render_hist(p, "db_statement_duration_seconds", &l, "fingerprint", fp, &rows[i].h);
	}
	prom__family(p, "db_statement_info", "gauge",
		     "The normalized text (no literals) of each fingerprint above.");
	for (i = 0; i < m; i++) {
		key_labels(&rows[i].key, &l);
		snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)rows[i].hash);
		const char *labels[] = {"service",  l.service,	   "db_system",	  "postgresql",
					"database", l.database,	   "fingerprint", fp,
					"query",    rows[i].query, NULL};
		prom__sample_u64(p, "db_statement_info", labels, 1);
	}
	free(rows);
}

static void render(struct prom *p)
{
	struct row *hists, *counts;
	size_t nh = 0, nc = 0;

	if (!skel)
		return;
	pthread_mutex_lock(&lock);
	hists = read_rows(bpf_map__fd(skel->maps.pg_hist), true, &nh);
	counts = read_rows(bpf_map__fd(skel->maps.pg_count), false, &nc);

	render_queries(p, hists, nh);
	render_counter(p, counts, nc, PG_K_ERROR, "db_query_errors_total",
		       "Statements that failed, by SQLSTATE.");
	render_counter(p, counts, nc, PG_K_XACT, "db_transactions_total",
		       "Transactions ended, by outcome (commit or rollback).");
	render_counter(p, counts, nc, PG_K_CONN_OPENED, "db_connections_total",
		       "Client sessions opened (authenticated) while redscope watched.");
	render_counter(p, counts, nc, PG_K_DEADLOCK, "db_deadlocks_total",
		       "Deadlocks the server detected.");
	render_active(p, counts, nc);
	render_statements(p);

	free(hists);
	free(counts);
	pthread_mutex_unlock(&lock);
}

const struct collector pgsql_collector = {
    .name = "pgsql",
    .start = start,
    .render = render,
    .tick = tick,
    .stop = stop,
};
