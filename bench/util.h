/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers for the iob command: argument parsing and uniform errors. */
#ifndef IOB_BENCH_UTIL_H
#define IOB_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_USAGE 2

/**
 * usage_error() - Print "iob: <msg>" to stderr and exit 2: bad input, nothing done.
 * @fmt: printf format of the message, then its arguments
 */
void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/**
 * run_error() - Print "iob: <msg>" to stderr and exit 1: a failure while running.
 * @fmt: printf format of the message, then its arguments
 */
void run_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/**
 * parse_u64() - Parse an unsigned integer: decimal, or hex with 0x.
 * @s:    the argument
 * @what: names the argument in the error message
 *
 * Return: the number; exits 2 on anything else.
 */
uint64_t parse_u64(const char *s, const char *what);
/* @s, or @dflt when @s is NULL. */
static inline const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

/**
 * list_has_empty() - Is @val empty, or has it an empty item (",a", "a,", "a,,b")?
 * @val: the list
 * @sep: its separator (',' for lists, '|' for matrix alternatives)
 *
 * Return: true when it is or has.
 */
bool list_has_empty(const char *val, char sep);
/**
 * check_list() - Exit 2 naming @what when @val is empty or has an empty item.
 * @val:  a comma-separated list from the command line
 * @what: the option, for the message
 */
void check_list(const char *val, const char *what);
/**
 * parse_cpu() - Parse --cpu N: a CPU this process may run on.
 * @s: the argument
 *
 * Return: the CPU; exits 2 when it is not in the affinity mask.
 */
int parse_cpu(const char *s);
/**
 * parse_repeat() - Parse --repeat N.
 * @s: the argument
 *
 * Return: N, 1..1000; exits 2 otherwise.
 */
unsigned parse_repeat(const char *s);

/**
 * parse_size() - Parse a byte count: a number with an optional K, M, G, T suffix.
 * @s:    the argument (powers of 1024; "KiB" and "k" accepted too)
 * @what: names the argument in the error message
 *
 * Return: bytes; exits 2 on bad input or overflow.
 */
uint64_t parse_size(const char *s, const char *what);

/**
 * parse_page_size() - Parse a page size: a size that is a power of two of at least 4096.
 * @s:    the argument
 * @what: names the argument in the error message
 *
 * Return: its log2; exits 2 otherwise.
 */
unsigned parse_page_size(const char *s, const char *what);

/**
 * fmt_size() - "4 KiB", "2 MiB", "1 GiB", or bytes when not a whole unit.
 * @bytes: the size
 * @buf:   where the text goes
 * @len:   size of @buf
 *
 * Return: @buf.
 */
const char *fmt_size(uint64_t bytes, char *buf, size_t len);

/**
 * try_parse_size() - parse_size() without exiting.
 * @s:   the text
 * @out: bytes, on success
 *
 * Return: 0, or -1 when @s is not a size.
 */
int try_parse_size(const char *s, uint64_t *out);
/**
 * try_parse_u64() - parse_u64() without exiting.
 * @s:   the text
 * @out: the number, on success
 *
 * Return: 0, or -1 when @s is not an unsigned number.
 */
int try_parse_u64(const char *s, uint64_t *out);

#endif
