// SPDX-License-Identifier: GPL-2.0-or-later
/* iob host's tracefs reader: ftrace_parse_line() per line, its args, function lists. */
#include <iob/ftrace.h>

#include "fuzz.h"

int fuzz_ftrace(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "iova", "paddr", "size", "unmapped_size", "" };
	char *s = fuzz_str(data, size), *save = NULL, *line, name[128];

	ftrace_has_function(s, "amd_iommu_map_pages");
	ftrace_find_function(s, "iommu_map", name, sizeof(name));
	ftrace_find_function(s, "", name, 1);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct ftrace_event ev;
		uint64_t v;

		if (ftrace_parse_line(line, &ev))
			continue;
		fuzz_check(memchr(ev.comm, 0, sizeof(ev.comm)) && memchr(ev.name, 0, sizeof(ev.name)),
			   "unterminated name");
		if (!ev.args)
			continue;
		fuzz_check(ev.args >= line && ev.args <= line + strlen(line), "args outside the line");
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			ftrace_arg_u64(ev.args, keys[k], &v);
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_ftrace)
