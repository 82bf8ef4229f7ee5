/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * textfile: a whole text file in memory, for the small formats lib/ reads
 * (cost models, traces, CSV files). Errors name the file and the reason.
 */
#ifndef IOB_TEXTFILE_H
#define IOB_TEXTFILE_H

#include <stddef.h>

/**
 * textfile_read() - Read @path whole into a NUL-terminated buffer.
 * @path:   the file
 * @max:    larger files are refused (bytes)
 * @what:   what the file should be, for the message on binary data
 *          ("a trace")
 * @out:    the text on success, NULL on failure; free it with iob_free()
 * @err:    if not NULL, on failure "PATH: reason"
 * @errlen: size of @err
 *
 * Return: 0; -errno of fopen(3) when the file cannot be opened (-ENOENT,
 * -EACCES, ...); -EINVAL when its size cannot be found (not a regular
 * file), it is larger than @max, or it holds a NUL byte (binary data);
 * -ENOMEM; -EIO on a short read.
 */
int textfile_read(const char *path, size_t max, const char *what, char **out,
		  char *err, size_t errlen);

#endif /* IOB_TEXTFILE_H */
