// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob fleet HOSTS_FILE [iob matrix args]: the matrix on several hosts at
 * once through GNU parallel over ssh (Debian's `parallel`; no scheduler of
 * our own). The checkout this iob was built from is sent to each host as
 * a tarball, `./run matrix` runs there (tools/fleet/fleet-host.sh), the
 * run folders come back into RESULTS (default ./results), and an `iob
 * compare` of all of them is printed, the first host's as the baseline.
 * A host that fails is reported and the others go on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/proc.h>
#include <iob/textfile.h>

#include "iob.h"
#include "util.h"

#define FLEET_MAX 64

static const char fleet_usage[] =
	"usage: iob fleet HOSTS_FILE [--results DIR] [--jobs N] [iob matrix args...]\n"
	"\n"
	"Runs `./run matrix` on every host of HOSTS_FILE (one ssh destination or\n"
	"~/.ssh/config alias a line, [A-Za-z0-9._@-]; '#' comments) through GNU\n"
	"parallel over ssh: sends this checkout, runs, brings each run folder back into\n"
	"DIR (default ./results), then prints `iob compare` of them all against the\n"
	"first host's. A matrix FILE among the arguments is sent along. Each host's\n"
	"run is labelled with its alias unless --label is given. The ssh command is\n"
	"$IOB_FLEET_SSH (default: ssh -o BatchMode=yes).\n"
	"  --results DIR   where the run folders go (default ./results)\n"
	"  --jobs N        hosts at a time (default: all)\n"
	"Exit status: 0 every host ran, 1 a host failed (the others' folders are kept\n"
	"and compared), 2 bad input.\n";

struct fleet {
	char *hosts[FLEET_MAX];
	unsigned n;
	const char *results, *jobs, *matrix_file;
	char **margs;		/* arguments for iob matrix */
	int nmargs;
	bool labelled;
	char tmp[256];
};

static bool alias_ok(const char *s)
{
	if (!*s || strlen(s) > 64 || *s == '-')
		return false;
	for (; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || *s == '@' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

static void fleet_hosts(struct fleet *f, const char *path)
{
	char *text, err[512], *save = NULL;

	if (textfile_read(path, 1 << 16, "a hosts file", &text, err, sizeof(err)))
		usage_error("fleet: %s", err);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *h = line + strspn(line, " \t");

		h[strcspn(h, "#")] = '\0';
		h[strcspn(h, " \t\r")] = '\0';
		if (!*h)
			continue;
		if (!alias_ok(h))
			usage_error("fleet: %s: '%s' is not a host name or alias", path, h);
		for (unsigned i = 0; i < f->n; i++)
			if (!strcmp(f->hosts[i], h))
				usage_error("fleet: %s: %s is listed twice", path, h);
		if (f->n == FLEET_MAX)
			usage_error("fleet: %s: more than %d hosts", path, FLEET_MAX);
		f->hosts[f->n] = strdup(h);
		if (!f->hosts[f->n++])
			run_error("out of memory");
	}
	iob_free(text);
	if (!f->n)
		usage_error("fleet: %s lists no hosts", path);
}

static void fleet_args(struct fleet *f, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(fleet_usage, argc < 2 ? stderr : stdout);
		exit(argc < 2 ? EXIT_USAGE : 0);
	}
	f->results = "results";
	f->margs = calloc((size_t)argc + 4, sizeof(*f->margs));
	if (!f->margs)
		run_error("out of memory");
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--results") && i + 1 < argc) {
			f->results = argv[++i];
		} else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
			parse_u64(argv[i + 1], "--jobs");
			f->jobs = argv[++i];
		} else if (argv[i][0] != '-' && !f->matrix_file && proc_is_file(argv[i]) &&
			   (i == 2 || argv[i - 1][0] != '-')) {
			f->matrix_file = argv[i];
			f->margs[f->nmargs++] = "fleet-matrix.txt";
		} else {
			f->labelled |= !strcmp(argv[i], "--label");
			f->margs[f->nmargs++] = argv[i];
		}
	}
	fleet_hosts(f, argv[1]);
}

/* Run @argv (NULL-terminated) and wait. Return: its exit status, 127 if not run. */
static int run_wait(char *const *argv)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		run_error("fork: %s", strerror(errno));
	if (!pid) {
		execvp(argv[0], argv);
		fprintf(stderr, "iob fleet: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			run_error("waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The tarball of the checkout (and the matrix file), with its version written in. */
static void fleet_tarball(struct fleet *f, char *tgz, size_t len)
{
	char staging[300], path[400];
	FILE *v;

	snprintf(staging, sizeof(staging), "%s/extra", f->tmp);
	if (mkdir(staging, 0755))
		run_error("%s: %s", staging, strerror(errno));
	snprintf(path, sizeof(path), "%s/.iob-version", staging);
	v = fopen(path, "w");
	if (!v || fprintf(v, "%s\n", iob_version()) < 0 || fclose(v))
		run_error("%s: cannot write", path);
	snprintf(path, sizeof(path), "%s/fleet-matrix.txt", staging);
	if (f->matrix_file) {
		char *const cp[] = { "cp", "--", (char *)f->matrix_file, path, NULL };

		if (run_wait(cp))
			run_error("cannot copy %s", f->matrix_file);
	}
	snprintf(tgz, len, "%s/checkout.tgz", f->tmp);
	{
		char *const tar[] = { "tar", "-czf", tgz, "--exclude=./build*", "--exclude=./results",
				      "--exclude=./.git", "-C", IOB_SRC_ROOT, ".", "-C", staging, ".",
				      NULL };

		if (run_wait(tar))
			run_error("tar of %s failed", IOB_SRC_ROOT);
	}
}

/* GNU parallel, one job per host. Return: parallel's exit status (failed jobs). */
static int fleet_parallel(struct fleet *f, const char *tgz, const char *state)
{
	char script[4200], joblog[400];
	char **argv = calloc((size_t)f->nmargs + f->n + 24, sizeof(*argv));
	int n = 0, ret;

	if (!argv)
		run_error("out of memory");
	snprintf(script, sizeof(script), "%s/tools/fleet/fleet-host.sh", IOB_SRC_ROOT);
	snprintf(joblog, sizeof(joblog), "%s/joblog", f->tmp);
	argv[n++] = "parallel";
	argv[n++] = "--will-cite";
	argv[n++] = "--line-buffer";
	argv[n++] = "--tag";
	argv[n++] = "-q";
	argv[n++] = "--joblog";
	argv[n++] = joblog;
	argv[n++] = "-j";
	argv[n++] = (char *)(f->jobs ? f->jobs : "0");
	argv[n++] = script;
	argv[n++] = "{}";
	argv[n++] = (char *)tgz;
	argv[n++] = (char *)f->results;
	argv[n++] = (char *)state;
	for (int i = 0; i < f->nmargs; i++)
		argv[n++] = f->margs[i];
	argv[n++] = ":::";
	for (unsigned i = 0; i < f->n; i++)
		argv[n++] = f->hosts[i];
	argv[n] = NULL;
	if (!f->labelled)
		setenv("IOB_FLEET_AUTO_LABEL", "1", 1);
	ret = run_wait(argv);
	if (ret == 127)
		usage_error("fleet: GNU parallel is not installed (Debian: parallel)");
	free(argv);
	return ret;
}

int cmd_fleet(int argc, char **argv)
{
	struct fleet f = { 0 };
	char tgz[400], state[300], *runs[FLEET_MAX];
	unsigned nruns = 0;
	int ret = 0;

	fleet_args(&f, argc, argv);
	if (!proc_is_file(IOB_SRC_ROOT "/tools/fleet/fleet-host.sh"))
		usage_error("fleet: needs the source checkout this iob was built from (%s)",
			    IOB_SRC_ROOT);
	snprintf(f.tmp, sizeof(f.tmp), "%s/iob-fleet-XXXXXX", str_or(getenv("TMPDIR"), "/tmp"));
	if (!mkdtemp(f.tmp))
		run_error("%s: %s", f.tmp, strerror(errno));
	snprintf(state, sizeof(state), "%s/state", f.tmp);
	if (mkdir(state, 0755) || (mkdir(f.results, 0755) && errno != EEXIST))
		run_error("%s: %s", f.results, strerror(errno));
	fleet_tarball(&f, tgz, sizeof(tgz));
	fprintf(stderr, "iob fleet: %u host(s), checkout %s\n", f.n, iob_version());
	fleet_parallel(&f, tgz, state);
	for (unsigned i = 0; i < f.n; i++) {
		char path[600], *text = NULL, err[256];

		snprintf(path, sizeof(path), "%s/%s.path", state, f.hosts[i]);
		if (textfile_read(path, 8192, "a path", &text, err, sizeof(err))) {
			fprintf(stderr, "iob fleet: %s failed (its output above, tagged %s)\n",
				f.hosts[i], f.hosts[i]);
			ret = 1;
			continue;
		}
		text[strcspn(text, "\n")] = '\0';
		runs[nruns++] = text;
		printf("%s %s\n", f.hosts[i], text);
	}
	{
		char *const rm[] = { "rm", "-rf", "--", f.tmp, NULL };

		run_wait(rm);
	}
	fflush(stdout);
	if (nruns >= 2)
		compare_write(runs, (int)nruns, 0, NULL, stdout);
	for (unsigned i = 0; i < nruns; i++)
		iob_free(runs[i]);
	for (unsigned i = 0; i < f.n; i++)
		free(f.hosts[i]);
	free(f.margs);
	return ret;
}
