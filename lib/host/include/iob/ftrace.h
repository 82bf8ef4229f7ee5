/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ftrace: reading what Linux's tracefs prints, for iob host phases.
 *
 *  - Event lines of the trace and trace_pipe files, default output
 *    options (Documentation/trace/ftrace.rst, "Output format"):
 *        <comm>-<pid> [<cpu>] <flags> <timestamp>: <event>: <args>
 *    where flags (irq-info) may be absent and the timestamp is
 *    "<sec>.<usec>" for the nanosecond clocks or a bare integer for the
 *    counter clocks (x86-tsc, counter). The comm may hold spaces and
 *    dashes: the pid is the number after the last dash before the CPU.
 *  - kprobe event arguments "name=value" (decimal or 0x hex).
 *  - available_filter_functions: one function per line, optionally
 *    followed by " [module]".
 */
#ifndef IOB_FTRACE_H
#define IOB_FTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ftrace_event {
	char comm[32];
	int pid;
	unsigned cpu;
	uint64_t ts;		/* nanoseconds, or clock counts when !ts_ns */
	bool ts_ns;		/* the timestamp had a fraction: sec.usec */
	char name[64];		/* the event */
	const char *args;	/* into the parsed line, after "<event>: " */
};

/**
 * ftrace_parse_line() - Parse one line of trace or trace_pipe output.
 * @line: the line, without its newline (a trailing \n or \r is ignored)
 * @ev:   filled for an event line; @ev->args points into @line
 *
 * Return: 0 for an event, 1 for a line that is not one (empty, a "#"
 * header, "CPU:N [LOST M EVENTS]" markers; @ev->pid then holds M for the
 * latter and -1 otherwise), -EINVAL for a malformed line.
 */
int ftrace_parse_line(const char *line, struct ftrace_event *ev);

/**
 * ftrace_arg_u64() - The value of "@key=" in kprobe arguments.
 * @args: the argument text of an event
 * @key:  the name, e.g. "c1"
 * @v:    the value
 *
 * Return: 0; -ENOENT when @key is absent (or empty); -EINVAL when its value is not a
 * number that fits 64 bits.
 */
int ftrace_arg_u64(const char *args, const char *key, uint64_t *v);

/**
 * ftrace_has_function() - Does available_filter_functions list @name?
 * @text: the file's contents
 * @name: a function name
 *
 * Return: true when a line names it (a module suffix is allowed); false for
 * an empty @name.
 */
bool ftrace_has_function(const char *text, const char *name);

/**
 * ftrace_find_function() - The symbol that stands for function @name:
 * @name itself, or else a compiler clone of it ("name.isra.0",
 * "name.constprop.0", "name.part.0": GCC's copies of a static function
 * with changed arguments, which the original's callers call instead).
 * @text: available_filter_functions
 * @name: a function name
 * @out:  the symbol to probe
 * @len:  its size
 *
 * Return: true when one was found (and fits @out); false for an empty @name.
 */
bool ftrace_find_function(const char *text, const char *name, char *out, size_t len);

#endif /* IOB_FTRACE_H */
