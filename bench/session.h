/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * session: one run folder, from its creation to its commit. What `iob
 * matrix`, `iob qemu run`, `iob xen run` and `iob xen import` share:
 *
 *  - the folder is made as ROOT/.tmp-LABEL-XXXXXX (rundir_create()) and
 *    renamed to ROOT/<date>_<host>_<cpu>_LABEL only by session_commit(),
 *    so a folder that looks finished is finished;
 *  - SIGINT, SIGTERM and SIGHUP are caught from creation to commit;
 *  - CSVs are opened in the folder with the run's environment as their
 *    metadata, and listed in meta.json's "files";
 *  - meta.json holds the keys every run folder has (docs/csv-schema.md:
 *    schema_version, tool, family, status, date, git_commit, host, cpu,
 *    kernel, the TSC, counters, command, seed, label, duration_s, files),
 *    then the caller's own, set in the object session_meta() returns.
 *
 * Order of calls: session_create(), session_csv() and work, then either
 * session_finish() (everything written), plots, session_commit(); or
 * session_abort() (folder removed) or session_keep() (left hidden, for
 * its logs). Each of the three last frees the session and restores the
 * default signal handlers. One session per process.
 *
 * Errors that leave no usable run (the folder, a CSV or meta.json cannot
 * be written) end the process with status 1 and a message naming the
 * path: the callers are commands, and the folder then stays hidden.
 *
 * Interrupted runs: the signal handler is the one place that decides what
 * an interruption does. Today a committed folder is always "status":
 * "complete"; keeping finished families of an interrupted run would set
 * "interrupted" in session_finish() and commit instead of abort.
 */
#ifndef IOB_BENCH_SESSION_H
#define IOB_BENCH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <iob/csv.h>
#include <iob/results.h>
#include <iob/rundir.h>

/* What a caught SIGINT, SIGTERM or SIGHUP does. */
enum session_on_signal {
	/*
	 * Remove the temporary folder and exit 130 at once, from the handler
	 * (with exec, async-signal-safe): for work that does not poll.
	 */
	SESSION_SIGNAL_REMOVE,
	/*
	 * Only note it: the caller polls session_interrupted(), stops its
	 * children (QEMU, a boot script) and calls session_abort().
	 */
	SESSION_SIGNAL_FLAG,
	SESSION_ON_SIGNAL_NR
};

struct session_cfg {
	const char *root;		/* where run folders go (--results) */
	const char *label;		/* [A-Za-z0-9._-]{1,64} (checked by the caller) */
	const char *family;		/* meta.json's "family": matrix, qemu, xen */
	/* The environment recorded; NULL: collected here from argc, argv, seed. */
	const struct results_env *env;
	int argc;
	char **argv;			/* the command line recorded, from the program name */
	uint64_t seed;
	enum session_on_signal on_signal;
};

struct session;

/**
 * session_create() - Make the temporary run folder and catch the signals.
 * Finds the TSC first if nothing did (the metadata records it).
 * Return: the session. Exits 1 when the folder cannot be made.
 */
struct session *session_create(const struct session_cfg *cfg);

/**
 * session_dir() - Where files go until the commit.
 * @s: the session
 *
 * Return: the folder's temporary (hidden) path.
 */
const char *session_dir(const struct session *s);
/**
 * session_final_dir() - The name session_commit() will give the folder.
 * @s: the session
 *
 * Return: the final path, before any numeric suffix.
 */
const char *session_final_dir(const struct session *s);
/**
 * session_env() - The environment every CSV of the session records.
 * @s: the session
 *
 * Return: the environment (owned by the session).
 */
const struct results_env *session_env(const struct session *s);

/**
 * session_meta() - The object for the caller's own meta.json keys.
 * @s: the session
 *
 * A key set here replaces a common one.
 * Return: the object, borrowed: the session writes and frees it.
 */
json_t *session_meta(struct session *s);

/**
 * session_csv() - Open @name in the folder: the environment's metadata
 * lines written, the file listed in meta.json. The caller adds its own
 * "# key=value" lines and the header. The session closes it.
 * Return: the CSV. Exits 1 when it cannot be created.
 */
struct csv *session_csv(struct session *s, const char *name);

/**
 * session_add_file() - List a file written by other means in meta.json's "files".
 * @s:    the session
 * @name: the file's name in the folder
 */
void session_add_file(struct session *s, const char *name);

/**
 * session_csvs_close() - Close (publish) every CSV opened so far.
 * @s: the session
 *
 * Exits 1 when one failed to write.
 */
void session_csvs_close(struct session *s);

/**
 * session_interrupted() - Did SIGINT, SIGTERM or SIGHUP arrive (SESSION_SIGNAL_FLAG)?
 *
 * Return: true once one did.
 */
bool session_interrupted(void);
/**
 * session_signal() - The signal that arrived (SESSION_SIGNAL_FLAG).
 *
 * Return: SIGINT, SIGTERM or SIGHUP, 0 if none.
 */
int session_signal(void);
/**
 * session_set_suffix() - Append @suffix to the name session_commit() gives.
 * @s:      the session
 * @suffix: [A-Za-z0-9._-], at most 32 characters ("_interrupted"); exits 1 otherwise
 */
void session_set_suffix(struct session *s, const char *suffix);

/**
 * session_finish() - Everything measured is written: close the CSVs, write meta.json.
 * @s: the session
 *
 * meta.json's duration_s counts from session_create() to here. Exits 1
 * when a file cannot be written.
 */
void session_finish(struct session *s);

/**
 * session_commit() - Rename the finished folder into place, free @s.
 * @final: the folder's final path, absolute, for printing
 * Exits 1 when the rename fails (the folder then stays hidden).
 */
void session_commit(struct session *s, char *final, size_t len);

/**
 * session_abort() - Discard the CSVs, remove the folder, free @s.
 * @s: the session
 */
void session_abort(struct session *s);

/**
 * session_keep() - Close the CSVs, leave the folder under its hidden name, free @s.
 * @s: the session
 *
 * For a failed run: its console logs say why.
 */
void session_keep(struct session *s);

#endif
