// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <iob/cycles.h>
#include <iob/perfctr.h>
#include <iob/results.h>

#include "clean.h"
#include "version.h"

static void read_cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon;

		if (strncmp(line, "model name", 10))
			continue;
		colon = strchr(line, ':');
		if (colon) {
			colon++;
			while (*colon == ' ' || *colon == '\t')
				colon++;
			colon[strcspn(colon, "\n")] = '\0';
			clean_copy(buf, len, colon);
		}
		break;
	}
	fclose(f);
}

void results_env_collect(struct results_env *e, int argc, char **argv, uint64_t seed)
{
	const struct cycles_info *ci = cycles_info();
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	size_t n = 0;

	memset(e, 0, sizeof(*e));
	clean_copy(e->git_commit, sizeof(e->git_commit), IOB_GIT_COMMIT);
	if (gethostname(e->host, sizeof(e->host)))
		snprintf(e->host, sizeof(e->host), "unknown");
	e->host[sizeof(e->host) - 1] = '\0';
	read_cpu_model(e->cpu, sizeof(e->cpu));
	if (!uname(&u))
		snprintf(e->kernel, sizeof(e->kernel), "%s %s", u.sysname, u.release);
	else
		snprintf(e->kernel, sizeof(e->kernel), "unknown");
	perfctr_probe(e->counters, sizeof(e->counters));
	for (int i = 0; i < argc && n + 2 < sizeof(e->command); i++) {
		int w = snprintf(e->command + n, sizeof(e->command) - n, "%s%s",
				 i ? " " : "", argv[i]);

		if (w < 0)
			break;
		n += (size_t)w;
	}
	clean_copy(e->command, sizeof(e->command), e->command);
	e->tsc_khz = ci->tsc_khz;
	e->tsc_source = ci->tsc_source ? ci->tsc_source : "none";
	e->probe_overhead_cyc = ci->overhead_cyc;
	e->seed = seed;
	gmtime_r(&now, &tm);
	strftime(e->date, sizeof(e->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
}
