// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob amdvi: encodings by hand. So that anyone can check the model against
 * the AMD IOMMU specification: invalidation commands as the four dwords the
 * IOMMU reads, leaf PTEs, field-by-field decoding, and table walks of a
 * scripted table.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <iob/cmdq.h>
#include <iob/inval.h>
#include <iob/iopt.h>

#include <iob/proc.h>

#include "iob.h"
#include "util.h"

static const char amdvi_usage[] =
	"usage: iob amdvi SUBCOMMAND [OPTIONS]\n"
	"\n"
	"  inv-pages --domain D --iova A --size S [--policy exact|merged|xen] [--pde]\n"
	"      INVALIDATE_IOMMU_PAGES commands for a range: four 32-bit words in hex\n"
	"      (word 0 first), then the block each covers.\n"
	"  pte --pa X --page-size S [--read] [--write]\n"
	"      the leaf entry iopt writes, as one 64-bit hex number.\n"
	"  decode [--as pte|cmd|event] HEX...\n"
	"      explain an entry field by field: one 64-bit value is a PTE, four\n"
	"      32-bit words (word 0 first) a command.\n"
	"  walk --script FILE --addr A [--addr A...] [--levels N] [--page-sizes LIST]\n"
	"       [--impl tuned|baseline]\n"
	"      apply `map IOVA PA SIZE [r|w|rw]` and `unmap IOVA SIZE` lines to a fresh\n"
	"      table, then print each address's walk level by level.\n"
	"\n"
	"Numbers are decimal or 0x hex; sizes take K, M, G, T (powers of 1024).\n";

static void print_field(const char *name, const char *bits, unsigned long long v,
			const char *note)
{
	printf("  %-10s %-12s = 0x%llx%s%s\n", name, bits, v, note ? "  " : "",
	       note ? note : "");
}

static const char *size_str(unsigned lg2, char *buf, size_t len)
{
	if (lg2 >= 64)
		return snprintf(buf, len, "all pages of the domain"), buf;
	return fmt_size(1ULL << lg2, buf, len);
}

/* ---- inv-pages ---------------------------------------------------------- */

static int amdvi_inv_pages(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "iova", required_argument, NULL, 'a' },
		{ "size", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'p' },
		{ "pde", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool have_d = false, have_a = false, have_s = false, pde = false;
	uint64_t domain = 0, iova = 0, size = 0, covered_total = 0;
	enum inval_policy policy = INVAL_EXACT;
	struct inval_result r;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "d:a:s:p:Ph", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			domain = parse_u64(optarg, "--domain");
			if (domain > 0xffff)
				usage_error("--domain: %s does not fit the 16-bit domain ID", optarg);
			have_d = true;
			break;
		case 'a':
			iova = parse_u64(optarg, "--iova");
			have_a = true;
			break;
		case 's':
			size = parse_size(optarg, "--size");
			have_s = true;
			break;
		case 'p': {
			int p = inval_policy_parse(optarg);

			if (p < 0)
				usage_error("--policy: '%s' is not one of exact, merged, xen", optarg);
			policy = (enum inval_policy)p;
			break;
		}
		case 'P':
			pde = true;
			break;
		case 'h':
			fputs(amdvi_usage, stdout);
			return 0;
		default:
			usage_error("amdvi inv-pages: bad option (see `iob amdvi --help`)");
		}
	}
	if (optind < argc)
		usage_error("amdvi inv-pages: unexpected argument '%s'", argv[optind]);
	if (!have_d || !have_a || !have_s)
		usage_error("amdvi inv-pages: --domain, --iova and --size are required");
	if (iova & 0xfff)
		usage_error("--iova: 0x%llx is not 4 KiB aligned", (unsigned long long)iova);
	if (!size || (size & 0xfff))
		usage_error("--size: must be a non-zero multiple of 4 KiB");
	if (iova + (size - 1) < iova)
		usage_error("--iova/--size: the range runs past 2^64");
	if (inval_split(policy, iova, size, 64, &r))
		usage_error("amdvi inv-pages: cannot split this range");

	for (unsigned i = 0; i < r.nblocks; i++) {
		struct amdvi_cmd cmd;
		struct cmdq_decoded d;
		char sz[48];
		bool s;
		uint64_t addr = cmdq_range_addr(r.blocks[i].start, r.blocks[i].size_lg2, &s);

		cmdq_enc_inv_iommu_pages(&cmd, (domid_t)domain, addr, s, pde);
		if (cmdq_decode(&cmd, &d))
			run_error("internal: encoded command does not decode");
		printf("0x%08x 0x%08x 0x%08x 0x%08x  ", cmd.dw[0], cmd.dw[1], cmd.dw[2],
		       cmd.dw[3]);
		if (d.range_lg2 >= 64) {
			printf("covers all pages of domain %u\n", (unsigned)domain);
		} else {
			uint64_t last = d.range_start + ((1ULL << d.range_lg2) - 1);

			printf("covers 0x%016llx-0x%016llx (%s)\n",
			       (unsigned long long)d.range_start, (unsigned long long)last,
			       size_str(d.range_lg2, sz, sizeof(sz)));
			covered_total += 1ULL << d.range_lg2;
		}
	}
	printf("# %u command(s), policy %s, %llu bytes asked, ", r.nblocks,
	       inval_policy_name(policy), (unsigned long long)size);
	if (r.whole_domain)
		printf("beyond them: the rest of the domain\n");
	else
		printf("%llu bytes beyond them\n", (unsigned long long)(covered_total - size));
	return 0;
}

/* ---- pte ------------------------------------------------------------------ */

static int amdvi_pte(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pa", required_argument, NULL, 'a' },
		{ "page-size", required_argument, NULL, 's' },
		{ "read", no_argument, NULL, 'r' },
		{ "write", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool have_a = false, have_s = false;
	unsigned prot = 0, lg2 = 0, level;
	uint64_t pa = 0, pte;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "a:s:rwh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			pa = parse_u64(optarg, "--pa");
			have_a = true;
			break;
		case 's':
			lg2 = parse_page_size(optarg, "--page-size");
			have_s = true;
			break;
		case 'r':
			prot |= IOPT_PROT_READ;
			break;
		case 'w':
			prot |= IOPT_PROT_WRITE;
			break;
		case 'h':
			fputs(amdvi_usage, stdout);
			return 0;
		default:
			usage_error("amdvi pte: bad option (see `iob amdvi --help`)");
		}
	}
	if (optind < argc)
		usage_error("amdvi pte: unexpected argument '%s'", argv[optind]);
	if (!have_a || !have_s)
		usage_error("amdvi pte: --pa and --page-size are required");
	if (lg2 > 38)
		usage_error("--page-size: at most 256G (a Next Level 7 page in a level-3 table)");
	if (pa & ((1ULL << lg2) - 1))
		usage_error("--pa: 0x%llx is not aligned to the page size", (unsigned long long)pa);
	if (pa + ((1ULL << lg2) - 1) > AMDVI_PTE_ADDR + 0xfff)
		usage_error("--pa: the page does not fit in the 52-bit address field");

	level = (lg2 - AMDVI_PAGE_SIZE_LG2) / AMDVI_PT_ENTRIES_LG2 + 1;
	pte = AMDVI_PTE_PR | AMDVI_PTE_FC;
	if (prot & IOPT_PROT_READ)
		pte |= AMDVI_PTE_IR;
	if (prot & IOPT_PROT_WRITE)
		pte |= AMDVI_PTE_IW;
	if (lg2 == amdvi_level_shift(level))
		pte |= pa;
	else
		pte |= amdvi_next_level_enc(AMDVI_NEXT_LEVEL_SIZED) | amdvi_sized_addr(pa, lg2);
	printf("0x%016llx\n", (unsigned long long)pte);
	return 0;
}

/* ---- decode ------------------------------------------------------------------ */

static void decode_pte(uint64_t e)
{
	unsigned nl = amdvi_pte_next_level(e);
	char sz[48];
	const char *nln;

	printf("PTE 0x%016llx\n", (unsigned long long)e);
	print_field("PR", "[0]", e & 1, (e & 1) ? "present" : "not present");
	print_field("A", "[5]", (e >> 5) & 1, NULL);
	print_field("D", "[6]", (e >> 6) & 1, NULL);
	if (nl == AMDVI_NEXT_LEVEL_LEAF)
		nln = "leaf: 4 KiB at level 1, the level's page size above";
	else if (nl == AMDVI_NEXT_LEVEL_SIZED)
		nln = "leaf, page size encoded in the address";
	else
		nln = "points to a table of this level";
	print_field("NextLevel", "[11:9]", nl, nln);
	print_field("Address", "[51:12]", e & AMDVI_PTE_ADDR, NULL);
	if (nl == AMDVI_NEXT_LEVEL_SIZED) {
		unsigned lg2 = amdvi_sized_lg2(e);

		if (lg2 < 64) {
			printf("  %-10s %-12s = %s at 0x%llx\n", "page", "(NL=7)",
			       size_str(lg2, sz, sizeof(sz)),
			       (unsigned long long)((e & AMDVI_PTE_ADDR) & ~((1ULL << lg2) - 1)));
		}
	}
	print_field("Reserved", "[58:52]", (e & AMDVI_PTE_RSVD) >> 52,
		    (e & AMDVI_PTE_RSVD) ? "NOT ZERO: the walk faults" : NULL);
	print_field("U", "[59]", (e >> 59) & 1, NULL);
	print_field("FC", "[60]", (e >> 60) & 1, NULL);
	print_field("IR", "[61]", (e >> 61) & 1, (e & AMDVI_PTE_IR) ? "read allowed" : NULL);
	print_field("IW", "[62]", (e >> 62) & 1, (e & AMDVI_PTE_IW) ? "write allowed" : NULL);
}

static int decode_cmd(const struct amdvi_cmd *c)
{
	struct cmdq_decoded d;
	unsigned op = c->dw[1] >> AMDVI_CMD_OPCODE_SHIFT;
	char sz[48];

	printf("command 0x%08x 0x%08x 0x%08x 0x%08x\n", c->dw[0], c->dw[1], c->dw[2],
	       c->dw[3]);
	print_field("opcode", "dw1[31:28]", op, cmdq_opcode_name(op));
	if (cmdq_decode(c, &d)) {
		fprintf(stderr, "iob: decode: %s with reserved bits set, or an opcode "
			"this model does not implement (the IOMMU logs ILLEGAL_COMMAND_ERROR)\n",
			cmdq_opcode_name(op));
		return EXIT_USAGE;
	}
	switch (d.op) {
	case AMDVI_CMD_COMPLETION_WAIT:
		print_field("S", "dw0[0]", d.store, "store data when done");
		print_field("I", "dw0[1]", d.interrupt, "interrupt when done");
		print_field("F", "dw0[2]", d.flush, NULL);
		print_field("StoreAddr", "[51:3]", d.addr, NULL);
		print_field("StoreData", "dw3:dw2", d.data, NULL);
		break;
	case AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY:
	case AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE:
		print_field("DeviceID", "dw0[15:0]", d.devid, NULL);
		break;
	case AMDVI_CMD_INVALIDATE_IOMMU_PAGES:
	case AMDVI_CMD_INVALIDATE_IOTLB_PAGES:
		if (d.op == AMDVI_CMD_INVALIDATE_IOMMU_PAGES) {
			print_field("PASID", "dw0[19:0]", d.pasid, NULL);
			print_field("DomainID", "dw1[15:0]", d.domid, NULL);
			print_field("PDE", "dw2[1]", d.pde, "page directory entries too");
		} else {
			print_field("DeviceID", "dw0[15:0]", d.devid, NULL);
			print_field("Maxpend", "dw0[31:24]", d.maxpend, NULL);
			print_field("QueueID", "dw1[15:0]", d.queueid, NULL);
			print_field("PASID", "dw0/dw1", d.pasid, NULL);
		}
		print_field("S", "dw2[0]", d.s, d.s ? "range, size in the address" : "one 4 KiB page");
		print_field("GN", "dw2[2]", d.gn, NULL);
		print_field("Address", "[63:12]", d.addr, NULL);
		if (d.range_lg2 >= 64)
			printf("  covers all pages\n");
		else
			printf("  covers 0x%016llx-0x%016llx (%s)\n",
			       (unsigned long long)d.range_start,
			       (unsigned long long)(d.range_start + ((1ULL << d.range_lg2) - 1)),
			       size_str(d.range_lg2, sz, sizeof(sz)));
		break;
	default:
		break;
	}
	return 0;
}

static void decode_event(const struct amdvi_cmd *c)
{
	unsigned code = c->dw[1] >> AMDVI_EVENT_CODE_SHIFT;
	unsigned flags = (c->dw[1] >> AMDVI_EVENT_FLAGS_SHIFT) & 0xfff;
	static const char *const fl[] = { "GN", "NX", "US", "I", "PR", "RW", "PE", "RZ", "TR" };
	static const char *const codes[] = {
		[1] = "ILLEGAL_DEV_TABLE_ENTRY", [2] = "IO_PAGE_FAULT",
		[3] = "DEV_TAB_HARDWARE_ERROR", [4] = "PAGE_TAB_HARDWARE_ERROR",
		[5] = "ILLEGAL_COMMAND_ERROR", [6] = "COMMAND_HARDWARE_ERROR",
	};

	printf("event 0x%08x 0x%08x 0x%08x 0x%08x\n", c->dw[0], c->dw[1], c->dw[2], c->dw[3]);
	print_field("EventCode", "dw1[31:28]", code,
		    code < 7 && codes[code] ? codes[code] : "other");
	print_field("DeviceID", "dw0[15:0]", c->dw[0] & 0xffff, NULL);
	print_field("DomainID", "dw1[15:0]", c->dw[1] & 0xffff, NULL);
	printf("  %-10s %-12s = 0x%x ", "Flags", "dw1[27:16]", flags);
	for (unsigned i = 0; i < 9; i++)
		if (flags & (1U << i))
			printf(" %s", fl[i]);
	printf("\n");
	print_field("Address", "dw3:dw2", c->dw[2] | ((uint64_t)c->dw[3] << 32), NULL);
}

static int amdvi_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "as", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *as = NULL;
	int c, n;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			as = optarg;
			if (strcmp(as, "pte") && strcmp(as, "cmd") && strcmp(as, "event"))
				usage_error("--as: '%s' is not one of pte, cmd, event", as);
			break;
		case 'h':
			fputs(amdvi_usage, stdout);
			return 0;
		default:
			usage_error("amdvi decode: bad option (see `iob amdvi --help`)");
		}
	}
	n = argc - optind;
	if (!as)
		as = n == 1 ? "pte" : n == 4 ? "cmd" : NULL;
	if (!as)
		usage_error("amdvi decode: give one 64-bit value (a PTE) or four 32-bit words "
			    "(a command), got %d value(s)", n);
	if (!strcmp(as, "pte")) {
		if (n != 1)
			usage_error("amdvi decode --as pte: needs exactly one 64-bit value");
		decode_pte(parse_u64(argv[optind], "PTE"));
		return 0;
	}
	if (n != 4)
		usage_error("amdvi decode --as %s: needs four 32-bit words, word 0 first", as);

	struct amdvi_cmd cmd;

	for (int i = 0; i < 4; i++) {
		uint64_t v = parse_u64(argv[optind + i], "word");

		if (v > 0xffffffffULL)
			usage_error("word %d: '%s' does not fit in 32 bits", i, argv[optind + i]);
		cmd.dw[i] = (uint32_t)v;
	}
	if (!strcmp(as, "event")) {
		decode_event(&cmd);
		return 0;
	}
	return decode_cmd(&cmd);
}

/* ---- walk -------------------------------------------------------------------- */

struct table_names {
	paddr_t addr[64];
	unsigned n;
};

static unsigned table_id(struct table_names *t, paddr_t a)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->addr[i] == a)
			return i;
	if (t->n < 64)
		t->addr[t->n] = a;
	return t->n < 64 ? t->n++ : 63;
}

static char *next_tok(char **p)
{
	char *s = *p, *start;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	start = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return start;
}

/*
 * Apply the script's lines to @pt. Return: 0, or -1 with @msg naming the
 * file, the line and the problem (the caller frees the table, then exits 2).
 */
static int run_script(struct iopt *pt, const char *path, char *msg, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned lineno = 0;

#define FAIL(...) do { snprintf(msg, len, __VA_ARGS__); fclose(f); return -1; } while (0)
	struct stat st;

	if (!f) {
		snprintf(msg, len, "--script: %s: %s", path, strerror(errno));
		return -1;
	}
	/* A folder opens, and reads as an empty script: the walk ran on nothing (exit 0). */
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
		FAIL("--script: %s: not a regular file", path);
	while (fgets(line, sizeof(line), f)) {
		struct iopt_gather g;
		char *p = line, *op, *tok[4];
		uint64_t a, b, len2;
		unsigned n = 0, prot = IOPT_PROT_RW;
		int ret;

		lineno++;
		if (!strchr(line, '\n') && !feof(f))
			FAIL("%s:%u: line too long", path, lineno);
		line[strcspn(line, "#\r\n")] = '\0';
		op = next_tok(&p);
		if (!op)
			continue;
		while (n < 4 && (tok[n] = next_tok(&p)))
			n++;
		if (next_tok(&p))
			FAIL("%s:%u: too many fields", path, lineno);
		iopt_gather_init(&g, NULL, NULL);
		if (!strcmp(op, "map")) {
			if (n < 3)
				FAIL("%s:%u: expected: map IOVA PA SIZE [r|w|rw]", path, lineno);
			if (try_parse_u64(tok[0], &a) || try_parse_u64(tok[1], &b))
				FAIL("%s:%u: IOVA and PA must be numbers", path, lineno);
			if (try_parse_size(tok[2], &len2))
				FAIL("%s:%u: '%s' is not a size", path, lineno, tok[2]);
			if (n == 4) {
				if (!strcmp(tok[3], "r"))
					prot = IOPT_PROT_READ;
				else if (!strcmp(tok[3], "w"))
					prot = IOPT_PROT_WRITE;
				else if (strcmp(tok[3], "rw"))
					FAIL("%s:%u: access '%s' is not r, w or rw", path, lineno, tok[3]);
			}
			ret = iopt_map(pt, a, b, len2, prot, &g);
		} else if (!strcmp(op, "unmap")) {
			if (n != 2)
				FAIL("%s:%u: expected: unmap IOVA SIZE", path, lineno);
			if (try_parse_u64(tok[0], &a))
				FAIL("%s:%u: IOVA must be a number", path, lineno);
			if (try_parse_size(tok[1], &len2))
				FAIL("%s:%u: '%s' is not a size", path, lineno, tok[1]);
			ret = iopt_unmap(pt, a, len2, &g, NULL);
		} else {
			FAIL("%s:%u: unknown operation '%s' (map or unmap)", path, lineno, op);
		}
		iopt_gather_release(pt, &g);
		if (ret)
			FAIL("%s:%u: %s failed: %s", path, lineno, op,
			     ret == -EEXIST ? "already mapped" :
			     ret == -EINVAL ? "unaligned, zero-sized or out of range" :
			     strerror(-ret));
	}
#undef FAIL
	fclose(f);
	return 0;
}

/* --page-sizes LIST: "all", or sizes (4K,2M,...) into a pgsize bitmap. */
static uint64_t parse_page_sizes(const char *arg)
{
	char *list = strdup(arg), *save = NULL, *t;
	uint64_t bitmap = 0;

	if (!list)
		run_error("out of memory");
	check_list(list, "--page-sizes");
	if (!strcmp(list, "all"))
		bitmap = IOPT_PGSIZE_ALL_POW2;
	else
		for (t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
			bitmap |= 1ULL << parse_page_size(t, "--page-sizes");
	free(list);
	return bitmap;
}

/* One step of a walk: the entry read at a level, and what it says. */
static void print_step(struct table_names *names, const struct amdvi_walk_step *st)
{
	uint64_t e = st->entry;
	unsigned nl = amdvi_pte_next_level(e);

	printf("  L%u T%u[%3u] ", st->level, table_id(names, st->table), st->index);
	if (!(e & AMDVI_PTE_PR)) {
		printf("= 0x%016llx  not present\n", (unsigned long long)e);
	} else if (nl != AMDVI_NEXT_LEVEL_LEAF && nl != AMDVI_NEXT_LEVEL_SIZED && st->level > 1) {
		printf("= PDE NextLevel=%u%s%s -> T%u\n", nl,
		       (e & AMDVI_PTE_IR) ? " IR" : "", (e & AMDVI_PTE_IW) ? " IW" : "",
		       table_id(names, e & AMDVI_PTE_ADDR));
	} else {
		printf("= 0x%016llx  leaf%s\n", (unsigned long long)e,
		       nl == AMDVI_NEXT_LEVEL_SIZED ? " (NextLevel=7)" : "");
	}
}

/* The walk of @addr: every level read, then the translation or the fault. */
static void print_walk(struct iopt *pt, struct table_names *names, uint64_t addr)
{
	struct amdvi_walk w;
	char sz[48];

	iopt_translate(pt, addr, &w);
	printf("0x%016llx:\n", (unsigned long long)addr);
	for (unsigned s = 0; s < w.nsteps; s++)
		print_step(names, &w.steps[s]);
	if (w.fault == AMDVI_FAULT_NONE)
		printf("  => pa 0x%016llx, page %s, %s%s\n", (unsigned long long)w.pa,
		       size_str(w.size_lg2, sz, sizeof(sz)),
		       (w.prot & IOPT_PROT_READ) ? "r" : "-",
		       (w.prot & IOPT_PROT_WRITE) ? "w" : "-");
	else
		printf("  => fault: %s at level %u\n", amdvi_fault_name(w.fault), w.fault_level);
}

static int amdvi_walk_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "script", required_argument, NULL, 's' },
		{ "addr", required_argument, NULL, 'a' },
		{ "levels", required_argument, NULL, 'l' },
		{ "page-sizes", required_argument, NULL, 'p' },
		{ "impl", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct iopt_cfg cfg = { .levels = 4, .pgsize_bitmap = IOPT_PGSIZE_DEFAULT };
	const char *script = NULL;
	uint64_t addrs[64];
	unsigned naddr = 0;
	struct table_names names = { .n = 0 };
	struct iopt *pt;
	char msg[1024];
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:a:l:p:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			script = optarg;
			break;
		case 'a':
			if (naddr == 64)
				usage_error("--addr: at most 64 addresses");
			addrs[naddr++] = parse_u64(optarg, "--addr");
			break;
		case 'l':
			cfg.levels = (unsigned)parse_u64(optarg, "--levels");
			if (cfg.levels < 3 || cfg.levels > 6)
				usage_error("--levels: %s is not in 3..6", optarg);
			break;
		case 'p':
			cfg.pgsize_bitmap = parse_page_sizes(optarg);
			break;
		case 'i':
			if (!strcmp(optarg, "tuned"))
				cfg.impl = IOPT_IMPL_TUNED;
			else if (!strcmp(optarg, "baseline"))
				cfg.impl = IOPT_IMPL_BASELINE;
			else
				usage_error("--impl: '%s' is not tuned or baseline", optarg);
			break;
		case 'h':
			fputs(amdvi_usage, stdout);
			return 0;
		default:
			usage_error("amdvi walk: bad option (see `iob amdvi --help`)");
		}
	}
	if (optind < argc)
		usage_error("amdvi walk: unexpected argument '%s'", argv[optind]);
	if (!script || !naddr)
		usage_error("amdvi walk: --script and at least one --addr are required");
	if (!proc_is_file(script))
		usage_error("amdvi walk: --script: %s is not a readable file", script);
	ret = iopt_create(&cfg, &pt);
	if (ret == -EINVAL)
		usage_error("--page-sizes: must include 4K and fit the number of levels");
	if (ret)
		run_error("cannot create a table: %s", strerror(-ret));
	if (run_script(pt, script, msg, sizeof(msg))) {
		iopt_destroy(pt);
		usage_error("%s", msg);
	}
	table_id(&names, iopt_root(pt));
	for (unsigned i = 0; i < naddr; i++)
		print_walk(pt, &names, addrs[i]);
	iopt_destroy(pt);
	return 0;
}

int cmd_amdvi(int argc, char **argv)
{
	if (argc < 2)
		usage_error("amdvi: missing subcommand\n%s", amdvi_usage);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(amdvi_usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "inv-pages"))
		return amdvi_inv_pages(argc - 1, argv + 1);
	if (!strcmp(argv[1], "pte"))
		return amdvi_pte(argc - 1, argv + 1);
	if (!strcmp(argv[1], "decode"))
		return amdvi_decode(argc - 1, argv + 1);
	if (!strcmp(argv[1], "walk"))
		return amdvi_walk_cmd(argc - 1, argv + 1);
	usage_error("amdvi: unknown subcommand '%s' (inv-pages, pte, decode, walk)", argv[1]);
}
