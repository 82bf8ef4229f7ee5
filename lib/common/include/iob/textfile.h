/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * textfile: a whole text file in memory, for the small formats lib/ reads
 * (cost models, traces). Errors name the file and the reason.
 */
#ifndef IOB_TEXTFILE_H
#define IOB_TEXTFILE_H

#include <stddef.h>

/**
 * iob_read_text() - Read @path whole into a NUL-terminated buffer.
 * @max:  larger files are refused
 * @what: what the file should be, for the message on binary data ("a trace")
 * @out:  the text on success; free it with iob_free()
 *
 * Return: 0; -errno when it cannot be opened; -EINVAL when unreadable, larger
 * than @max or holding NUL bytes; -ENOMEM; -EIO on a short read. @err (if
 * given) says which, starting with @path.
 */
int iob_read_text(const char *path, size_t max, const char *what, char **out,
		  char *err, size_t errlen);

#endif /* IOB_TEXTFILE_H */
