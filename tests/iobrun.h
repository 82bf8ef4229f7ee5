/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Run the iob binary (path in $IOB, set by meson) and capture its output. */
#ifndef IOB_TEST_IOBRUN_H
#define IOB_TEST_IOBRUN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct iob_out {
	int status;		/* exit code, or 128 + signal */
	char out[65536];
	char err[8192];
};

static inline void iobrun_slurp(int fd, char *buf, size_t cap)
{
	ssize_t n;
	size_t len = 0;

	lseek(fd, 0, SEEK_SET);
	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
}

/* iob_runv() - Run $IOB with the NULL-terminated @args; stdout/stderr kept. */
static inline void iob_runv(struct iob_out *o, const char *const *args)
{
	const char *bin = getenv("IOB");
	char fo[] = "/tmp/iobtest-out-XXXXXX", fe[] = "/tmp/iobtest-err-XXXXXX";
	int ofd = mkstemp(fo), efd = mkstemp(fe), st = 0;
	char *argv[64];
	int n = 0;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if (ofd < 0 || efd < 0)
		abort();
	unlink(fo);
	unlink(fe);
	argv[n++] = (char *)(bin ? bin : "iob");
	for (; *args && n < 63; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		dup2(ofd, 1);
		dup2(efd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	iobrun_slurp(ofd, o->out, sizeof(o->out));
	iobrun_slurp(efd, o->err, sizeof(o->err));
}

#define iob_run(o, ...) do {						\
	const char *const iob_args_[] = { __VA_ARGS__, NULL };		\
	iob_runv((o), iob_args_);					\
} while (0)

/* Write @text to a fresh temporary file; returns its path (static buffer per call site). */
static inline void write_tmp(char *path, size_t len, const char *text)
{
	int fd;

	snprintf(path, len, "/tmp/iobtest-in-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

#endif
