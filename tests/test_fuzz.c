// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fuzz targets' committed inputs, replayed in the normal build: every
 * file of tests/fuzz/corpus/<target>/ (the seeds, made from real files) and
 * tests/fuzz/regress/<target>/ (what the fuzzer found; each was a crash or
 * a failed check before its fix) goes through the same entry point as under
 * libFuzzer. A target aborts on a violated property, which fails the test.
 * IOB_FUZZ_FILE=path replays one file only.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "fuzz.h"

static size_t replay_file(const char *path, int (*fn)(const uint8_t *, size_t))
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "%s: short read", path);
	fclose(f);
	fn(buf, (size_t)n);
	free(buf);
	return 1;
}

static size_t replay_dir(const char *kind, const char *target, int (*fn)(const uint8_t *, size_t))
{
	char dir[4096], path[8192];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s/%s", IOB_FUZZ_DIR, kind, target);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		n += replay_file(path, fn);
	}
	closedir(d);
	return n;
}

static void replay(const char *target, int (*fn)(const uint8_t *, size_t))
{
	const char *one = getenv("IOB_FUZZ_FILE");

	if (one && *one) {
		if (strstr(one, target))
			replay_file(one, fn);
		return;
	}
	cr_assert_gt(replay_dir("corpus", target, fn), 0, "tests/fuzz/corpus/%s: no seeds", target);
	replay_dir("regress", target, fn);
}

#define REPLAY(t)							\
	Test(fuzz, t##_corpus_and_regressions_pass) { replay(#t, fuzz_##t); }

REPLAY(trace)
REPLAY(ftrace)
REPLAY(qgc)
REPLAY(qtr)
REPLAY(qcon)
REPLAY(xenlog)
REPLAY(cost)
REPLAY(csv)
REPLAY(csvwrite)
REPLAY(matrix)
REPLAY(perfstat)
REPLAY(sysfs)
REPLAY(args)
REPLAY(hv)
