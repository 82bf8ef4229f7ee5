// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Readers of what a QEMU guest run leaves behind: the guest console's
 * IOB- lines and QEMU's trace log (qemu.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qemu.h"

static const char *const type_names[QCON_TYPE_NR] = {
	[QCON_BOOT] = "BOOT", [QCON_INFO] = "INFO", [QCON_MARK] = "MARK",
	[QCON_RESULT] = "RESULT", [QCON_DMAMAP] = "DMAMAP", [QCON_TRACE] = "TRACE",
	[QCON_DONE] = "DONE", [QCON_ERR] = "ERR", [QCON_KLOG] = "KLOG",
};

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

const char *qcon_get(const struct qcon_rec *r, const char *key)
{
	for (unsigned i = 0; i < r->nkv; i++)
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].val;
	return NULL;
}

int qcon_get_u64(const struct qcon_rec *r, const char *key, uint64_t *out)
{
	const char *v = qcon_get(r, key);
	char *end;

	if (!v)
		return -ENOENT;
	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno || *end ? -EINVAL : 0;
}

int qcon_get_double(const struct qcon_rec *r, const char *key, double *out)
{
	const char *v = qcon_get(r, key);
	char *end;

	if (!v)
		return -ENOENT;
	if ((*v < '0' || *v > '9') && *v != '-')
		return -EINVAL;
	errno = 0;
	*out = strtod(v, &end);
	return errno || *end ? -EINVAL : 0;
}

static int add_kv(struct qcon_rec *r, const char *key, size_t klen, const char *val,
		  size_t vlen, char *err, size_t errlen)
{
	if (!klen)
		return fail(err, errlen, "empty key");
	if (klen >= QCON_KEY_MAX)
		return fail(err, errlen, "key '%.*s...' longer than %d characters", 16, key,
			    QCON_KEY_MAX - 1);
	for (size_t i = 0; i < klen; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
		      key[i] == '_'))
			return fail(err, errlen, "key '%.*s' is not [a-z0-9_]", (int)klen, key);
	if (!vlen)
		return fail(err, errlen, "%.*s has no value", (int)klen, key);
	if (vlen >= QCON_VAL_MAX)
		return fail(err, errlen, "value of %.*s longer than %d characters", (int)klen, key,
			    QCON_VAL_MAX - 1);
	if (r->nkv == QCON_KV_MAX)
		return fail(err, errlen, "more than %d fields", QCON_KV_MAX);
	memcpy(r->kv[r->nkv].key, key, klen);
	r->kv[r->nkv].key[klen] = '\0';
	if (qcon_get(r, r->kv[r->nkv].key))
		return fail(err, errlen, "%.*s given twice", (int)klen, key);
	memcpy(r->kv[r->nkv].val, val, vlen);
	r->kv[r->nkv].val[vlen] = '\0';
	r->nkv++;
	return 0;
}

static int require(const struct qcon_rec *r, const char *const *keys, char *err, size_t errlen)
{
	for (; *keys; keys++)
		if (!qcon_get(r, *keys))
			return fail(err, errlen, "IOB-%s without %s=", type_names[r->type], *keys);
	return 0;
}

int qcon_parse_line(const char *line, struct qcon_rec *r, char *err, size_t errlen)
{
	static const char *const need_mark[] = { "edge", "id", NULL };
	static const char *const need_id[] = { "id", NULL };
	static const char *const need_trace[] = { "id", "events", "overrun", NULL };
	static const char *const need_done[] = { "status", NULL };
	size_t len = strcspn(line, "\r\n"), tl;
	const char *p, *end = line + len;
	int t, ret;

	if (len < 4 || strncmp(line, "IOB-", 4))
		return 1;
	memset(r, 0, sizeof(*r));
	p = line + 4;
	tl = strcspn(p, " \t\r\n");
	for (t = 0; t < QCON_TYPE_NR; t++)
		if (strlen(type_names[t]) == tl && !strncmp(p, type_names[t], tl))
			break;
	if (t == QCON_TYPE_NR) {
		/* Guest lines the harness does not use but may print (IOB-DMAMAP-START). */
		if (tl > 7 && !strncmp(p, "DMAMAP-", 7))
			return 1;
		return fail(err, errlen, "unknown line type 'IOB-%.*s'", (int)(tl > 20 ? 20 : tl), p);
	}
	r->type = (enum qcon_type)t;
	p += tl;
	if (r->type == QCON_ERR || r->type == QCON_KLOG) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p >= QCON_VAL_MAX)
			end = p + QCON_VAL_MAX - 1;
		strcpy(r->kv[0].key, "text");
		memcpy(r->kv[0].val, p, (size_t)(end - p));
		r->kv[0].val[end - p] = '\0';
		r->nkv = 1;
		return 0;
	}
	while (p < end) {
		const char *tok, *eq;
		size_t n;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		tok = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		n = (size_t)(p - tok);
		eq = memchr(tok, '=', n);
		if (!eq) {
			/* IOB-MARK begin|end: the one positional word. */
			if (r->type == QCON_MARK && !qcon_get(r, "edge") &&
			    ((n == 5 && !strncmp(tok, "begin", 5)) || (n == 3 && !strncmp(tok, "end", 3)))) {
				ret = add_kv(r, "edge", 4, tok, n, err, errlen);
				if (ret)
					return ret;
				continue;
			}
			return fail(err, errlen, "field '%.*s' is not key=value", (int)(n > 40 ? 40 : n),
				    tok);
		}
		ret = add_kv(r, tok, (size_t)(eq - tok), eq + 1, (size_t)(p - eq - 1), err, errlen);
		if (ret)
			return ret;
	}
	switch (r->type) {
	case QCON_MARK:
		return require(r, need_mark, err, errlen);
	case QCON_RESULT:
	case QCON_DMAMAP:
		return require(r, need_id, err, errlen);
	case QCON_TRACE:
		return require(r, need_trace, err, errlen);
	case QCON_DONE:
		ret = require(r, need_done, err, errlen);
		if (!ret && strcmp(qcon_get(r, "status"), "ok") &&
		    strcmp(qcon_get(r, "status"), "error"))
			return fail(err, errlen, "IOB-DONE status must be ok or error, not '%s'",
				    qcon_get(r, "status"));
		return ret;
	default:
		return 0;
	}
}

void qcon_free(struct qcon *c)
{
	free(c->rec);
	memset(c, 0, sizeof(*c));
}

int qcon_parse(const char *text, struct qcon *c, char *err, size_t errlen)
{
	const char *p = text;
	unsigned lineno = 0;
	char why[200];

	memset(c, 0, sizeof(*c));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct qcon_rec r;
		char line[4096];
		int ret;

		lineno++;
		if (len >= sizeof(line)) {
			if (!strncmp(p, "IOB-", 4)) {
				qcon_free(c);
				return fail(err, errlen, "line %u: longer than %zu characters", lineno,
					    sizeof(line) - 1);
			}
			p += len + (nl ? 1 : 0);
			continue;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		if (strstr(line, "AMD-Vi: Found IOMMU"))
			c->amdvi_found = true;
		if (strstr(line, "AMD-Vi: Interrupt remapping enabled"))
			c->amdvi_intremap = true;
		if (strstr(line, "DMAR: IOMMU enabled"))
			c->dmar_found = true;
		ret = qcon_parse_line(line, &r, why, sizeof(why));
		if (ret == 1)
			continue;
		if (ret) {
			qcon_free(c);
			return fail(err, errlen, "line %u: %s", lineno, why);
		}
		r.lineno = lineno;
		if (c->done && r.type != QCON_KLOG) {
			qcon_free(c);
			return fail(err, errlen, "line %u: IOB-%s after IOB-DONE", lineno,
				    type_names[r.type]);
		}
		if (r.type == QCON_DONE) {
			c->done = true;
			c->done_ok = !strcmp(qcon_get(&r, "status"), "ok");
		}
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;
			struct qcon_rec *nr = realloc(c->rec, cap * sizeof(*nr));

			if (!nr) {
				qcon_free(c);
				return -ENOMEM;
			}
			c->rec = nr;
			c->cap = cap;
		}
		c->rec[c->n++] = r;
	}
	return 0;
}

/* ---- QEMU trace log ------------------------------------------------------------------- */

static const char *const event_names[QTR_EVENT_NR] = {
	[QTR_COMMAND] = "commands", [QTR_PAGES_INVAL] = "pages_inval",
	[QTR_COMPLETION_WAIT] = "completion_waits", [QTR_ALL_INVAL] = "all_inval",
	[QTR_DEVTAB_INVAL] = "devtab_inval", [QTR_IOTLB_INVAL] = "iotlb_inval",
	[QTR_INTR_INVAL] = "intr_inval", [QTR_IOTLB_FILL] = "iotlb_fills",
	[QTR_OTHER] = "other_events", [QTR_IOTLB_HIT] = "iotlb_hits",
};

const char *qtr_event_name(enum qtr_event e)
{
	return e < QTR_EVENT_NR ? event_names[e] : "?";
}

static const struct {
	const char *name;
	enum qtr_event ev;
} event_map[] = {
	{ "amdvi_command_exec", QTR_COMMAND },
	{ "amdvi_pages_inval", QTR_PAGES_INVAL },
	{ "amdvi_completion_wait", QTR_COMPLETION_WAIT },
	{ "amdvi_all_inval", QTR_ALL_INVAL },
	{ "amdvi_devtab_inval", QTR_DEVTAB_INVAL },
	{ "amdvi_iotlb_inval", QTR_IOTLB_INVAL },
	{ "amdvi_intr_inval", QTR_INTR_INVAL },
	{ "amdvi_cache_update", QTR_IOTLB_FILL },
	{ "amdvi_iotlb_hit", QTR_IOTLB_HIT },
	{ "vtd_inv_desc", QTR_COMMAND },
	{ "vtd_inv_desc_iotlb_pages", QTR_PAGES_INVAL },
	{ "vtd_inv_desc_wait_sw", QTR_COMPLETION_WAIT },
	{ "vtd_inv_desc_wait_irq", QTR_COMPLETION_WAIT },
	{ "vtd_inv_desc_iotlb_domain", QTR_ALL_INVAL },
	{ "vtd_inv_desc_iotlb_global", QTR_ALL_INVAL },
	{ "vtd_inv_desc_cc_domain", QTR_DEVTAB_INVAL },
	{ "vtd_inv_desc_cc_global", QTR_DEVTAB_INVAL },
	{ "vtd_inv_desc_cc_device", QTR_DEVTAB_INVAL },
	{ "vtd_inv_desc_cc_devices", QTR_DEVTAB_INVAL },
	{ "vtd_inv_desc_iec", QTR_INTR_INVAL },
	{ "vtd_iotlb_page_update", QTR_IOTLB_FILL },
};

static bool digits(const char **p, size_t min, size_t max, uint64_t *v)
{
	size_t n = 0;

	*v = 0;
	while (**p >= '0' && **p <= '9') {
		if (n == max)
			return false;
		*v = *v * 10 + (uint64_t)(**p - '0');
		(*p)++;
		n++;
	}
	return n >= min;
}

static void add(struct qtr_counts *c, enum qtr_event e, int size_idx)
{
	c->ev[e]++;
	if (e == QTR_PAGES_INVAL)
		c->inval_by_size[size_idx]++;
}

/* One line of the log (newline cut): its time, event class and size class. */
static int qtr_line(const char *line, unsigned long lineno, uint64_t *t_us, enum qtr_event *ev,
		    int *size_idx, const char **name, size_t *nl, char *err, size_t errlen)
{
	const char *p = line;
	uint64_t pid, sec, usec;

	*ev = QTR_OTHER;
	*size_idx = QTR_SIZE_UNKNOWN;
	if (!digits(&p, 1, 10, &pid) || *p++ != '@' || !digits(&p, 1, 12, &sec) ||
	    *p++ != '.' || !digits(&p, 6, 6, &usec) || *p++ != ':')
		return fail(err, errlen, "line %lu: not 'PID@SEC.USEC:EVENT' (QEMU runs with "
			    "-msg timestamp=on)", lineno);
	*name = p;
	*nl = strcspn(p, " ");
	if (!*nl)
		return fail(err, errlen, "line %lu: no event name", lineno);
	for (size_t i = 0; i < sizeof(event_map) / sizeof(event_map[0]); i++)
		if (strlen(event_map[i].name) == *nl && !strncmp(p, event_map[i].name, *nl)) {
			*ev = event_map[i].ev;
			break;
		}
	if (*ev == QTR_PAGES_INVAL && !strncmp(p, "vtd_", 4)) {
		/* "... addr 0x%lx mask 0x%x": 2^mask pages. */
		const char *m = strstr(p + *nl, " mask 0x");
		char *e;
		unsigned long mask;

		if (!m)
			return fail(err, errlen, "line %lu: vtd_inv_desc_iotlb_pages without its mask",
				    lineno);
		mask = strtoul(m + 8, &e, 16);
		*size_idx = mask >= QTR_SIZE_ALL ? QTR_SIZE_ALL - 1 : (int)mask;
	}
	*t_us = sec * 1000000ULL + usec;
	return 0;
}

/* The next line of @f, newline cut. Return: 1 a line, 0 the end, or -errno. */
static int next_line(FILE *f, char **line, size_t *cap, unsigned long *lineno, char *err,
		     size_t errlen)
{
	ssize_t len = getline(line, cap, f);

	if (len <= 0)
		return ferror(f) ? -EIO : 0;
	(*lineno)++;
	if ((*line)[len - 1] != '\n')
		return fail(err, errlen, "line %lu: truncated (no newline at the end)", *lineno);
	(*line)[len - 1] = '\0';
	return 1;
}

int qtr_count(FILE *f, struct qtr_window *w, size_t nw, struct qtr_counts *total,
	      char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	int ret;

	for (size_t i = 0; i < nw; i++)
		memset(&w[i].c, 0, sizeof(w[i].c));
	if (total)
		memset(total, 0, sizeof(*total));
	while ((ret = next_line(f, &line, &cap, &lineno, err, errlen)) == 1) {
		enum qtr_event ev;
		const char *name;
		uint64_t t_us;
		size_t nl;
		int size_idx;

		ret = qtr_line(line, lineno, &t_us, &ev, &size_idx, &name, &nl, err, errlen);
		if (ret)
			break;
		if (total)
			add(total, ev, size_idx);
		for (size_t i = 0; i < nw; i++)
			if (t_us >= w[i].t0_us && t_us <= w[i].t1_us)
				add(&w[i].c, ev, size_idx);
	}
	free(line);
	return ret;
}

int qtr_count_marked(FILE *f, const char *marker, struct qtr_counts *win, size_t max,
		     size_t *nmarks, char *err, size_t errlen)
{
	size_t mlen = strlen(marker);
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	int ret;

	*nmarks = 0;
	for (size_t i = 0; i < max; i++)
		memset(&win[i], 0, sizeof(win[i]));
	while ((ret = next_line(f, &line, &cap, &lineno, err, errlen)) == 1) {
		enum qtr_event ev;
		const char *name;
		uint64_t t_us;
		size_t nl;
		int size_idx;

		ret = qtr_line(line, lineno, &t_us, &ev, &size_idx, &name, &nl, err, errlen);
		if (ret)
			break;
		/* "pci_nvme_mmio_read addr 0xc size 4": the marker event and the start of its text. */
		if (!strncmp(name, marker, mlen)) {
			if (++*nmarks > max + 1) {
				ret = fail(err, errlen, "line %lu: more than %zu marked windows", lineno, max);
				break;
			}
			continue;
		}
		/* Window k lies between marker k + 1 and marker k + 2 (k from 0). */
		if (*nmarks >= 1 && *nmarks <= max)
			add(&win[*nmarks - 1], ev, size_idx);
	}
	free(line);
	return ret;
}

/* ---- the guest's own command stream ---------------------------------------------------- */

int qgc_inval_size(uint32_t c2, uint32_t c3)
{
	uint64_t addr = ((uint64_t)c3 << 32) | (c2 & ~0xfffU);
	unsigned ones;

	if (!(c2 & 1))
		return 0;
	if (addr == 0x7ffffffffffff000ULL)
		return QTR_SIZE_ALL;
	/* S set: the address's trailing ones (from bit 12) give the size, 8K << ones. */
	ones = (unsigned)__builtin_ctzll(~(addr >> 12));
	return ones + 1 >= QTR_SIZE_ALL ? QTR_SIZE_ALL - 1 : (int)ones + 1;
}

static int hex_field(const char *line, const char *key, uint32_t *out)
{
	const char *p = strstr(line, key);
	char *end;
	unsigned long v;

	if (!p || strncmp(p + strlen(key), "0x", 2))
		return -EINVAL;
	errno = 0;
	v = strtoul(p + strlen(key) + 2, &end, 16);
	if (errno || end == p + strlen(key) + 2 || v > 0xffffffffUL ||
	    (*end && *end != ' ' && *end != '\n' && *end != '\r'))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int qgc_count(const char *text, struct qtr_counts *c, char *err, size_t errlen)
{
	const char *p = text;
	unsigned long lineno = 0;

	memset(c, 0, sizeof(*c));
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *hit;
		char line[512];
		uint32_t d[4];
		enum qtr_event ev;
		int size_idx = QTR_SIZE_UNKNOWN;

		lineno++;
		hit = memmem(p, len, " iob_cmd: ", 10);
		if (!hit || *p == '#') {
			p += len + (nl ? 1 : 0);
			continue;
		}
		if (len >= sizeof(line))
			return fail(err, errlen, "line %lu: iob_cmd line too long", lineno);
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		if (hex_field(line, " c0=", &d[0]) || hex_field(line, " c1=", &d[1]) ||
		    hex_field(line, " c2=", &d[2]) || hex_field(line, " c3=", &d[3]))
			return fail(err, errlen, "line %lu: iob_cmd without c0..c3 as 0x hex dwords",
				    lineno);
		switch (d[1] >> 28) {
		case 0x1: ev = QTR_COMPLETION_WAIT; break;
		case 0x2: ev = QTR_DEVTAB_INVAL; break;
		case 0x3:
			ev = QTR_PAGES_INVAL;
			size_idx = qgc_inval_size(d[2], d[3]);
			break;
		case 0x4: ev = QTR_IOTLB_INVAL; break;
		case 0x5: ev = QTR_INTR_INVAL; break;
		case 0x8: ev = QTR_ALL_INVAL; break;
		default: ev = QTR_OTHER; break;
		}
		c->ev[QTR_COMMAND]++;
		add(c, ev, size_idx);
	}
	return 0;
}
