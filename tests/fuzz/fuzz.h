/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One fuzz target per input format (docs/fuzzing.md). Each file defines
 * fuzz_<name>(data, size), which calls the project's real parser. Built
 * with -Dfuzz=enabled (clang), FUZZ_MAIN() makes it libFuzzer's entry
 * point; in the normal build tests/test_fuzz.c calls the same functions
 * on every committed corpus and regression input, so a finding stays a
 * regression test without clang.
 *
 * A target returns 0; it aborts (fuzz_check()) when a property of the
 * parser is violated, so libFuzzer and the replay test both see it.
 */
#ifndef IOB_TEST_FUZZ_H
#define IOB_TEST_FUZZ_H

#include <errno.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef IOB_FUZZ_MAIN
#define FUZZ_MAIN(fn)								\
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);		\
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)		\
	{									\
		return fn(data, size);						\
	}
#else
#define FUZZ_MAIN(fn)
#endif

/* The input as a NUL-terminated string (cut at its first NUL); free() it. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The scratch folder of the target: removed at exit. */
static char fuzz_tmp[128];

static inline int fuzz_rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st; (void)type; (void)f;
	return remove(p);
}

static inline void fuzz_tmp_remove(void)
{
	if (fuzz_tmp[0])
		nftw(fuzz_tmp, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline const char *fuzz_tmpdir(const char *name)
{
	if (!fuzz_tmp[0]) {
		snprintf(fuzz_tmp, sizeof(fuzz_tmp), "%s/iob-fuzz-%s.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
		if (!mkdtemp(fuzz_tmp)) {
			fprintf(stderr, "fuzz: mkdtemp %s: %s\n", fuzz_tmp, strerror(errno));
			abort();
		}
		atexit(fuzz_tmp_remove);
	}
	return fuzz_tmp;
}

#define fuzz_check(cond, ...)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);				\
			fputc('\n', stderr);					\
			abort();						\
		}								\
	} while (0)

int fuzz_trace(const uint8_t *data, size_t size);
int fuzz_ftrace(const uint8_t *data, size_t size);
int fuzz_qgc(const uint8_t *data, size_t size);
int fuzz_qtr(const uint8_t *data, size_t size);
int fuzz_qcon(const uint8_t *data, size_t size);
int fuzz_xenlog(const uint8_t *data, size_t size);
int fuzz_cost(const uint8_t *data, size_t size);
int fuzz_csv(const uint8_t *data, size_t size);
int fuzz_csvwrite(const uint8_t *data, size_t size);
int fuzz_matrix(const uint8_t *data, size_t size);
int fuzz_perfstat(const uint8_t *data, size_t size);
int fuzz_sysfs(const uint8_t *data, size_t size);
int fuzz_args(const uint8_t *data, size_t size);
int fuzz_hv(const uint8_t *data, size_t size);

#endif
