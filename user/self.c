// SPDX-License-Identifier: MIT
/* Self-observability: what redscope attached, how full its maps are, what the
 * BPF side could not record, and the standard process_* families. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "drops.h"
#include "log.h"
#include "self.h"

#define MAX_PROGS      64
#define MAX_MAPS       32
#define MAX_COLLECTORS 8

struct prog_state {
	char collector[16], name[64], detail[128];
	bool attached, required;
};

struct map_state {
	char name[32];
	int fd;
	__u32 capacity;	      /* 0: none (socket storage grows with the sockets) */
	__u32 (*count)(void); /* counts entries when keys cannot be walked */
};

struct collector_state {
	char name[16], detail[128];
	int drops_fd;		/* -1: none registered */
	struct bpf_object *obj; /* its programs, for the kernel's recursion misses */
	bool failed;
};

/* Written during startup, read by scrape threads: guarded by one lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct prog_state progs[MAX_PROGS];
static struct map_state maps[MAX_MAPS];
static struct collector_state colls[MAX_COLLECTORS];
static unsigned nr_progs, nr_maps, nr_colls;
static bool started;

static const char *const drop_names[DROP__MAX] = DROP_REASON_NAMES;

static struct collector_state *coll_get(const char *name)
{
	unsigned i;

	for (i = 0; i < nr_colls; i++)
		if (!strcmp(colls[i].name, name))
			return &colls[i];
	if (nr_colls == MAX_COLLECTORS)
		return NULL;
	memset(&colls[nr_colls], 0, sizeof(colls[0]));
	snprintf(colls[nr_colls].name, sizeof(colls[0].name), "%s", name);
	colls[nr_colls].drops_fd = -1;
	return &colls[nr_colls++];
}

void self__program(const char *collector, const char *name, bool attached, bool required,
		   const char *detail)
{
	struct prog_state *p = NULL;
	unsigned i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nr_progs; i++)
		if (!strcmp(progs[i].collector, collector) && !strcmp(progs[i].name, name))
			p = &progs[i];
	if (!p && nr_progs < MAX_PROGS)
		p = &progs[nr_progs++];
	if (p) {
		snprintf(p->collector, sizeof(p->collector), "%s", collector);
		snprintf(p->name, sizeof(p->name), "%s", name);
		snprintf(p->detail, sizeof(p->detail), "%s", detail ? detail : "");
		p->attached = attached;
		p->required = required;
	}
	pthread_mutex_unlock(&lock);
}

void self__collector(const char *name, int err)
{
	struct collector_state *c;

	pthread_mutex_lock(&lock);
	c = coll_get(name);
	if (c) {
		c->failed = err != 0;
		snprintf(c->detail, sizeof(c->detail), "%s", err ? strerror(-err) : "");
	}
	pthread_mutex_unlock(&lock);
}

struct bpf_link *self__attached(const char *collector, struct bpf_program *prog,
				struct bpf_link *link)
{
	const char *name = bpf_program__name(prog);
	int err = errno;

	if (!link) {
		log_warn("%s: cannot attach %s (%s): %s", collector, name,
			 bpf_program__section_name(prog), strerror(err));
		self__program(collector, name, false, true, strerror(err));
		return NULL;
	}
	self__program(collector, name, true, true, NULL);
	return link;
}

/* Every field set: a slot reused after self__reset() keeps nothing stale. */
static void add_map(const char *name, int fd, __u32 capacity, __u32 (*count)(void))
{
	pthread_mutex_lock(&lock);
	if (nr_maps < MAX_MAPS) {
		snprintf(maps[nr_maps].name, sizeof(maps[0].name), "%s", name);
		maps[nr_maps].fd = fd;
		maps[nr_maps].capacity = capacity;
		maps[nr_maps].count = count;
		nr_maps++;
	}
	pthread_mutex_unlock(&lock);
}

void self__map(const char *name, int map_fd, __u32 capacity)
{
	add_map(name, map_fd, capacity, NULL);
}

void self__map_counted(const char *name, __u32 (*count)(void), __u32 capacity)
{
	add_map(name, -1, capacity, count);
}

void self__drops(const char *collector, int drops_map_fd, struct bpf_object *obj)
{
	struct collector_state *c;

	pthread_mutex_lock(&lock);
	c = coll_get(collector);
	if (c) {
		c->drops_fd = drops_map_fd;
		c->obj = obj;
	}
	pthread_mutex_unlock(&lock);
}

void self__set_started(void)
{
	pthread_mutex_lock(&lock);
	started = true;
	pthread_mutex_unlock(&lock);
}

void self__reset(void)
{
	pthread_mutex_lock(&lock);
	nr_progs = nr_maps = nr_colls = 0;
	started = false;
	pthread_mutex_unlock(&lock);
}

/* Entries of a hash map, counted by walking its keys (maps here are small). */
static __u32 map_entries(const struct map_state *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), n = 0;
	char key[256], next[256];
	void *prev = NULL;

	if (m->count)
		return m->count();
	if (bpf_obj_get_info_by_fd(m->fd, &info, &len) || info.key_size > sizeof(key))
		return 0;
	if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY)
		return info.max_entries;
	while (n <= m->capacity && bpf_map_get_next_key(m->fd, prev, next) == 0) {
		memcpy(key, next, info.key_size);
		prev = key;
		n++;
	}
	return n;
}

/* Runs of obj's loaded programs that the kernel skipped as recursive. */
static __u64 recursion_misses(struct bpf_object *obj)
{
	struct bpf_program *prog;
	__u64 n = 0;

	if (!obj)
		return 0;
	bpf_object__for_each_program(prog, obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			n += info.recursion_misses;
	}
	return n;
}

/* One collector's per-CPU drops array, summed over CPUs, and the kernel's
 * recursion misses of its programs. */
static void read_drops(const struct collector_state *coll, __u64 out[DROP__MAX])
{
	int ncpu = libbpf_num_possible_cpus(), c;
	__u64 *vals;
	__u32 r;

	memset(out, 0, sizeof(__u64) * DROP__MAX);
	out[DROP_RECURSION_MISS] = recursion_misses(coll->obj);
	if (coll->drops_fd < 0 || ncpu <= 0)
		return;
	vals = calloc(ncpu, sizeof(__u64));
	if (!vals)
		return;
	for (r = 0; r < DROP__MAX; r++) {
		if (r == DROP_RECURSION_MISS || bpf_map_lookup_elem(coll->drops_fd, &r, vals))
			continue;
		for (c = 0; c < ncpu; c++)
			out[r] += vals[c];
	}
	free(vals);
}

struct proc_stats {
	double cpu_seconds, start_time;
	unsigned long long rss_bytes, vsize_bytes;
	int open_fds;
};

static void read_proc(struct proc_stats *ps)
{
	unsigned long long utime = 0, stime = 0, starttime = 0, vsize = 0;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	long long rss = 0, btime = 0;
	char buf[1024], *p;
	FILE *f;

	memset(ps, 0, sizeof(*ps));
	f = fopen("/proc/self/stat", "r");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
			/* fields 14-15 utime stime, 22 starttime, 23 vsize, 24 rss */
			sscanf(p + 2,
			       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
			       "%*d %*d %*d %llu %llu %lld",
			       &utime, &stime, &starttime, &vsize, &rss);
		fclose(f);
	}
	f = fopen("/proc/stat", "r");
	if (f) {
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "btime %lld", &btime) == 1)
				break;
		fclose(f);
	}
	ps->cpu_seconds = (double)(utime + stime) / tck;
	ps->start_time = btime + (double)starttime / tck;
	ps->rss_bytes = (unsigned long long)rss * page;
	ps->vsize_bytes = vsize;
}

static void kernel_release(char *out, size_t n)
{
	struct utsname u;

	snprintf(out, n, "%s", uname(&u) ? "unknown" : u.release);
}

static bool ready_locked(char *reason, size_t n)
{
	unsigned i;

	for (i = 0; i < nr_colls; i++) {
		if (colls[i].failed) {
			snprintf(reason, n, "collector %s failed to start: %s", colls[i].name,
				 colls[i].detail);
			return false;
		}
	}
	for (i = 0; i < nr_progs; i++) {
		if (progs[i].required && !progs[i].attached) {
			snprintf(reason, n, "program %s/%s is not attached: %s", progs[i].collector,
				 progs[i].name, progs[i].detail);
			return false;
		}
	}
	if (!started) {
		snprintf(reason, n, "starting");
		return false;
	}
	snprintf(reason, n, "ok");
	return true;
}

bool self__ready(char *reason, size_t reasonsz)
{
	bool ok;

	pthread_mutex_lock(&lock);
	ok = ready_locked(reason, reasonsz);
	pthread_mutex_unlock(&lock);
	return ok;
}

bool self__started(void)
{
	bool s;

	pthread_mutex_lock(&lock);
	s = started;
	pthread_mutex_unlock(&lock);
	return s;
}

void self__render(struct prom *p)
{
	char kernel[128], libbpf_ver[32];
	__u64 drops[DROP__MAX];
	struct proc_stats ps;
	unsigned i, r;

	kernel_release(kernel, sizeof(kernel));
	snprintf(libbpf_ver, sizeof(libbpf_ver), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	prom__family(p, "redscope_build_info", "gauge",
		     "A constant 1, labelled with redscope's version, its libbpf and the kernel.");
	const char *bl[] = {
	    "version", REDSCOPE_VERSION, "libbpf_version", libbpf_ver, "kernel", kernel, NULL};
	prom__sample(p, "redscope_build_info", bl, 1);

	pthread_mutex_lock(&lock);
	prom__family(p, "redscope_collector_up", "gauge",
		     "1 when the collector started, 0 when it could not (see the log).");
	for (i = 0; i < nr_colls; i++) {
		const char *l[] = {"collector", colls[i].name, NULL};
		prom__sample(p, "redscope_collector_up", l, !colls[i].failed);
	}
	prom__family(p, "redscope_bpf_program_attached", "gauge",
		     "1 when the BPF program is attached, 0 when it could not be.");
	for (i = 0; i < nr_progs; i++) {
		const char *l[] = {"collector", progs[i].collector, "program", progs[i].name, NULL};
		prom__sample(p, "redscope_bpf_program_attached", l, progs[i].attached);
	}
	prom__family(p, "redscope_events_dropped_total", "counter",
		     "Events the BPF programs saw but could not record, by reason.");
	for (i = 0; i < nr_colls; i++) {
		if (colls[i].drops_fd < 0)
			continue;
		read_drops(&colls[i], drops);
		for (r = 0; r < DROP__MAX; r++) {
			const char *l[] = {"collector", colls[i].name, "reason", drop_names[r],
					   NULL};
			prom__sample_u64(p, "redscope_events_dropped_total", l, drops[r]);
		}
	}
	prom__family(p, "redscope_map_entries", "gauge", "Entries in a BPF map.");
	for (i = 0; i < nr_maps; i++) {
		const char *l[] = {"map", maps[i].name, NULL};
		prom__sample_u64(p, "redscope_map_entries", l, map_entries(&maps[i]));
	}
	prom__family(p, "redscope_map_capacity", "gauge", "Most entries a BPF map can hold.");
	for (i = 0; i < nr_maps; i++) {
		const char *l[] = {"map", maps[i].name, NULL};

		if (!maps[i].capacity)
			continue;
		prom__sample_u64(p, "redscope_map_capacity", l, maps[i].capacity);
	}
	pthread_mutex_unlock(&lock);

	read_proc(&ps);
	prom__family(p, "process_cpu_seconds_total", "counter",
		     "Total user and system CPU time spent in seconds.");
	prom__sample(p, "process_cpu_seconds_total", NULL, ps.cpu_seconds);
	prom__family(p, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	prom__sample_u64(p, "process_resident_memory_bytes", NULL, ps.rss_bytes);
	prom__family(p, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	prom__sample_u64(p, "process_virtual_memory_bytes", NULL, ps.vsize_bytes);
	prom__family(p, "process_start_time_seconds", "gauge",
		     "Start time of the process since unix epoch in seconds.");
	prom__sample(p, "process_start_time_seconds", NULL, ps.start_time);
}

/* A JSON string; names and details here are ours or strerror's, but escape anyway. */
static void json_str(struct prom *out, const char *s)
{
	prom__appendf(out, "\"");
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			prom__appendf(out, "\\%c", c);
		else if (c < 0x20)
			prom__appendf(out, "\\u%04x", c);
		else
			prom__appendf(out, "%c", c);
	}
	prom__appendf(out, "\"");
}

void self__health_json(struct prom *out)
{
	char kernel[128], reason[256];
	__u64 drops[DROP__MAX];
	unsigned i, r;
	bool ready;

	kernel_release(kernel, sizeof(kernel));
	pthread_mutex_lock(&lock);
	ready = ready_locked(reason, sizeof(reason));
	prom__appendf(out, "{\"version\":");
	json_str(out, REDSCOPE_VERSION);
	prom__appendf(out, ",\"kernel\":");
	json_str(out, kernel);
	prom__appendf(out, ",\"btf\":%s,\"started\":%s,\"ready\":%s,\"reason\":",
		      access("/sys/kernel/btf/vmlinux", R_OK) ? "false" : "true",
		      started ? "true" : "false", ready ? "true" : "false");
	json_str(out, reason);
	prom__appendf(out, ",\"collectors\":[");
	for (i = 0; i < nr_colls; i++) {
		prom__appendf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, colls[i].name);
		prom__appendf(out, ",\"up\":%s,\"error\":", colls[i].failed ? "false" : "true");
		json_str(out, colls[i].detail);
		read_drops(&colls[i], drops);
		prom__appendf(out, ",\"drops\":{");
		for (r = 0; r < DROP__MAX; r++)
			prom__appendf(out, "%s\"%s\":%llu", r ? "," : "", drop_names[r],
				      (unsigned long long)drops[r]);
		prom__appendf(out, "}}");
	}
	prom__appendf(out, "],\"programs\":[");
	for (i = 0; i < nr_progs; i++) {
		prom__appendf(out, "%s{\"collector\":", i ? "," : "");
		json_str(out, progs[i].collector);
		prom__appendf(out, ",\"name\":");
		json_str(out, progs[i].name);
		prom__appendf(out, ",\"attached\":%s,\"required\":%s,\"error\":",
			      progs[i].attached ? "true" : "false",
			      progs[i].required ? "true" : "false");
		json_str(out, progs[i].detail);
		prom__appendf(out, "}");
	}
	prom__appendf(out, "],\"maps\":[");
	for (i = 0; i < nr_maps; i++) {
		prom__appendf(out, "%s{\"name\":", i ? "," : "");
		json_str(out, maps[i].name);
		prom__appendf(out, ",\"entries\":%u,\"capacity\":", map_entries(&maps[i]));
		prom__appendf(out, maps[i].capacity ? "%u}" : "null}", maps[i].capacity);
	}
	prom__appendf(out, "]}\n");
	pthread_mutex_unlock(&lock);
}

/* The --check report: one line per program, then the verdict. */
bool self__report(FILE *f)
{
	char reason[256];
	unsigned i;
	bool ok;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nr_colls; i++)
		fprintf(f, "collector %-8s %s%s%s\n", colls[i].name,
			colls[i].failed ? "FAILED" : "ok", colls[i].failed ? ": " : "",
			colls[i].detail);
	for (i = 0; i < nr_progs; i++)
		fprintf(f, "program   %-8s %-24s %s%s%s\n", progs[i].collector, progs[i].name,
			progs[i].attached ? "attached" : "NOT ATTACHED",
			progs[i].attached ? "" : ": ", progs[i].detail);
	ok = ready_locked(reason, sizeof(reason)) || (!strcmp(reason, "starting"));
	pthread_mutex_unlock(&lock);
	return ok;
}
