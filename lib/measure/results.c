// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <iob/cycles.h>
#include <iob/perfctr.h>
#include <iob/results.h>

#include "version.h"

static void copy_clean(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; *src && n + 1 < len; src++) {
		unsigned char ch = (unsigned char)*src;

		/* Metadata values are single-line: control characters become spaces. */
		dst[n++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	dst[n] = '\0';
}

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
			copy_clean(buf, len, colon);
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
	copy_clean(e->git_commit, sizeof(e->git_commit), IOB_GIT_COMMIT);
	if (gethostname(e->host, sizeof(e->host)))
		snprintf(e->host, sizeof(e->host), "unknown");
	e->host[sizeof(e->host) - 1] = '\0';
	read_cpu_model(e->cpu, sizeof(e->cpu));
	if (!uname(&u))
		snprintf(e->kernel, sizeof(e->kernel), "%s %s", u.sysname, u.release);
	perfctr_probe(e->counters, sizeof(e->counters));
	for (int i = 0; i < argc && n + 2 < sizeof(e->command); i++) {
		int w = snprintf(e->command + n, sizeof(e->command) - n, "%s%s",
				 i ? " " : "", argv[i]);

		if (w < 0)
			break;
		n += (size_t)w;
	}
	copy_clean(e->command, sizeof(e->command), e->command);
	e->tsc_khz = ci->tsc_khz;
	e->tsc_source = ci->tsc_source ? ci->tsc_source : "none";
	e->probe_overhead_cyc = ci->overhead_cyc;
	e->seed = seed;
	gmtime_r(&now, &tm);
	strftime(e->date, sizeof(e->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- run folders ------------------------------------------------------------ */

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

	if (!label_ok(label))
		return -EINVAL;
	if (mkdir(root, 0777) && errno != EEXIST)
		return -errno;
	rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	snprintf(rd->tmp, sizeof(rd->tmp), "%s/.tmp-%s-XXXXXX", root, label);
	if (!mkdtemp(rd->tmp)) {
		int err = -errno;

		free(rd);
		return err;
	}
	slug(host, sizeof(host), env->host, 32);
	slug(cpu, sizeof(cpu), env->cpu, 40);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d-%H%M%S", &tm);
	snprintf(rd->final, sizeof(rd->final), "%s/%s_%s_%s_%s", root, date, host, cpu,
		 label);
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

int rundir_commit(struct rundir *rd, char *final, size_t len)
{
	char name[4200];
	int ret = 0;

	snprintf(name, sizeof(name), "%s", rd->final);
	for (int i = 2; i < 1000; i++) {
		struct stat st;

		if (stat(name, &st) && errno == ENOENT)
			break;
		snprintf(name, sizeof(name), "%s-%d", rd->final, i);
	}
	if (rename(rd->tmp, name))
		ret = -errno;
	if (final && len) {
		/*
		 * Absolute, whatever the folder was given as: callers print it,
		 * and a relative --results (which keeps the recorded command
		 * line free of this machine's paths) would mislead from elsewhere.
		 */
		char *abs = realpath(ret ? rd->tmp : name, NULL);

		snprintf(final, len, "%s", abs ? abs : ret ? rd->tmp : name);
		free(abs);
	}
	free(rd);
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

void rundir_abort(struct rundir *rd)
{
	if (!rd)
		return;
	remove_tree(rd->tmp);
	free(rd);
}

void rundir_release(struct rundir *rd)
{
	free(rd);
}

/* ---- CSV writing --------------------------------------------------------------- */

struct csv {
	FILE *f;
	char tmp[4400];
	char path[4400];
	bool header_done;
	unsigned ncols;		/* the header's columns: every row must have as many */
	int err;
};

/* Fields of a CSV line: commas outside double quotes, plus one. */
static unsigned csv_fields(const char *line)
{
	unsigned n = 1;
	bool quoted = false;

	for (; *line; line++) {
		if (*line == '"')
			quoted = !quoted;
		else if (*line == ',' && !quoted)
			n++;
	}
	return n;
}

int csv_open(const char *dir, const char *name, const struct results_env *env,
	     struct csv **out)
{
	struct csv *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s/%s", dir, name);
	snprintf(c->tmp, sizeof(c->tmp), "%s/%s.tmp", dir, name);
	c->f = fopen(c->tmp, "w");
	if (!c->f) {
		int err = -errno;

		free(c);
		return err;
	}
	if (env) {
		csv_meta(c, "schema_version", "%d", RESULTS_SCHEMA_VERSION);
		csv_meta(c, "date", "%s", env->date);
		csv_meta(c, "git_commit", "%s", env->git_commit);
		csv_meta(c, "host", "%s", env->host);
		csv_meta(c, "cpu", "%s", env->cpu);
		csv_meta(c, "tsc_khz", "%llu", (unsigned long long)env->tsc_khz);
		csv_meta(c, "tsc_source", "%s", env->tsc_source);
		csv_meta(c, "probe_overhead_cyc", "%.1f", env->probe_overhead_cyc);
		csv_meta(c, "kernel", "%s", env->kernel);
		csv_meta(c, "counters", "perf %s", env->counters);
		csv_meta(c, "command", "%s", env->command);
		csv_meta(c, "seed", "0x%016llx", (unsigned long long)env->seed);
	}
	*out = c;
	return 0;
}

void csv_meta(struct csv *c, const char *key, const char *fmt, ...)
{
	char val[2048], clean[2048];
	va_list ap;

	if (c->header_done) {
		c->err = -EINVAL;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	copy_clean(clean, sizeof(clean), val);
	if (fprintf(c->f, "# %s=%s\n", key, clean) < 0)
		c->err = -EIO;
}

void csv_header(struct csv *c, const char *cols)
{
	if (c->header_done) {
		c->err = -EINVAL;
		return;
	}
	c->header_done = true;
	c->ncols = csv_fields(cols);
	if (fprintf(c->f, "%s\n", cols) < 0)
		c->err = -EIO;
}

void csv_row(struct csv *c, const char *fmt, ...)
{
	char small[4096], *line = small;
	va_list ap;
	int len;

	if (!c->header_done) {
		c->err = -EINVAL;
		return;
	}
	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0) {
		c->err = -EINVAL;
		return;
	}
	if ((size_t)len >= sizeof(small)) {
		line = malloc((size_t)len + 1);
		if (!line) {
			c->err = -ENOMEM;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(line, (size_t)len + 1, fmt, ap);
		va_end(ap);
	}
	/* A row that does not match its header would be read as other columns. */
	if (csv_fields(line) != c->ncols) {
		fprintf(stderr, "iob: %s: a row has %u fields, the header %u (a bug)\n",
			c->path, csv_fields(line), c->ncols);
		c->err = -EPROTO;
	} else if (fputs(line, c->f) == EOF || fputc('\n', c->f) == EOF) {
		c->err = -EIO;
	}
	if (line != small)
		free(line);
}

int csv_close(struct csv *c)
{
	int ret = c->err;

	if (fflush(c->f) || ferror(c->f))
		ret = ret ? ret : -EIO;
	if (!ret && fsync(fileno(c->f)))
		ret = -errno;
	if (fclose(c->f) && !ret)
		ret = -errno;
	if (!ret && !c->header_done)
		ret = -EINVAL;
	if (!ret && rename(c->tmp, c->path))
		ret = -errno;
	if (ret)
		unlink(c->tmp);
	free(c);
	return ret;
}

void csv_discard(struct csv *c)
{
	if (!c)
		return;
	fclose(c->f);
	unlink(c->tmp);
	free(c);
}

/* ---- CSV reading -------------------------------------------------------------- */

static int split_fields(char *line, char ***out, size_t *n)
{
	size_t cap = 8, k = 0;
	char **v = malloc(cap * sizeof(*v));
	char *p = line;

	if (!v)
		return -ENOMEM;
	for (;;) {
		char *comma = strchr(p, ',');

		if (k == cap) {
			char **nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		if (comma)
			*comma = '\0';
		v[k++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = v;
	*n = k;
	return 0;
}

static int rerr(char *err, size_t len, size_t line, const char *why)
{
	if (err && len)
		snprintf(err, len, "line %zu: %s", line, why);
	return -EINVAL;
}

int csv_read(const char *path, struct csv_table *t, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0, rcap = 0;
	ssize_t len;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	if (!f) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *copy, **fields;
		size_t n;

		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (line[0] == '#') {
			char *eq, *k = line + 1;
			char **nk, **nv;

			if (t->ncols) {
				ret = rerr(err, errlen, lineno, "metadata after the header");
				break;
			}
			while (*k == ' ')
				k++;
			eq = strchr(k, '=');
			if (!eq) {
				ret = rerr(err, errlen, lineno, "metadata line without '='");
				break;
			}
			*eq = '\0';
			nk = realloc(t->meta_key, (t->nmeta + 1) * sizeof(*nk));
			if (nk)
				t->meta_key = nk;
			nv = realloc(t->meta_val, (t->nmeta + 1) * sizeof(*nv));
			if (nv)
				t->meta_val = nv;
			if (!nk || !nv) {
				ret = -ENOMEM;
				break;
			}
			t->meta_key[t->nmeta] = strdup(k);
			t->meta_val[t->nmeta] = strdup(eq + 1);
			t->nmeta++;
			continue;
		}
		if (!len)
			continue;
		copy = strdup(line);
		if (!copy || split_fields(copy, &fields, &n)) {
			free(copy);
			ret = -ENOMEM;
			break;
		}
		if (!t->ncols) {
			t->cols = fields;
			t->ncols = n;
			continue;
		}
		if (n != t->ncols) {
			free(fields);
			free(copy);
			ret = rerr(err, errlen, lineno, "field count differs from the header");
			break;
		}
		if (t->nrows == rcap) {
			char ***nr = realloc(t->rows, (rcap ? 2 * rcap : 16) * sizeof(*nr));

			if (!nr) {
				free(fields);
				free(copy);
				ret = -ENOMEM;
				break;
			}
			t->rows = nr;
			rcap = rcap ? 2 * rcap : 16;
		}
		t->rows[t->nrows++] = fields;
	}
	free(line);
	fclose(f);
	if (!ret && !t->ncols)
		ret = rerr(err, errlen, lineno, "no header line");
	if (ret)
		csv_table_free(t);
	return ret;
}

void csv_table_free(struct csv_table *t)
{
	for (size_t i = 0; i < t->nmeta; i++) {
		free(t->meta_key[i]);
		free(t->meta_val[i]);
	}
	free(t->meta_key);
	free(t->meta_val);
	if (t->cols) {
		free(t->cols[0]);
		free(t->cols);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		free(t->rows[r][0]);
		free(t->rows[r]);
	}
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

int csv_col(const struct csv_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i], name))
			return (int)i;
	return -1;
}

const char *csv_meta_get(const struct csv_table *t, const char *key)
{
	for (size_t i = 0; i < t->nmeta; i++)
		if (!strcmp(t->meta_key[i], key))
			return t->meta_val[i];
	return NULL;
}
