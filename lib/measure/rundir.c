// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/rundir.h>

struct rundir {
	char tmp[4096];
	char final[4096];
};

static bool label_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

/* Host and CPU squeezed into a file name: [A-Za-z0-9-], runs of others as one '-'. */
static void slug(char *dst, size_t len, const char *src, size_t max)
{
	size_t n = 0;
	bool dash = false;

	for (; *src && n + 1 < len && n < max; src++) {
		if (isalnum((unsigned char)*src)) {
			dst[n++] = *src;
			dash = false;
		} else if (!dash && n) {
			dst[n++] = '-';
			dash = true;
		}
	}
	while (n && dst[n - 1] == '-')
		n--;
	dst[n] = '\0';
	if (!n)
		snprintf(dst, len, "unknown");
}

int rundir_create(const char *root, const char *label,
		  const struct results_env *env, struct rundir **out)
{
	struct rundir *rd;
	char host[48], cpu[48], date[16];
	time_t now = time(NULL);
	struct tm tm;
	int n, m;

	if (!label_ok(label))
		return -EINVAL;
	rd = iob_calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	slug(host, sizeof(host), env->host, 32);
	slug(cpu, sizeof(cpu), env->cpu, 40);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d-%H%M%S", &tm);
	n = snprintf(rd->tmp, sizeof(rd->tmp), "%s/.tmp-%s-XXXXXX", root, label);
	/* Room for rundir_commit()'s "-999" too. */
	m = snprintf(rd->final, sizeof(rd->final) - 4, "%s/%s_%s_%s_%s", root, date, host,
		     cpu, label);
	if (n < 0 || m < 0 || (size_t)n >= sizeof(rd->tmp) ||
	    (size_t)m >= sizeof(rd->final) - 4) {
		iob_free(rd);
		return -ENAMETOOLONG;
	}
	if (mkdir(root, 0777) && errno != EEXIST) {
		int err = -errno;

		iob_free(rd);
		return err;
	}
	if (!mkdtemp(rd->tmp)) {
		int err = -errno;

		iob_free(rd);
		return err;
	}
	*out = rd;
	return 0;
}

const char *rundir_path(const struct rundir *rd)
{
	return rd->tmp;
}

const char *rundir_final_path(const struct rundir *rd)
{
	return rd->final;
}

int rundir_set_suffix(struct rundir *rd, const char *suffix)
{
	size_t n = strlen(rd->final);

	if (strlen(suffix) > 32 || !label_ok(suffix) || n + strlen(suffix) + 4 >= sizeof(rd->final))
		return -EINVAL;
	memcpy(rd->final + n, suffix, strlen(suffix) + 1);
	return 0;
}

int rundir_commit(struct rundir *rd, char *final, size_t len)
{
	char name[sizeof(rd->final) + 16];
	int ret = 0;

	snprintf(name, sizeof(name), "%s", rd->final);
	for (int i = 2; i < 1000; i++) {
		struct stat st;

		if (stat(name, &st) && errno == ENOENT)
			break;
		snprintf(name, sizeof(name), "%s-%d", rd->final, i);
	}
	if (chmod(rd->tmp, 0755) || rename(rd->tmp, name))
		ret = -errno;
	if (final && len) {
		/*
		 * Absolute, whatever the folder was given as: callers print it,
		 * and a relative --results (which keeps the recorded command
		 * line free of this machine's paths) would mislead from elsewhere.
		 */
		char abs[PATH_MAX];
		const char *at = ret ? rd->tmp : name;

		snprintf(final, len, "%s", realpath(at, abs) ? abs : at);
	}
	iob_free(rd);
	return ret;
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char p[4400];
			struct stat st;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
			if (!lstat(p, &st) && S_ISDIR(st.st_mode))
				remove_tree(p);
			else
				unlink(p);
		}
		closedir(d);
	}
	rmdir(path);
}

void rundir_release(struct rundir *rd)
{
	iob_free(rd);
}

void rundir_abort(struct rundir *rd)
{
	if (!rd)
		return;
	remove_tree(rd->tmp);
	iob_free(rd);
}
