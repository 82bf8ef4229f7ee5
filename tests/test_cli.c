// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The iob command from outside: known encodings printed by `iob amdvi`,
 * and bad input rejected with a message naming the problem and exit 2.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <iob/csv.h>
#include <iob/results.h>

#include "iobrun.h"

static struct iob_out o;

Test(cli, no_arguments_is_a_usage_error)
{
	iob_run(&o, "");
	cr_assert_eq(o.status, 2);
	iob_run(&o, "frobnicate");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "unknown command 'frobnicate'"), "%s", o.err);
}

Test(cli, help_lists_commands_and_exits_zero)
{
	iob_run(&o, "help");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "amdvi"));
	iob_run(&o, "help", "amdvi");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "inv-pages"));
}

/*
 * 12 KiB at 0x1000, exact: blocks 4K@0x1000 (S=0) and 8K@0x2000.
 * 8K@0x2000 with S=1: bit 12 clear is the lowest clear bit, k=12, size
 * 2^13; address field 0x2000, dw2 = 0x2000 | S = 0x2001. dw1 = opcode 3 in
 * bits 31:28 | domain 5 = 0x30000005.
 */
Test(cli, inv_pages_exact_prints_hand_checked_words)
{
	iob_run(&o, "amdvi", "inv-pages", "--domain", "5", "--iova", "0x1000", "--size", "12K");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "0x00000000 0x30000005 0x00001000 0x00000000  covers "
				"0x0000000000001000-0x0000000000001fff (4 KiB)"), "%s", o.out);
	cr_assert(strstr(o.out, "0x00000000 0x30000005 0x00002001 0x00000000  covers "
				"0x0000000000002000-0x0000000000003fff (8 KiB)"), "%s", o.out);
	cr_assert(strstr(o.out, "# 2 command(s), policy exact"), "%s", o.out);
}

/*
 * Found by tests/fuzz/fuzz_args.c: numbers are decimal or 0x hex, but a
 * leading 0 was read as octal: --domain 010 was domain 8, --size 020K 16K.
 */
Test(cli, a_leading_zero_is_decimal_not_octal)
{
	iob_run(&o, "amdvi", "inv-pages", "--domain", "010", "--iova", "0", "--size", "020K");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "0x00000000 0x3000000a "), "%s", o.out);
	cr_assert(strstr(o.out, "-0x0000000000004fff"), "20 KiB end at 0x4fff: %s", o.out);
	iob_run(&o, "amdvi", "inv-pages", "--domain", "0x", "--iova", "0", "--size", "4K");
	cr_assert_eq(o.status, 2, "0x alone accepted: %s", o.out);
	iob_run(&o, "amdvi", "inv-pages", "--domain", "0x-1", "--iova", "0", "--size", "4K");
	cr_assert_eq(o.status, 2, "0x-1 accepted: %s", o.out);
}

/*
 * merged for [0x1000, 0x3fff]: the smallest aligned block is 16K at 0:
 * bits 12 set, 13 clear -> 0x1000 | S = 0x1001.
 * xen for 8K at 0x1ff000: crosses a 2M boundary, fits one 1G block ->
 * order 18: bits 12..28 set, bit 29 clear -> 0x1ffff000 | S.
 */
Test(cli, inv_pages_merged_and_xen_over_invalidate)
{
	iob_run(&o, "amdvi", "inv-pages", "--domain", "5", "--iova", "0x1000", "--size",
		"12K", "--policy", "merged");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "0x00000000 0x30000005 0x00001001 0x00000000"), "%s", o.out);
	cr_assert(strstr(o.out, "4096 bytes beyond"), "%s", o.out);
	iob_run(&o, "amdvi", "inv-pages", "--domain", "5", "--iova", "0x1ff000", "--size",
		"8K", "--policy", "xen");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "0x00000000 0x30000005 0x1ffff001 0x00000000"), "%s", o.out);
	iob_run(&o, "amdvi", "inv-pages", "--domain", "1", "--iova", "0", "--size", "2G",
		"--policy", "xen", "--pde");
	cr_assert_eq(o.status, 0);
	/* All pages: 0x7ffffffffffff000 | S | PDE */
	cr_assert(strstr(o.out, "0x00000000 0x30000001 0xfffff003 0x7fffffff"), "%s", o.out);
}

/*
 * A 4K leaf at 0x12345000, read+write: PR (bit 0) | address | FC (60) |
 * IR (61) | IW (62) = 0x7000000012345001.
 * A 64K page at 0x40000000, read only: Next Level 7 (0xe00), address bits
 * 14:12 set and 15 clear (0x7000) -> 0x40007000; FC|IR = 0x3 << 60.
 */
Test(cli, pte_encodes_4k_and_next_level_7_pages)
{
	iob_run(&o, "amdvi", "pte", "--pa", "0x12345000", "--page-size", "4K", "--read", "--write");
	cr_assert_eq(o.status, 0);
	cr_assert_str_eq(o.out, "0x7000000012345001\n");
	iob_run(&o, "amdvi", "pte", "--pa", "0x40000000", "--page-size", "64K", "--read");
	cr_assert_str_eq(o.out, "0x3000000040007e01\n");
	/* A 2M leaf: Next Level 0 at level 2, plain address. */
	iob_run(&o, "amdvi", "pte", "--pa", "0x40000000", "--page-size", "2M", "--write");
	cr_assert_str_eq(o.out, "0x5000000040000001\n");
}

Test(cli, decode_explains_pte_and_command)
{
	iob_run(&o, "amdvi", "decode", "0x3000000040007e01");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "64 KiB at 0x40000000"), "%s", o.out);
	cr_assert(strstr(o.out, "NextLevel  [11:9]       = 0x7"), "%s", o.out);
	iob_run(&o, "amdvi", "decode", "0", "0x30000005", "0x2001", "0");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "INVALIDATE_IOMMU_PAGES"), "%s", o.out);
	cr_assert(strstr(o.out, "DomainID   dw1[15:0]    = 0x5"), "%s", o.out);
	cr_assert(strstr(o.out, "covers 0x0000000000002000-0x0000000000003fff (8 KiB)"),
		  "%s", o.out);
	/* Reserved bit 3 of dword 2 set: illegal, named, exit 2. */
	iob_run(&o, "amdvi", "decode", "0", "0x30000005", "0x2009", "0");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "reserved bits"), "%s", o.err);
}

Test(cli, walk_prints_levels_and_faults)
{
	char script[64];

	write_tmp(script, sizeof(script),
		  "# 2M leaf, then a 4K hole punched into it\n"
		  "map 0x100000000 0x40000000 2M\n"
		  "unmap 0x100001000 4K\n");
	iob_run(&o, "amdvi", "walk", "--script", script, "--addr", "0x100000000", "--addr",
		"0x100001000", "--addr", "0x100002123");
	unlink(script);
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "L1 T3[  0] = 0x7000000040000001  leaf"), "%s", o.out);
	cr_assert(strstr(o.out, "=> fault: not-present at level 1"), "%s", o.out);
	cr_assert(strstr(o.out, "=> pa 0x0000000040002123, page 4 KiB, rw"), "%s", o.out);
}

Test(cli, bad_input_names_the_argument_and_exits_2)
{
	char script[64];

	iob_run(&o, "amdvi", "inv-pages", "--domain", "70000", "--iova", "0", "--size", "4K");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--domain"), "%s", o.err);
	iob_run(&o, "amdvi", "inv-pages", "--domain", "1", "--iova", "0x1001", "--size", "4K");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--iova"), "%s", o.err);
	iob_run(&o, "amdvi", "inv-pages", "--domain", "1", "--iova", "0", "--size", "4Q");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--size"), "%s", o.err);
	iob_run(&o, "amdvi", "inv-pages", "--domain", "1", "--iova", "0", "--size", "4K",
		"--policy", "lazy");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--policy"), "%s", o.err);
	iob_run(&o, "amdvi", "pte", "--pa", "0x1000", "--page-size", "3K");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--page-size"), "%s", o.err);
	iob_run(&o, "amdvi", "decode", "1", "2");
	cr_assert_eq(o.status, 2);
	iob_run(&o, "amdvi", "decode", "--as", "cmd", "0", "0x100000000", "0", "0");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "32 bits"), "%s", o.err);
	iob_run(&o, "amdvi", "walk", "--script", "/nonexistent/x", "--addr", "0");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "/nonexistent/x"), "%s", o.err);

	write_tmp(script, sizeof(script), "map 0x1000 0x2000 4K\nmap 0x1000 0x3000 4K\n");
	iob_run(&o, "amdvi", "walk", "--script", script, "--addr", "0x1000");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":2: map failed: already mapped"), "%s", o.err);
	unlink(script);
	write_tmp(script, sizeof(script), "map 0x1000 0x2000\n");
	iob_run(&o, "amdvi", "walk", "--script", script, "--addr", "0x1000");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":1: expected: map IOVA PA SIZE"), "%s", o.err);
	unlink(script);
	write_tmp(script, sizeof(script), "\n\nzap 0 4K\n");
	iob_run(&o, "amdvi", "walk", "--script", script, "--addr", "0x1000");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":3: unknown operation 'zap'"), "%s", o.err);
	unlink(script);
}

/* ---- matrix, micro, dmamap, plot ----------------------------------------------- */

Test(cli, matrix_file_errors_name_line_and_column)
{
	char m[64];

	write_tmp(m, sizeof(m), "# ok\npgtable rounds=10\n\n  reach acesses=5\n");
	iob_run(&o, "matrix", m, "--results", "/tmp/iobtest-never");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":4:9: reach acesses: unknown option 'acesses'"), "%s", o.err);
	unlink(m);

	write_tmp(m, sizeof(m), "pgtable rounds=10\nfrobs x=1\n");
	iob_run(&o, "matrix", m);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":2:1: unknown family 'frobs'"), "%s", o.err);
	unlink(m);

	write_tmp(m, sizeof(m), "dmamap mode=strict threads\n");
	iob_run(&o, "matrix", m);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":1:20: expected key=value, got 'threads'"), "%s", o.err);
	unlink(m);

	write_tmp(m, sizeof(m), "pgtable sizes=3K\n");
	iob_run(&o, "matrix", m);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":1:9: pgtable sizes: '3K' is not a power of two"), "%s", o.err);
	unlink(m);

	write_tmp(m, sizeof(m), "# nothing\n\n");
	iob_run(&o, "matrix", m);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "no configurations"), "%s", o.err);
	unlink(m);

	iob_run(&o, "matrix", "--label", "a/b");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--label"), "%s", o.err);
	iob_run(&o, "matrix", "--scale", "0");
	cr_assert_eq(o.status, 2);
	iob_run(&o, "matrix", "/nonexistent/matrix.txt");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "/nonexistent/matrix.txt"), "%s", o.err);
}

static int count_entries(const char *dir, const char *prefix)
{
	char cmd[256];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s | grep -c '^%s'", dir, prefix);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

Test(cli, matrix_writes_a_complete_folder_and_same_seed_same_counts, .timeout = 240)
{
	char m[64], root[64], cmd[8192], a[4096], b[4096];
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/iobtest-mx-XXXXXX");
	cr_assert(mkdtemp(root));
	write_tmp(m, sizeof(m),
		  "inval unmaps=2000 batches=1,16\n"
		  "reach ws=64K,4M sizes=4K accesses=2000 entries=64 ways=64\n"
		  "dmamap mode=lazy ms=50\n");
	for (int run = 0; run < 2; run++) {
		iob_run(&o, "matrix", m, "--results", root, "--label", "t", "--no-plot",
			"--seed", "7");
		cr_assert_eq(o.status, 0, "%s", o.err);
		cr_assert(strstr(o.out, "_t"), "%s", o.out);
		o.out[strcspn(o.out, "\n")] = '\0';
		/* Counts only: time columns differ run to run, counts must not. */
		snprintf(cmd, sizeof(cmd),
			 "grep -v '^#' %.1000s/inval.csv | cut -d, -f1-10; "
			 "grep -v '^#' %.1000s/reach.csv | cut -d, -f1-10; ls %.1000s",
			 o.out, o.out, o.out);
		f = popen(cmd, "r");
		cr_assert(f);
		{
			char *dst = run ? b : a;
			size_t n = fread(dst, 1, 4095, f);

			dst[n] = '\0';
		}
		pclose(f);
	}
	cr_assert(strstr(a, "meta.json"), "%s", a);
	cr_assert(strstr(a, "dmamap.csv"), "%s", a);
	cr_assert(strstr(a, "exact"), "%s", a);
	cr_assert_str_eq(a, b);
	/* Nothing half-done stays behind. */
	cr_assert_eq(count_entries(root, ".tmp-"), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
	unlink(m);
}

Test(cli, dmamap_enforces_linux_argument_ranges)
{
	static const char *const bad[][3] = {
		{ "-t", "0", "invalid number of threads, must be in 1-1024" },
		{ "-t", "1025", "invalid number of threads, must be in 1-1024" },
		{ "-s", "0", "invalid number of seconds, must be in 1-300" },
		{ "-s", "301", "invalid number of seconds, must be in 1-300" },
		{ "-b", "19", "invalid dma mask bit, must be in 20-64" },
		{ "-b", "65", "invalid dma mask bit, must be in 20-64" },
		{ "-d", "3", "invalid dma direction" },
		{ "-x", "-1", "invalid transmit delay, must be in 0-10000000" },
		{ "-x", "10000001", "invalid transmit delay, must be in 0-10000000" },
		{ "-g", "0", "invalid granule size" },
		{ "-g", "1025", "invalid granule size" },
		{ "-n", "-2", "invalid numa node" },
		{ "-t", "2x", "invalid number of threads" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		iob_run(&o, "dmamap", bad[i][0], bad[i][1]);
		cr_assert_eq(o.status, 2, "%s %s", bad[i][0], bad[i][1]);
		cr_assert(strstr(o.err, bad[i][2]), "%s %s: %s", bad[i][0], bad[i][1], o.err);
	}
	iob_run(&o, "dmamap", "--mode", "eager");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "'eager' is not strict, batched or lazy"), "%s", o.err);
}

Test(cli, dmamap_batched_waits_once_per_batch_of_each_thread)
{
	double inv = -1, waits = -1;
	const char *p;

	iob_run(&o, "dmamap", "-t", "2", "--ms", "100", "--mode", "batched");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "# model: mode batched,"), "%s", o.out);
	p = strstr(o.out, "# invalidation commands per unmap ");
	cr_assert_not_null(p, "%s", o.out);
	cr_assert_eq(sscanf(p, "# invalidation commands per unmap %lf, completion waits per "
			    "unmap %lf", &inv, &waits), 2, "%s", p);
	/* One wait per 64 pairs of a thread, the last batches ended by the final sync. */
	cr_assert(waits > 0 && waits <= 2.0 / 64 + 0.01, "%s", p);
	cr_assert(inv > 0 && inv <= 1, "%s", p);
}

Test(cli, dmamap_prints_the_kernel_tools_summary_lines)
{
	iob_run(&o, "dmamap", "-s", "1", "--ms", "100", "-g", "4", "-d", "2", "--mode", "lazy");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "dma mapping benchmark: threads:1 seconds:1 node:-1 "
				"dir:FROM_DEVICE granule: 4\n"), "%s", o.out);
	cr_assert(strstr(o.out, "# ran 100 ms (--ms), not the 1 s of -s\n"), "%s", o.out);
	cr_assert(strstr(o.out, "average map latency(us):"), "%s", o.out);
	cr_assert(strstr(o.out, "average unmap latency(us):"), "%s", o.out);
	cr_assert(strstr(o.out, " standard deviation:"), "%s", o.out);
}

Test(cli, micro_rejects_unknown_family_and_bad_values)
{
	iob_run(&o, "micro", "pgtables");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "unknown family 'pgtables'"), "%s", o.err);
	iob_run(&o, "micro", "pgtable", "--sizes", "8K");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--sizes"), "%s", o.err);
	iob_run(&o, "micro", "reach", "--entries", "100");
	cr_assert_eq(o.status, 2, "%s", o.err);
	cr_assert(strstr(o.err, "100 is not a power of two"), "%s", o.err);
	iob_run(&o, "micro", "reach", "--entries", "64", "--ways", "128");
	cr_assert_eq(o.status, 2, "%s", o.err);
	cr_assert(strstr(o.err, "more ways than entries"), "%s", o.err);
	iob_run(&o, "micro", "inval", "--streams", "none");
	cr_assert_eq(o.status, 2);
	iob_run(&o, "micro", "cmdq", "--ring", "300");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "power of two"), "%s", o.err);
}

Test(cli, replay_of_a_malformed_trace_names_file_and_line_and_exits_2)
{
	char t[64], want[128];

	write_tmp(t, sizeof(t), "# iommubench trace v1\n0 map 16 0x1000 0x2000 4096 rw\nthis is no event\n");
	iob_run(&o, "workload", "--workload", "replay", "--trace", t);
	cr_assert_eq(o.status, 2, "%s", o.err);
	snprintf(want, sizeof(want), "%s: line 3:", t);
	cr_assert(strstr(o.err, want), "%s", o.err);
	unlink(t);
	iob_run(&o, "workload", "--workload", "replay", "--trace", "/nonexistent/trace");
	cr_assert_eq(o.status, 2, "%s", o.err);
	cr_assert(strstr(o.err, "/nonexistent/trace: No such file"), "%s", o.err);
}

Test(cli, plot_needs_a_directory)
{
	iob_run(&o, "plot", "/nonexistent");
	cr_assert_eq(o.status, 2);
	iob_run(&o, "plot");
	cr_assert_eq(o.status, 2);
}

/* The value of column @col in the first data row of @path (a results CSV). */
static double csv_first(const char *path, const char *col)
{
	char line[8192], hdr[8192] = "";
	FILE *f = fopen(path, "r");
	int want = -1;

	cr_assert(f, "%s", path);
	while (fgets(line, sizeof(line), f)) {
		char *save, *tok;
		int i = 0;

		if (line[0] == '#')
			continue;
		if (!hdr[0]) {
			strcpy(hdr, line);
			for (tok = strtok_r(hdr, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save), i++)
				if (!strcmp(tok, col))
					want = i;
			cr_assert_geq(want, 0, "%s: no column %s", path, col);
			continue;
		}
		for (tok = strtok_r(line, ",\n", &save); tok && i < want; tok = strtok_r(NULL, ",\n", &save))
			i++;
		cr_assert(tok, "%s: short row", path);
		fclose(f);
		return strtod(tok, NULL);
	}
	fclose(f);
	cr_assert_fail("%s: no data row", path);
	return 0;
}

Test(cli, pingpong_reports_an_unclosed_window_as_minus_one, .timeout = 60)
{
	char root[64], path[128], cmd[128];

	snprintf(root, sizeof(root), "/tmp/iobtest-st-XXXXXX");
	cr_assert(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/hook", root);
	iob_run(&o, "workload", "--workload", "pingpong", "--strategy", "hook", "--ios", "64",
		"--out", path);
	cr_assert_eq(o.status, 0, "%s", o.err);
	snprintf(path, sizeof(path), "%s/hook/workloads.csv", root);
	cr_assert_eq(csv_first(path, "exposure_p99_ns"), -1, "hook never unmaps: no window closes");
	cr_assert_eq(csv_first(path, "exposure_p99_ops"), -1);

	snprintf(path, sizeof(path), "%s/pv", root);
	iob_run(&o, "workload", "--workload", "pingpong", "--strategy", "pv", "--ios", "64",
		"--out", path);
	cr_assert_eq(o.status, 0, "%s", o.err);
	snprintf(path, sizeof(path), "%s/pv/workloads.csv", root);
	cr_assert_gt(csv_first(path, "exposure_p99_ns"), 0, "strict pv closes each window");
	cr_assert_eq(csv_first(path, "completion_waits_per_io"), 1, "strict: a wait per unmap");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

Test(cli, the_strategy_command_and_family_point_to_pingpong)
{
	char m[64];

	iob_run(&o, "strategy", "--strategy", "pv");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "iob workload --workload pingpong"), "%s", o.err);
	write_tmp(m, sizeof(m), "strategy strategy=pv\n");
	iob_run(&o, "matrix", m, "--results", "/tmp/iobtest-never");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":1:1: the strategy family is now a workload: "
			 "'workload workload=pingpong'"), "%s", o.err);
	cr_assert_neq(access("/tmp/iobtest-never", F_OK), 0);
	unlink(m);
}

/* ---- xen import ----------------------------------------------------------------- */

/* A dom0 dump of one path record, @count samples in bucket 7, as iob-xenctl prints it. */
static void xen_dump(FILE *f, const char *wl, const char *path, unsigned count, bool close)
{
	fprintf(f, "iob-wl-begin,%s,64\niob-dom0-begin,%s,tsc_khz=2000000,tuning=batch\n", wl, wl);
	fprintf(f, "iob-dom0-path,%s,%s,%u,%u,100,200", wl, path, count, count * 150);
	for (int b = 0; b < 64; b++)
		fprintf(f, ",%u", b == 7 ? count : 0);
	fprintf(f, "\niob-dom0-event,%s,flush_order0,%u\n", wl, count);
	if (close)
		fprintf(f, "iob-dom0-end,%s\n", wl);
	fprintf(f, "iob-wl-end,%s,rc=0\n", wl);
}

Test(cli, xen_import_writes_the_dumps_and_refuses_a_bad_log_naming_its_line, .timeout = 60)
{
	char root[64], good[64], bad[64], path[4200], cmd[128];
	struct csv_table t;
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/iobtest-xi-XXXXXX");
	cr_assert(mkdtemp(root));
	write_tmp(good, sizeof(good), "");
	f = fopen(good, "w");
	xen_dump(f, "balloon_out", "unmap", 16384, true);
	fclose(f);
	write_tmp(bad, sizeof(bad), "");
	f = fopen(bad, "w");
	xen_dump(f, "balloon_out", "unmap", 16384, false);
	fclose(f);

	snprintf(path, sizeof(path), "%s/bad", root);
	iob_run(&o, "xen", "import", "--results", path, good, bad);
	cr_assert_eq(o.status, 2, "%s", o.err);
	cr_assert(strstr(o.err, bad) && strstr(o.err, "cut short"), "%s", o.err);
	cr_assert_neq(access(path, F_OK), 0, "bad input: nothing written");

	iob_run(&o, "xen", "import", "--results", root, "--label", "imp", good);
	cr_assert_eq(o.status, 0, "%s", o.err);
	o.out[strcspn(o.out, "\n")] = '\0';
	snprintf(path, sizeof(path), "%.4000s/xen.csv", o.out);
	cr_assert_eq(csv_read(path, &t, cmd, sizeof(cmd)), 0, "%s: %s", path, cmd);
	cr_assert_eq(t.nrows, 1);
	cr_assert_str_eq(t.rows[0][csv_col(&t, "workload")], "balloon_out");
	cr_assert_str_eq(t.rows[0][csv_col(&t, "tuning")], "batch");
	cr_assert_str_eq(t.rows[0][csv_col(&t, "iommu_unmaps")], "16384");
	cr_assert_str_eq(t.rows[0][csv_col(&t, "flush_order0")], "16384");
	cr_assert_str_eq(t.rows[0][csv_col(&t, "status")], "ok");
	csv_table_free(&t);
	snprintf(path, sizeof(path), "%.4000s/meta.json", o.out);
	cr_assert(access(path, F_OK) == 0);
	unlink(good);
	unlink(bad);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	cr_assert_eq(system(cmd), 0);
}

/* ---- fixes found when trying it as a new user (issue 13) ---- */

Test(cli, workload_help_is_the_workload_familys_and_errors_name_workload)
{
	iob_run(&o, "workload", "--help");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "usage: iob workload"), "%s", o.out);
	cr_assert_null(strstr(o.out, "pgtable"), "only the workload family's options: %s", o.out);
	iob_run(&o, "workload", "-h");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "--io-size"), "%s", o.out);
	iob_run(&o, "workload", "--frob", "1");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "workload: unknown option '--frob'"), "%s", o.err);
	cr_assert_null(strstr(o.err, "micro"), "%s", o.err);
}

Test(cli, both_spellings_of_a_flag_work)
{
	iob_run(&o, "workload", "--io_size", "4K", "--ios", "200", "--guest-mib", "64");
	cr_assert_eq(o.status, 0, "%s", o.err);
	iob_run(&o, "workload", "--io-size", "4K", "--ios", "200", "--guest_mib", "64");
	cr_assert_eq(o.status, 0, "%s", o.err);
}

Test(cli, version_prints_the_source_version)
{
	iob_run(&o, "--version");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "iob (iommubench) "), "%s", o.out);
}

Test(cli, help_matrix_documents_the_file_syntax)
{
	iob_run(&o, "help", "matrix");
	cr_assert_eq(o.status, 0);
	cr_assert(strstr(o.out, "a|b|c"), "%s", o.out);
	cr_assert(strstr(o.out, "FAMILY key=value"), "%s", o.out);
}

Test(cli, accepted_silently_before_now_exit_2_naming_the_problem)
{
	char cost[64], trace[64], m1[64], m2[64], dir[64];

	iob_run(&o, "micro", "cmdq", "--rounds", "10", "--cpu", "4095");
	cr_assert_eq(o.status, 2, "an absent CPU is not silently unpinned");
	cr_assert(strstr(o.err, "--cpu"), "%s", o.err);
	write_tmp(cost, sizeof(cost), "dma_bytes_per_ns = 0\n");
	iob_run(&o, "workload", "--cost", cost, "--ios", "100");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "dma_bytes_per_ns"), "%s", o.err);
	write_tmp(trace, sizeof(trace), "# iommubench trace v1\n0 unmap 1 0x1000 4096\n");
	iob_run(&o, "workload", "--workload", "replay", "--trace", trace);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "no map events"), "%s", o.err);
	iob_run(&o, "amdvi", "walk", "--script", "/", "--addr", "0x1000");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--script"), "%s", o.err);
	iob_run(&o, "workload", "--workload", "netrx", "--shape", "nvme", "--ios", "10");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "shape applies to workload blk only"), "%s", o.err);
	iob_run(&o, "micro", "pgtable", "--counts", "1,,2", "--rounds", "10");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "empty item"), "%s", o.err);
	write_tmp(m1, sizeof(m1), "cmdq rounds=10|\n");
	iob_run(&o, "matrix", m1, "--no-plot", "--results", "/nonexistent-iob");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, ":1:6: rounds=10| has an empty alternative"), "%s", o.err);
	write_tmp(m2, sizeof(m2), "cmdq rounds=10 rounds=20\n");
	iob_run(&o, "matrix", m2, "--no-plot", "--results", "/nonexistent-iob");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "rounds given twice"), "%s", o.err);
	snprintf(dir, sizeof(dir), "/tmp/iobtest-empty-XXXXXX");
	cr_assert(mkdtemp(dir));
	iob_run(&o, "plot", dir);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "none of the CSVs"), "%s", o.err);
	rmdir(dir);
	unlink(cost);
	unlink(trace);
	unlink(m1);
	unlink(m2);
}

Test(cli, matrix_estimate_uses_the_rates_measured_by_the_last_run)
{
	char root[64], m[64], path[128];

	snprintf(root, sizeof(root), "/tmp/iobtest-rate-XXXXXX");
	cr_assert(mkdtemp(root));
	write_tmp(m, sizeof(m), "cmdq rounds=100 batches=1\n");
	iob_run(&o, "matrix", m, "--results", root, "--no-plot", "--repeat", "1");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.err, "built-in estimates"), "%s", o.err);
	snprintf(path, sizeof(path), "%s/.iob-rates.json", root);
	cr_assert_eq(access(path, R_OK), 0);
	iob_run(&o, "matrix", m, "--results", root, "--no-plot", "--repeat", "1");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.err, "rates measured by the last run here"), "%s", o.err);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	cr_assert_eq(system(path), 0);
	unlink(m);
}
