// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <stdlib.h>
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

/* The first line of @path into @buf, or "unavailable: REASON". */
static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(buf, len, "unavailable: no %s", path);
		return;
	}
	if (!fgets(buf, (int)len, f))
		snprintf(buf, len, "unavailable: %s is empty", path);
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

void results_iommu_words(const char *cmdline, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	while (*cmdline) {
		size_t w = strcspn(cmdline, " \t\n");
		char word[256];

		if (w && w < sizeof(word)) {
			memcpy(word, cmdline, w);
			word[w] = '\0';
			if ((strstr(word, "iommu") || !strncmp(word, "swiotlb", 7)) && n < len)
				n += (size_t)snprintf(out + n, len - n, "%s%s", n ? " " : "", word);
		}
		cmdline += w;
		cmdline += strspn(cmdline, " \t\n");
	}
}

void results_host_collect(struct results_host *h)
{
	char cmdline[4096], boost[64];

	memset(h, 0, sizeof(*h));
	read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", h->governor,
		  sizeof(h->governor));
	/* acpi-cpufreq's global switch; amd-pstate and intel_pstate have their own. */
	read_line("/sys/devices/system/cpu/cpufreq/boost", boost, sizeof(boost));
	if (!strcmp(boost, "1") || !strcmp(boost, "0"))
		snprintf(h->boost, sizeof(h->boost), "%s", boost[0] == '1' ? "on" : "off");
	else
		read_line("/sys/devices/system/cpu/intel_pstate/no_turbo", h->boost,
			  sizeof(h->boost));
	if (!strcmp(h->boost, "1") || !strcmp(h->boost, "0"))
		snprintf(h->boost, sizeof(h->boost), "%s", h->boost[0] == '1' ? "off" : "on");
	else if (strncmp(h->boost, "on", 2) && strncmp(h->boost, "off", 3))
		snprintf(h->boost, sizeof(h->boost), "unavailable: no cpufreq boost switch");
	read_line("/sys/devices/system/cpu/smt/control", h->smt, sizeof(h->smt));
	h->ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	read_line("/proc/cmdline", cmdline, sizeof(cmdline));
	if (!strncmp(cmdline, "unavailable", 11))
		snprintf(h->iommu_cmdline, sizeof(h->iommu_cmdline), "%.500s", cmdline);
	else
		results_iommu_words(cmdline, h->iommu_cmdline, sizeof(h->iommu_cmdline));
}

double results_loadavg(void)
{
	char buf[128];

	read_line("/proc/loadavg", buf, sizeof(buf));
	return strncmp(buf, "unavailable", 11) ? strtod(buf, NULL) : -1;
}

const char *results_tool_version(void)
{
	return IOB_GIT_COMMIT;
}
