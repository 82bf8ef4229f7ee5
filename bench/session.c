// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iob/cycles.h>
#include <iob/proc.h>
#include <iob/pathctr.h>
#include <iob/perfctr.h>

#include "iob.h"
#include "session.h"
#include "util.h"

#define SESSION_CSV_MAX 32
#define SESSION_FILES_MAX 64

struct session {
	struct rundir *rd;
	struct results_env env;
	char *label, *family;
	enum session_on_signal on_signal;
	double t0, load_start;
	json_t *meta;
	struct csv *csv[SESSION_CSV_MAX];
	unsigned csv_file[SESSION_CSV_MAX];	/* its name in files[] */
	unsigned ncsv;
	char *files[SESSION_FILES_MAX];
	unsigned nfiles;
};

/* Read by the handler: a fixed buffer, filled before the handler is installed. */
static char signal_dir[4096];
static volatile sig_atomic_t signal_remove;
static volatile sig_atomic_t interrupted;	/* the signal caught, 0 before */

static void on_signal(int sig)
{
	static const char msg[] = "\niob: interrupted; partial run removed\n";
	char *const argv[] = { "rm", "-rf", "--", signal_dir, NULL };
	pid_t pid;

	interrupted = sig;
	if (!signal_remove)
		return;
	/*
	 * Only async-signal-safe calls: fork, exec, waitpid, write, _exit
	 * (opendir() and friends are not). Exit 130, as a shell reports SIGINT.
	 */
	if (signal_dir[0]) {
		pid = fork();
		if (!pid) {
			execvp("rm", argv);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(130);
	_exit(130);
}

static void signals_set(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		run_error("out of memory");
	return d;
}

struct session *session_create(const struct session_cfg *cfg)
{
	struct session *s = calloc(1, sizeof(*s));
	int ret;

	if (!s || !(s->meta = json_object()))
		run_error("out of memory");
	if (cfg->env) {
		s->env = *cfg->env;
	} else {
		if (!cycles_info()->tsc_khz)
			cycles_init(NULL);
		results_env_collect(&s->env, cfg->argc, cfg->argv, cfg->seed);
	}
	s->label = xstrdup(cfg->label);
	s->family = xstrdup(cfg->family);
	s->on_signal = cfg->on_signal;
	ret = rundir_create(cfg->root, cfg->label, &s->env, &s->rd);
	/* A results folder that cannot be: the user's input, exit 2 (it exited 1). */
	if (ret == -ENOTDIR || ret == -ENOENT || ret == -EACCES || ret == -EROFS ||
	    ret == -ENAMETOOLONG || ret == -EINVAL || ret == -EEXIST)
		usage_error("--results: %s: cannot create the run folder: %s", cfg->root,
			    strerror(-ret));
	if (ret)
		run_error("%s: cannot create the run folder: %s", cfg->root, strerror(-ret));
	if (strlen(rundir_path(s->rd)) >= sizeof(signal_dir))
		run_error("%s: path too long", rundir_path(s->rd));
	strcpy(signal_dir, rundir_path(s->rd));
	interrupted = 0;
	signal_remove = cfg->on_signal == SESSION_SIGNAL_REMOVE;
	signals_set(on_signal);
	s->t0 = proc_now_s();
	s->load_start = results_loadavg();
	return s;
}

const char *session_dir(const struct session *s)
{
	return rundir_path(s->rd);
}

const char *session_final_dir(const struct session *s)
{
	return rundir_final_path(s->rd);
}

const struct results_env *session_env(const struct session *s)
{
	return &s->env;
}

json_t *session_meta(struct session *s)
{
	return s->meta;
}

bool session_interrupted(void)
{
	return interrupted != 0;
}

int session_signal(void)
{
	return interrupted;
}

void session_add_file(struct session *s, const char *name)
{
	if (s->nfiles == SESSION_FILES_MAX)
		run_error("%s: more than %d files", session_dir(s), SESSION_FILES_MAX);
	s->files[s->nfiles++] = xstrdup(name);
}

struct csv *session_csv(struct session *s, const char *name)
{
	struct csv *c;
	int ret;

	if (s->ncsv == SESSION_CSV_MAX)
		run_error("%s: more than %d CSV files", session_dir(s), SESSION_CSV_MAX);
	ret = csv_open(session_dir(s), name, &s->env, &c);
	if (ret)
		run_error("%s/%s: %s", session_dir(s), name, strerror(-ret));
	s->csv_file[s->ncsv] = s->nfiles;
	s->csv[s->ncsv++] = c;
	session_add_file(s, name);
	return c;
}

void session_csvs_close(struct session *s)
{
	for (unsigned i = 0; i < s->ncsv; i++) {
		int ret = csv_close(s->csv[i]);

		if (ret)
			run_error("%s/%s: writing failed: %s", session_dir(s), s->files[s->csv_file[i]],
				  strerror(-ret));
	}
	s->ncsv = 0;
}

/*
 * The family CSVs' hw_* columns: per event "counted" or "unavailable:
 * REASON" (a VM without a PMU: EOPNOTSUPP or ENOENT).
 */
static void hw_events(json_t *counters)
{
	json_t *ev = json_object();
	struct perfctr_set pc;
	char why[160];

	perfctr_set_open(&pc);
	for (int e = 0; e < PERFCTR_EVENT_NR; e++) {
		int err = -pc.err[e];

		snprintf(why, sizeof(why), "unavailable: %s",
			 err == ENOENT || err == EOPNOTSUPP ? "no such hardware counter on this host" :
			 strerror(err));
		json_object_set_new(ev, perfctr_event_name((enum perfctr_event)e),
				    json_string(pc.fd[e] >= 0 ? "counted" : why));
	}
	perfctr_set_close(&pc);
	json_object_set_new(counters, "hw_events", ev);
}

/* How iob was built, and the host facts that decide whether two runs compare. */
static void meta_build_host(json_t *root, const struct session *s)
{
	json_t *build = json_object(), *host = json_object();
	struct results_host h;

	results_host_collect(&h);
	json_object_set_new(root, "tool_version", json_string(iob_version()));
	json_object_set_new(build, "type", json_string(IOB_BUILD_TYPE));
	json_object_set_new(build, "compiler", json_string(IOB_BUILD_COMPILER));
	json_object_set_new(build, "cflags", json_string(IOB_BUILD_CFLAGS));
	json_object_set_new(build, "sanitizer", json_string(IOB_BUILD_SANITIZE));
	json_object_set_new(root, "build", build);
	json_object_set_new(root, "build_type", json_string(IOB_BUILD_TYPE));
	json_object_set_new(root, "sanitizer", json_string(IOB_BUILD_SANITIZE));
	json_object_set_new(host, "cpu_governor", json_string(h.governor));
	json_object_set_new(host, "boost", json_string(h.boost));
	json_object_set_new(host, "smt", json_string(h.smt));
	json_object_set_new(host, "online_cpus", json_integer(h.ncpus));
	json_object_set_new(host, "loadavg_start", json_real(s->load_start));
	json_object_set_new(host, "loadavg_end", json_real(results_loadavg()));
	json_object_set_new(host, "iommu_cmdline", json_string(h.iommu_cmdline));
	json_object_set_new(root, "host_state", host);
}

/* The keys every run folder's meta.json has; the caller's own may replace them. */
static json_t *meta_common(const struct session *s, double took)
{
	const struct results_env *e = &s->env;
	const struct cycles_info *ci = cycles_info();
	json_t *root = json_object(), *counters = json_object(), *files = json_array();

	json_object_set_new(root, "schema_version", json_integer(RESULTS_SCHEMA_VERSION));
	json_object_set_new(root, "tool", json_string("iommubench"));
	json_object_set_new(root, "family", json_string(s->family));
	json_object_set_new(root, "status", json_string("complete"));
	json_object_set_new(root, "date", json_string(e->date));
	json_object_set_new(root, "git_commit", json_string(e->git_commit));
	json_object_set_new(root, "host", json_string(e->host));
	json_object_set_new(root, "cpu", json_string(e->cpu));
	json_object_set_new(root, "kernel", json_string(e->kernel));
	json_object_set_new(root, "tsc_khz", json_integer((json_int_t)e->tsc_khz));
	json_object_set_new(root, "tsc_source", json_string(e->tsc_source));
	json_object_set_new(root, "tsc_step_cyc", json_integer((json_int_t)ci->quantum_cyc));
	json_object_set_new(root, "tsc_invariant", json_boolean(ci->invariant));
	json_object_set_new(root, "probe_overhead_cyc", json_real(e->probe_overhead_cyc));
	json_object_set_new(counters, "perf", json_string(e->counters));
	hw_events(counters);
	json_object_set_new(counters, "path_counters",
			    json_string(pathctr_enabled() ? "compiled in" : "compiled out"));
	json_object_set_new(root, "counters", counters);
	json_object_set_new(root, "command", json_string(e->command));
	json_object_set_new(root, "seed", json_integer((json_int_t)e->seed));
	json_object_set_new(root, "label", json_string(s->label));
	json_object_set_new(root, "duration_s", json_real(took));
	for (unsigned i = 0; i < s->nfiles; i++)
		json_array_append_new(files, json_string(s->files[i]));
	json_object_set_new(root, "files", files);
	meta_build_host(root, s);
	return root;
}

void session_finish(struct session *s)
{
	json_t *root;
	char path[4400], tmp[4400];

	session_csvs_close(s);
	root = meta_common(s, proc_now_s() - s->t0);
	json_object_update(root, s->meta);
	snprintf(path, sizeof(path), "%s/meta.json", session_dir(s));
	snprintf(tmp, sizeof(tmp), "%s/meta.json.tmp", session_dir(s));
	if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) || rename(tmp, path))
		run_error("%s: cannot write", path);
	json_decref(root);
}

static void session_free(struct session *s)
{
	signals_set(SIG_DFL);
	signal_dir[0] = '\0';
	for (unsigned i = 0; i < s->nfiles; i++)
		free(s->files[i]);
	json_decref(s->meta);
	free(s->label);
	free(s->family);
	free(s);
}

void session_set_suffix(struct session *s, const char *suffix)
{
	if (rundir_set_suffix(s->rd, suffix))
		run_error("bad folder suffix '%s'", suffix);
}

void session_commit(struct session *s, char *final, size_t len)
{
	int ret = rundir_commit(s->rd, final, len);

	s->rd = NULL;
	if (ret)
		run_error("cannot rename the run folder into place: %s", strerror(-ret));
	session_free(s);
}

void session_abort(struct session *s)
{
	for (unsigned i = 0; i < s->ncsv; i++)
		csv_discard(s->csv[i]);
	rundir_abort(s->rd);
	session_free(s);
}

void session_keep(struct session *s)
{
	session_csvs_close(s);
	rundir_release(s->rd);
	session_free(s);
}
