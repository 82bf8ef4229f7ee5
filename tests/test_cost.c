// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cost: the hardware cost model's defaults, its "key = value" parser and
 * the file loader. Every rejected input must name its line and leave the
 * model exactly as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <iob/alloc.h>
#include <iob/cost.h>

#include "tmpname.h"

static const struct {
	const char *name;
	double def;
} expected[] = {
#define ROW(n, d, doc) { #n, d },
	COST_PARAMS(ROW)
#undef ROW
};

#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

/* A distinct value per parameter that every parameter accepts. */
static double want_value(size_t i)
{
	if (!strcmp(expected[i].name, "iotlb_entries"))
		return 1024;
	if (!strcmp(expected[i].name, "iotlb_ways"))
		return 16;
	return (double)(i + 1);
}

/* A model with every field set to a value no default has. */
static void odd_model(struct cost_model *m)
{
	cost_defaults(m);
#define SET(n, d, doc) m->n = d + 0.25;
	COST_PARAMS(SET)
#undef SET
}

Test(cost, defaults_match_the_documented_table)
{
	struct cost_model m;

	memset(&m, 0xff, sizeof(m));
	cost_defaults(&m);
	cr_assert_eq(cost_nparams(), NEXPECTED);
#define CHECK(n, d, doc) cr_assert_eq(m.n, d, #n " is %g, want %g", m.n, (double)d);
	COST_PARAMS(CHECK)
#undef CHECK
	for (size_t i = 0; i < NEXPECTED; i++) {
		cr_assert_str_eq(cost_param_name(i), expected[i].name);
		cr_assert_eq(cost_param_get(&m, i), expected[i].def, "%s", expected[i].name);
		cr_assert_not_null(cost_param_doc(i));
		cr_assert_gt(strlen(cost_param_doc(i)), 0);
	}
	cr_assert_null(cost_param_name(NEXPECTED));
	cr_assert_null(cost_param_doc(NEXPECTED));
	/* Spot checks against docs/cost-model.md. */
	cr_assert_eq(m.completion_wait_ns, 800.0);
	cr_assert_eq(m.walk_level_ns, 90.0);
	cr_assert_eq(m.dma_bytes_per_ns, 16.0);
}

Test(cost, param_get_reads_each_field_by_index)
{
	struct cost_model m;

	odd_model(&m);
	for (size_t i = 0; i < NEXPECTED; i++)
		cr_assert_eq(cost_param_get(&m, i), expected[i].def + 0.25, "%s",
			     expected[i].name);
}

Test(cost, parse_accepts_comments_blank_lines_and_whitespace)
{
	struct cost_model m, want;
	char err[128] = "";
	const char *text =
		"# a cost file\n"
		"\n"
		"   \t\n"
		"cmd_ns = 70.5\n"
		"  walk_level_ns=1e2   # trailing comment\n"
		"\tdoorbell_ns\t=\t0\t\r\n"
		"# inv_all_ns = 5\n"
		"inv_iotlb_ns = 2500";		/* no final newline */

	cost_defaults(&m);
	want = m;
	want.cmd_ns = 70.5;
	want.walk_level_ns = 100.0;
	want.doorbell_ns = 0.0;
	want.inv_iotlb_ns = 2500.0;
	cr_assert_eq(cost_parse(&m, text, err, sizeof(err)), 0, "%s", err);
	cr_assert(!memcmp(&m, &want, sizeof(m)), "only the four keys change");
	cr_assert_eq(m.inv_all_ns, 400.0, "a commented-out key is ignored");
}

Test(cost, parse_overrides_on_top_of_the_given_model)
{
	struct cost_model m;

	odd_model(&m);
	cr_assert_eq(cost_parse(&m, "cmd_ns = 1\n", NULL, 0), 0);
	cr_assert_eq(m.cmd_ns, 1.0);
	cr_assert_eq(m.doorbell_ns, 150.25, "untouched keys keep the caller's value");
	cr_assert_eq(cost_parse(&m, "", NULL, 0), 0);
	cr_assert_eq(cost_parse(&m, "\n\n# nothing\n", NULL, 0), 0);
	cr_assert_eq(m.cmd_ns, 1.0);
}

Test(cost, parse_accepts_every_parameter_name)
{
	struct cost_model m;
	char text[4096] = "", err[128] = "";

	cost_defaults(&m);
	for (size_t i = 0; i < NEXPECTED; i++) {
		char line[128];

		snprintf(line, sizeof(line), "%s = %g\n", expected[i].name, want_value(i));
		strcat(text, line);
	}
	cr_assert_eq(cost_parse(&m, text, err, sizeof(err)), 0, "%s", err);
	for (size_t i = 0; i < NEXPECTED; i++)
		cr_assert_eq(cost_param_get(&m, i), want_value(i), "%s", expected[i].name);
}

Test(cost, parse_rejects_an_impossible_iotlb_geometry_or_a_stopped_link)
{
	static const char *const bad[] = {
		"iotlb_entries = 100\n", "iotlb_entries = 0\n", "iotlb_ways = 3\n",
		"iotlb_ways = 1024\n", "iotlb_entries = 131072\n",
		"iotlb_entries = 64\niotlb_ways = 128\n", "iotlb_entries = 64.5\n",
		"dma_bytes_per_ns = 0\n",
	};
	struct cost_model m, before;
	char err[256];

	cost_defaults(&m);
	before = m;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(cost_parse(&m, bad[i], err, sizeof(err)), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(err, "line "), "%s: %s", bad[i], err);
		cr_assert_eq(memcmp(&m, &before, sizeof(m)), 0, "%s changed the model", bad[i]);
	}
	cr_assert_eq(cost_parse(&m, "iotlb_entries = 64\niotlb_ways = 64\n", err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(m.iotlb_entries, 64);
	cr_assert_eq(m.iotlb_ways, 64);
}

Test(cost, format_writes_a_file_that_parses_back_to_the_same_model)
{
	struct cost_model m, back;
	char text[4096], err[256];
	size_t n;

	cost_defaults(&m);
	m.walk_level_ns = 123.456789;
	m.iotlb_entries = 2048;
	m.iotlb_ways = 16;
	n = cost_format(&m, text, sizeof(text));
	cr_assert_lt(n, sizeof(text));
	cr_assert(strstr(text, "iotlb_entries = 2048  # "), "%s", text);
	cost_defaults(&back);
	cr_assert_eq(cost_parse(&back, text, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(memcmp(&m, &back, sizeof(m)), 0);
	/* Cut short: still NUL-terminated, and the length needed is told. */
	cr_assert_eq(cost_format(&m, text, 10), n);
	cr_assert_eq(strlen(text), 9);
}

static void expect_reject(const char *text, unsigned line, const char *why)
{
	struct cost_model m, before;
	char err[256] = "";
	char tag[32];

	odd_model(&m);
	before = m;
	cr_assert_eq(cost_parse(&m, text, err, sizeof(err)), -EINVAL,
		     "accepted (%s): \"%s\"", why, text);
	snprintf(tag, sizeof(tag), "line %u:", line);
	cr_assert(!strncmp(err, tag, strlen(tag)), "%s: error \"%s\" lacks \"%s\"",
		  why, err, tag);
	cr_assert(!memcmp(&m, &before, sizeof(m)), "%s: model changed on error", why);
	/* No error buffer: still rejected, still unchanged. */
	cr_assert_eq(cost_parse(&m, text, NULL, 0), -EINVAL);
	cr_assert(!memcmp(&m, &before, sizeof(m)));
}

Test(cost, parse_rejects_bad_input_naming_the_line_and_leaving_the_model)
{
	/* Valid lines first: they must not be applied either. */
	expect_reject("cmd_ns = 1\nbogus_ns = 2\n", 2, "unknown key");
	expect_reject("cmd_ns = 1\n# c\n\ncmd_ns = 2\n", 4, "duplicate key");
	expect_reject("cmd_ns 5\n", 1, "missing '='");
	expect_reject("cmd_ns = 1\ndoorbell_ns\n", 2, "missing '=' and value");
	expect_reject("cmd_ns = abc\n", 1, "non-number");
	expect_reject("cmd_ns =\n", 1, "empty value");
	expect_reject("cmd_ns =   # nothing\n", 1, "comment as value");
	expect_reject("walk_level_ns = 3\ncmd_ns = -1\n", 2, "negative");
	expect_reject("cmd_ns = -0.5\n", 1, "negative fraction");
	expect_reject("cmd_ns = 5 6\n", 1, "trailing number");
	expect_reject("cmd_ns = 5ns\n", 1, "trailing unit");
	expect_reject("cmd_ns = 5,0\n", 1, "trailing comma");
	expect_reject("cmd_ns = nan\n", 1, "not a number");
	expect_reject("cmd_ns = inf\n", 1, "infinite");
	expect_reject("cmd_ns = 1e999\n", 1, "overflow");
	expect_reject("= 5\n", 1, "missing key");
	expect_reject("cmd ns = 5\n", 1, "key with a space");
	expect_reject("CMD_NS = 5\n", 1, "key in the wrong case");
	expect_reject("\n\n\ncmd_ns == 5\n", 4, "double '='");
}

Test(cost, parse_rejects_an_overlong_line)
{
	char text[600];

	memset(text, ' ', sizeof(text));
	memcpy(text, "cmd_ns = 1\n", 11);
	text[sizeof(text) - 1] = '\0';
	expect_reject(text, 2, "line longer than the parser's buffer");
}

Test(cost, load_of_a_missing_file_is_enoent_naming_the_path)
{
	struct cost_model m, before;
	char err[256] = "";
	const char *path = "/nonexistent-iob-dir/no-such-cost-file.conf";

	odd_model(&m);
	before = m;
	cr_assert_eq(cost_load(&m, path, err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, path), "error \"%s\" does not name the path", err);
	cr_assert(!memcmp(&m, &before, sizeof(m)));
}

Test(cost, load_reads_a_file_and_reports_its_errors)
{
	char path[] = "/tmp/iob-test-cost-XXXXXX";
	struct cost_model m, before;
	char err[256] = "";
	int fd = mkstemp(path);
	FILE *f;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fputs("# measured on host X\ncompletion_wait_ns = 1234.5\n", f);
	fclose(f);
	cost_defaults(&m);
	cr_assert_eq(cost_load(&m, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.completion_wait_ns, 1234.5);
	cr_assert_eq(m.cmd_ns, 60.0);

	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("cmd_ns = 1\ncmd_ns = 2\n", f);
	fclose(f);
	before = m;
	cr_assert_eq(cost_load(&m, path, err, sizeof(err)), -EINVAL);
	cr_assert_not_null(strstr(err, "line 2:"), "%s", err);
	cr_assert(!memcmp(&m, &before, sizeof(m)));
	unlink(path);
}

Test(cost, load_without_memory_fails_naming_the_file_and_leaves_the_model)
{
	struct cost_model m, before;
	int64_t live = iob_alloc_live();
	char err[256] = "", path[256];
	FILE *f;

	tmpname_file(path, sizeof(path), "iobtest-cost");
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("cmd_ns = 7\n", f);
	fclose(f);
	odd_model(&m);
	before = m;
	iob_fail_after(0);
	cr_assert_eq(cost_load(&m, path, err, sizeof(err)), -ENOMEM);
	iob_fail_after(-1);
	cr_assert(strstr(err, path), "%s", err);
	cr_assert(!memcmp(&m, &before, sizeof(m)));
	cr_assert_eq(iob_alloc_live(), live);
	cr_assert_eq(cost_load(&m, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(m.cmd_ns, 7.0);
	unlink(path);
}
