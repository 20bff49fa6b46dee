// SPDX-License-Identifier: MIT
/*
 * redscope: starts the web server, then every enabled collector (each loads
 * and attaches its BPF programs), then ticks once a second until SIGINT or
 * SIGTERM. A collector that cannot start is reported and the others run.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "collector.h"
#include "config.h"
#include "log.h"
#include "self.h"
#include "web.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static struct config cfg;

static const struct collector *const all_collectors[] = {&http_collector, &pgsql_collector};
#define NR_COLLECTORS (sizeof(all_collectors) / sizeof(all_collectors[0]))
static bool running[NR_COLLECTORS];

static void render_metrics(struct prom *p)
{
	size_t i;

	for (i = 0; i < NR_COLLECTORS; i++)
		if (running[i])
			all_collectors[i]->render(p);
	self__render(p);
}

static bool enabled(const struct collector *c)
{
	if (c == &http_collector)
		return cfg.http_enabled;
	if (c == &pgsql_collector)
		return cfg.pgsql_enabled;
	return true;
}

static bool has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/* Loading and attaching needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN. */
static int check_capabilities(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return 0; /* cannot tell: let the kernel say no */
	if (has_cap(d, CAP_SYS_ADMIN) || (has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)))
		return 0;
	fprintf(stderr,
		"redscope: missing capabilities %s%s%s(or CAP_SYS_ADMIN): run as root or grant "
		"them, e.g. setcap cap_bpf,cap_perfmon+ep redscope\n",
		has_cap(d, CAP_BPF) ? "" : "CAP_BPF ",
		has_cap(d, CAP_BPF) || has_cap(d, CAP_PERFMON) ? "" : "and ",
		has_cap(d, CAP_PERFMON) ? "" : "CAP_PERFMON ");
	return -EPERM;
}

/* libbpf finds tracepoint ids in tracefs, which this kind of host may not mount. */
static void ensure_tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events", &st) ||
	    !stat("/sys/kernel/debug/tracing/events", &st))
		return;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL))
		log_warn("tracefs is not mounted and mounting it failed (%s): tracepoints "
			 "cannot be attached",
			 strerror(errno));
	else
		log_info("mounted tracefs on /sys/kernel/tracing");
}

static void start_collectors(void)
{
	size_t i;
	int err;

	for (i = 0; i < NR_COLLECTORS; i++) {
		const struct collector *c = all_collectors[i];

		if (!enabled(c)) {
			log_info("collector %s disabled", c->name);
			continue;
		}
		err = c->start(&cfg);
		self__collector(c->name, err);
		if (err) {
			log_error("collector %s failed to start (%s); the others keep running",
				  c->name, strerror(-err));
			c->stop();
			continue;
		}
		running[i] = true;
	}
	self__set_started();
}

static void stop_collectors(void)
{
	size_t i;

	for (i = 0; i < NR_COLLECTORS; i++)
		if (running[i])
			all_collectors[i]->stop();
}

/* One line per program, then exit 0 when everything attached, 1 otherwise. */
static int run_check(void)
{
	bool ok;

	ensure_tracefs();
	start_collectors();
	ok = self__report(stdout);
	printf("%s\n", ok ? "check: ok, every program attached" : "check: FAILED");
	stop_collectors();
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct timespec tick = {.tv_sec = 1};
	sigset_t stop_signals;
	size_t i;
	int err, sig;

	err = config__parse(&cfg, argc, argv);
	if (err)
		return err > 0 ? 0 : 2;
	log__setup(cfg.log_level, cfg.log_json);
	log__hook_libbpf();
	if (check_capabilities())
		return 1;
	if (cfg.check)
		return run_check();

	/* Signals are taken synchronously by this thread only; the web server's
	 * threads inherit the blocked mask. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Serve first: a port in use fails at once, and /health/startup is
	 * answered while the programs load. */
	if (web__start(&cfg, render_metrics))
		return 1;
	ensure_tracefs();
	log_info("redscope %s starting", REDSCOPE_VERSION);
	start_collectors();
	log_info("started");

	for (;;) {
		sig = sigtimedwait(&stop_signals, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		for (i = 0; i < NR_COLLECTORS; i++)
			if (running[i] && all_collectors[i]->tick)
				all_collectors[i]->tick();
	}
	log_info("signal %d: detaching and exiting", sig);
	web__stop();
	stop_collectors();
	return 0;
}
