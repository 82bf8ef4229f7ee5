/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rundir: a run folder that appears only when complete
 * (docs/csv-schema.md). It is built as <root>/.tmp-<label>-XXXXXX and
 * renamed to <root>/<date>_<host>_<cpu>_<label> by rundir_commit(); a
 * crashed run leaves only a hidden temporary folder, never one that looks
 * done.
 *
 * Calling rules: one owner per run folder; rundir_commit(), rundir_abort()
 * or rundir_release() ends it and frees the handle.
 */
#ifndef IOB_RUNDIR_H
#define IOB_RUNDIR_H

#include <stddef.h>

#include <iob/results.h>

struct rundir;

/**
 * rundir_create() - Start a run folder under @root.
 * @root:  parent folder, created (one level) if missing
 * @label: the run's name, [A-Za-z0-9._-]+, at most 64 characters
 * @env:   host and CPU for the final name (results_env_collect())
 * @out:   the new run folder; untouched on error
 *
 * Return: 0; -EINVAL for a bad label; -ENAMETOOLONG when @root makes the
 * paths longer than the 4096 bytes kept; -ENOMEM; or -errno of mkdir(2)
 * on @root (-ENOENT: its parent is missing, -EACCES, ...) or of
 * mkdtemp(3). On error nothing was created but possibly @root itself.
 */
int rundir_create(const char *root, const char *label,
		  const struct results_env *env, struct rundir **out);

/**
 * rundir_path() - Where files go while the run is in progress.
 * @rd: the run folder
 *
 * Return: the temporary folder's path, valid until commit or abort.
 */
const char *rundir_path(const struct rundir *rd);

/**
 * rundir_final_path() - The name the folder will have once committed.
 * @rd: the run folder
 *
 * Return: the path as it is before rundir_commit() adds a suffix for a
 * name already taken; valid until commit or abort.
 */
const char *rundir_final_path(const struct rundir *rd);

/**
 * rundir_set_suffix() - Append @suffix to the name the folder will get.
 * @rd:     the run folder
 * @suffix: [A-Za-z0-9._-], at most 32 characters ("_interrupted")
 *
 * Return: 0, or -EINVAL for a bad suffix.
 */
int rundir_set_suffix(struct rundir *rd, const char *suffix);

/**
 * rundir_commit() - Rename the finished folder to its final name and free
 * @rd.
 * @rd:    the run folder; freed whatever the result
 * @final: if not NULL, the folder's absolute path after the call (the
 *         temporary one if the rename failed)
 * @len:   size of @final
 *
 * A name that exists already gets a suffix "-2", "-3", ... (up to 999).
 * The folder is made readable by others (0755) first: run folders are
 * shared results, and mkdtemp(3) creates them 0700.
 *
 * Return: 0, or -errno of rename(2) (the folder then stays under its
 * temporary name, and @final says so).
 */
int rundir_commit(struct rundir *rd, char *final, size_t len);

/**
 * rundir_abort() - Remove the temporary folder with everything in it, and
 * free @rd.
 * @rd: the run folder, or NULL (nothing to do)
 */
void rundir_abort(struct rundir *rd);

/**
 * rundir_release() - Free @rd and leave its folder as it is, under the
 * temporary name: a failed run kept for its logs, which never looks done.
 * @rd: the run folder, or NULL (nothing to do)
 */
void rundir_release(struct rundir *rd);

#endif /* IOB_RUNDIR_H */
