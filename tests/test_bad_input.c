// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bad input everywhere: every option of every command, as a hostile user
 * would give it (zero, negative, huge, NaN, out of range, wrong type, empty,
 * a directory for a file, a missing or unreadable file, a truncated file,
 * binary garbage, a valid file of another kind). Each case runs the real iob
 * and must exit 2, with a message on stderr that names the input (the
 * expected text below), and must write nothing: the output folders it is
 * given stay absent. The table is docs/bad-input.md (IOB_BAD_INPUT_MD=FILE
 * writes it again).
 *
 * Placeholders: @W@ a scratch folder; @OUT@ a folder that must stay absent;
 * @EMPTY@ an empty file; @DIR@ a folder; @BIN@ binary garbage; @CSV@ a
 * valid CSV (a file of another kind); @TRUNC@ a trace cut in the middle of
 * a line; @ELF@ an x86-64 program's ELF header; @ELFOBJ@ an ELF object
 * without .gnu.linkonce.this_module; @NOFILE@ a path that does not exist;
 * @NOTDIR@ a path through a file (ENOTDIR: unreadable even to root);
 * @LONG@ 5000 characters. @W@/xenother and @W@/xentrunc are run folders
 * whose xen.csv is a CSV of another kind, and one cut in the middle of a row.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

struct bad {
	const char *args;	/* space-separated; "''" is an empty argument */
	const char *expect;	/* stderr must contain this (names the input) */
	const char *kind;	/* what is hostile about it, for the table */
};

#include "bad_input_table.h"

static char w[64];

static void put(const char *name, const void *data, size_t n)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", w, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/*
 * Two valid ELF files that are no kernel module: an x86-64 program header
 * (@ELF@), and a relocatable object whose one named section is .text
 * (@ELFOBJ@: what a .o not built as a module looks like to insmod).
 */
static void elf_fixtures(void)
{
	static const char names[] = "\0.shstrtab\0.text";
	struct {
		Elf64_Ehdr eh;
		Elf64_Shdr sh[3];
		char str[sizeof(names)];
	} o = { 0 };

	memcpy(o.eh.e_ident, ELFMAG, SELFMAG);
	o.eh.e_ident[EI_CLASS] = ELFCLASS64;
	o.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	o.eh.e_ident[EI_VERSION] = EV_CURRENT;
	o.eh.e_type = ET_EXEC;
	o.eh.e_machine = EM_X86_64;
	o.eh.e_version = EV_CURRENT;
	o.eh.e_ehsize = sizeof(o.eh);
	put("elf", &o.eh, sizeof(o.eh));
	o.eh.e_type = ET_REL;
	o.eh.e_shoff = offsetof(__typeof__(o), sh);
	o.eh.e_shentsize = sizeof(Elf64_Shdr);
	o.eh.e_shnum = 3;
	o.eh.e_shstrndx = 1;
	o.sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_STRTAB,
				.sh_offset = offsetof(__typeof__(o), str), .sh_size = sizeof(names) };
	o.sh[2] = (Elf64_Shdr){ .sh_name = 11, .sh_type = SHT_PROGBITS };
	memcpy(o.str, names, sizeof(names));
	put("elfobj", &o, sizeof(o));
}

static void fixtures(void)
{
	static const uint8_t bin[] = { 0xff, 0xfe, 0, 1, 2, 0x80, '\n', 0, 0x1b, '[', '2', 'J', 0x7f };
	char p[256];

	snprintf(w, sizeof(w), "%s/iob-bad-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(w));
	put("empty", "", 0);
	put("bin", bin, sizeof(bin));
	put("csv", "# schema_version=1\na,b\n1,2\n", 27);
	put("trunc", "# iommubench trace v1\n0 map 0 0x1000 0x2000 4096 r\n10 map 0 0x30", 65);
	elf_fixtures();
	snprintf(p, sizeof(p), "%s/dir", w);
	mkdir(p, 0700);
	/* Run folders for iob xen fidelity: a xen.csv of another kind, one cut mid-row. */
	snprintf(p, sizeof(p), "%s/xenother", w);
	mkdir(p, 0700);
	put("xenother/xen.csv", "# schema_version=1\na,b\n1,2\n", 27);
	snprintf(p, sizeof(p), "%s/xentrunc", w);
	mkdir(p, 0700);
	put("xentrunc/xen.csv", "# family=xen\ntuning,workload,mib,iterations,status\n"
	    "baseline,balloon_out,64,0,ok\nbatch,balloon_o", 95);
}

/* @s with the placeholders replaced, into @out. */
static void expand(const char *s, char *out, size_t len)
{
	static const char *const ph[][2] = {
		{ "@OUT@", "/out" }, { "@EMPTY@", "/empty" }, { "@DIR@", "/dir" },
		{ "@BIN@", "/bin" }, { "@CSV@", "/csv" }, { "@TRUNC@", "/trunc" },
		{ "@ELFOBJ@", "/elfobj" }, { "@ELF@", "/elf" },
		{ "@NOFILE@", "/no-such-file" }, { "@NOTDIR@", "/csv/x" }, { "@W@", "" },
	};
	size_t o = 0;

	while (*s && o + 1 < len) {
		bool done = false;

		for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]) && !done; i++)
			if (!strncmp(s, ph[i][0], strlen(ph[i][0]))) {
				o += (size_t)snprintf(out + o, len - o, "%s%s", w, ph[i][1]);
				s += strlen(ph[i][0]);
				done = true;
			}
		if (!done && !strncmp(s, "@LONG@", 6)) {
			for (int k = 0; k < 5000 && o + 1 < len; k++)
				out[o++] = 'x';
			s += 6;
			done = true;
		}
		if (!done)
			out[o++] = *s++;
	}
	out[o < len ? o : len - 1] = '\0';
}

/* Run iob with @c's arguments (30 s at most); its status, stderr in @err. */
static int run(const char *args, char *err, size_t errlen)
{
	static char buf[16384];
	char *argv[64], *save = NULL, *tok, ef[128];
	const char *bin = getenv("IOB");
	int n = 0, st = 0, efd;
	ssize_t k;
	pid_t pid;

	expand(args, buf, sizeof(buf));
	argv[n++] = (char *)(bin ? bin : "iob");
	for (tok = strtok_r(buf, " ", &save); tok && n < 63; tok = strtok_r(NULL, " ", &save))
		argv[n++] = strcmp(tok, "''") ? tok : "";
	argv[n] = NULL;
	snprintf(ef, sizeof(ef), "%s/stderr", w);
	efd = open(ef, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(efd, 0);
	pid = fork();
	if (!pid) {
		int nul = open("/dev/null", O_RDWR);

		dup2(nul, 0);
		dup2(nul, 1);
		dup2(efd, 2);
		alarm(30);	/* a case that starts real work instead is a failure */
		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	lseek(efd, 0, SEEK_SET);
	k = read(efd, err, errlen - 1);
	err[k > 0 ? k : 0] = '\0';
	close(efd);
	unlink(ef);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void write_md(const char *path)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fprintf(f, "# Bad input: what was tried\n\n"
		   "Every case runs the real `iob` (tests/test_bad_input.c) and must exit 2\n"
		   "with a message naming the input, and write nothing (the output folder\n"
		   "it was given stays absent). `@OUT@` is that folder; `@EMPTY@` an empty\n"
		   "file, `@DIR@` a folder, `@BIN@` binary garbage, `@CSV@` a valid CSV (a\n"
		   "file of another kind), `@TRUNC@` a trace cut mid-line, `@ELF@` an\n"
		   "x86-64 program's ELF header, `@ELFOBJ@` an ELF object that is no kernel\n"
		   "module (no .gnu.linkonce.this_module), `@NOFILE@` a\n"
		   "missing file, `@NOTDIR@` a path through a file (unreadable, even to\n"
		   "root), `@LONG@` 5000 characters. Generated from the test's table:\n"
		   "`IOB_BAD_INPUT_MD=$PWD/docs/bad-input.md meson test -C build bad_input`;\n"
		   "docs/fuzzing.md lists what these cases found.\n\n"
		   "%zu cases.\n\n| # | arguments | hostile | the message names |\n|---|---|---|---|\n",
		sizeof(bad_cases) / sizeof(bad_cases[0]));
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		fprintf(f, "| %zu | `iob %s` | %s | ", i + 1, bad_cases[i].args, bad_cases[i].kind);
		for (const char *p = bad_cases[i].expect; *p; p++)
			fputs(*p == '|' ? "\\|" : (char[]){ *p, 0 }, f);
		fputs(" |\n", f);
	}
	fclose(f);
}

Test(bad_input, every_case_exits_2_naming_the_input_and_writes_nothing)
{
	static char err[8192];
	char out[128], report[16384] = "";
	size_t nfail = 0, rl = 0;
	const char *md = getenv("IOB_BAD_INPUT_MD");

	fixtures();
	snprintf(out, sizeof(out), "%s/out", w);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *c = &bad_cases[i];
		int st = run(c->args, err, sizeof(err));
		bool named = strstr(err, c->expect) != NULL, wrote = access(out, F_OK) == 0;

		if (st == 2 && named && !wrote)
			continue;
		nfail++;
		if (rl < sizeof(report) - 512)
			rl += (size_t)snprintf(report + rl, sizeof(report) - rl,
					       "\n  iob %s: exit %d%s%s: %.200s", c->args, st,
					       named ? "" : ", message does not name the input",
					       wrote ? ", wrote its output" : "", err);
		if (wrote) {
			char cmd[256];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
			cr_assert_eq(system(cmd), 0);
		}
	}
	if (md)
		write_md(md);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w);
		cr_assert_eq(system(cmd), 0);
	}
	cr_assert_eq(nfail, 0, "%zu of %zu cases failed:%s", nfail,
		     sizeof(bad_cases) / sizeof(bad_cases[0]), report);
}
