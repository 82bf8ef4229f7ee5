// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading tracefs output: event lines, kprobe arguments, the function list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/ftrace.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal number of at most 19 digits at @s; its end in @end. */
static int dec(const char *s, const char **end, uint64_t *v)
{
	unsigned n = 0;

	*v = 0;
	for (; is_digit(*s); s++) {
		if (++n > 19)
			return -EINVAL;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	*end = s;
	return n ? 0 : -EINVAL;
}

static int parse_lost(const char *line, struct ftrace_event *ev)
{
	const char *p = strstr(line, "[LOST ");
	uint64_t n;

	if (!p || dec(p + 6, &p, &n) || strncmp(p, " EVENTS]", 8))
		return -EINVAL;
	ev->pid = (int)(n > 0x7fffffff ? 0x7fffffff : n);
	return 1;
}

int ftrace_parse_line(const char *line, struct ftrace_event *ev)
{
	const char *cpu_open, *p, *dash, *colon;
	size_t len = strcspn(line, "\r\n");
	uint64_t v, frac;

	memset(ev, 0, sizeof(*ev));
	ev->pid = -1;
	while (len && line[len - 1] == ' ')
		len--;
	p = line;
	while (*p == ' ')
		p++;
	if ((size_t)(p - line) >= len || *p == '#')
		return 1;
	if (!strncmp(p, "CPU:", 4))
		return parse_lost(p, ev);
	/* The CPU field: " [ddd] " after "<comm>-<pid>". */
	for (cpu_open = strstr(p, " ["); cpu_open; cpu_open = strstr(cpu_open + 1, " [")) {
		const char *q = cpu_open + 2;

		if (dec(q, &q, &v) == 0 && *q == ']')
			break;
	}
	if (!cpu_open || cpu_open >= line + len)
		return -EINVAL;
	dash = cpu_open;
	while (dash > p && dash[-1] == ' ')
		dash--;
	{
		const char *end_pid = dash;

		while (dash > p && is_digit(dash[-1]))
			dash--;
		if (dash == end_pid || dash == p || dash[-1] != '-')
			return -EINVAL;
		if (dec(dash, &p, &v) || v > 0x7fffffff)
			return -EINVAL;
		ev->pid = (int)v;
		dash--;		/* the '-' */
	}
	{
		const char *c = line;
		size_t n;

		while (*c == ' ')
			c++;
		n = (size_t)(dash - c);
		if (n >= sizeof(ev->comm))
			n = sizeof(ev->comm) - 1;
		memcpy(ev->comm, c, n);
	}
	p = cpu_open + 2;
	dec(p, &p, &v);
	ev->cpu = (unsigned)v;
	p++;			/* ']' */
	while (*p == ' ')
		p++;
	/* Optional irq-info flags: one token that is not the timestamp. */
	if (!is_digit(*p) || strcspn(p, " :") != strspn(p, "0123456789.")) {
		p += strcspn(p, " ");
		while (*p == ' ')
			p++;
	}
	if (dec(p, &p, &v))
		return -EINVAL;
	if (*p == '.') {
		const char *f = p + 1;

		if (dec(f, &p, &frac) || p - f != 6)
			return -EINVAL;
		ev->ts = v * 1000000000ULL + frac * 1000ULL;
		ev->ts_ns = true;
	} else {
		ev->ts = v;
	}
	if (*p != ':' || p[1] != ' ')
		return -EINVAL;
	p += 2;
	colon = strchr(p, ':');
	if (!colon || colon == p || (size_t)(colon - p) >= sizeof(ev->name) || colon > line + len)
		return -EINVAL;
	memcpy(ev->name, p, (size_t)(colon - p));
	for (const char *c = ev->name; *c; c++)
		if (*c == ' ')
			return -EINVAL;
	p = colon + 1;
	while (*p == ' ')
		p++;
	ev->args = p;
	return 0;
}

int ftrace_arg_u64(const char *args, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	const char *p = args;

	/* An empty key matched at every position without moving: a hang (tests/fuzz). */
	if (!kl)
		return -ENOENT;
	for (; (p = strstr(p, key)); p += kl) {
		char *end;

		if ((p != args && p[-1] != ' ') || p[kl] != '=')
			continue;
		p += kl + 1;
		if (!is_digit(*p))
			return -EINVAL;
		errno = 0;
		*v = strtoull(p, &end, 0);
		if (errno || (*end && *end != ' ' && *end != '\n' && *end != ')'))
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}

bool ftrace_has_function(const char *text, const char *name)
{
	size_t nl = strlen(name);

	/* An empty name matched at every position without moving: a hang (tests/fuzz). */
	if (!nl)
		return false;
	for (const char *p = text; (p = strstr(p, name)); p += nl)
		if ((p == text || p[-1] == '\n') && (p[nl] == '\n' || p[nl] == ' ' || !p[nl]))
			return true;
	return false;
}

bool ftrace_find_function(const char *text, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	if (!nl)
		return false;
	if (ftrace_has_function(text, name)) {
		if (nl >= len)
			return false;
		memcpy(out, name, nl + 1);
		return true;
	}
	for (const char *p = text; (p = strstr(p, name)); p += nl) {
		size_t sl;

		if ((p != text && p[-1] != '\n') || p[nl] != '.')
			continue;
		sl = strcspn(p, " \n");
		if (sl >= len)
			return false;
		memcpy(out, p, sl);
		out[sl] = '\0';
		return true;
	}
	return false;
}
