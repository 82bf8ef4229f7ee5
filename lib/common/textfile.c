// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/textfile.h>

int textfile_read(const char *path, size_t max, const char *what, char **out,
		  char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;
	int ret;

	*out = NULL;
	if (!f) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    (size_t)n > max) {
		fclose(f);
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file, or larger than %zu %s",
				 path, max >= (1 << 20) ? max >> 20 : max,
				 max >= (1 << 20) ? "MiB" : "bytes");
		return -EINVAL;
	}
	buf = iob_malloc((size_t)n + 1);
	if (!buf) {
		fclose(f);
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		iob_free(buf);
		fclose(f);
		if (err && errlen)
			snprintf(err, errlen, "%s: short read", path);
		return -EIO;
	}
	fclose(f);
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n)) {
		iob_free(buf);
		if (err && errlen)
			snprintf(err, errlen, "%s: binary data, not %s", path, what);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}
