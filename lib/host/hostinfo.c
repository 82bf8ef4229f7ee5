// SPDX-License-Identifier: GPL-2.0-or-later
/* What the running kernel says about its IOMMUs, read from sysfs and friends. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/hostinfo.h>

#define SMALL_FILE_MAX	4096

/* @root + @rel, where @root "" or "/" is the machine itself. */
static void join(char *buf, size_t len, const char *root, const char *rel)
{
	if (!root[0] || !strcmp(root, "/"))
		snprintf(buf, len, "%s", rel);
	else
		snprintf(buf, len, "%s%s", root, rel);
}

static bool exists(const char *root, const char *rel)
{
	char p[PATH_MAX];

	join(p, sizeof(p), root, rel);
	return access(p, F_OK) == 0;
}

/*
 * Read a small text file whole, trailing newlines cut. Return: 0, -errno
 * of the open/read, -EINVAL when it holds NUL bytes or more than fits.
 */
static int read_small(const char *root, const char *rel, char *buf, size_t len)
{
	char p[PATH_MAX];
	FILE *f;
	size_t n;

	join(p, sizeof(p), root, rel);
	f = fopen(p, "r");
	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	if (ferror(f) || (n == len - 1 && fgetc(f) != EOF)) {
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	buf[n] = '\0';
	if (memchr(buf, '\0', n))
		return -EINVAL;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static unsigned count_entries(const char *root, const char *rel)
{
	char p[PATH_MAX];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	join(p, sizeof(p), root, rel);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Names in a directory, sorted; NULL-free list of @n strings. */
static int list_dir(const char *root, const char *rel, char ***out, size_t *n)
{
	char p[PATH_MAX], **v = NULL;
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	join(p, sizeof(p), root, rel);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			char **nv = iob_realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				goto nomem;
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[*n] = iob_malloc(strlen(de->d_name) + 1);
		if (!v[*n])
			goto nomem;
		strcpy(v[*n], de->d_name);
		(*n)++;
	}
	closedir(d);
	*out = v;
	return 0;
nomem:
	closedir(d);
	for (size_t i = 0; i < *n; i++)
		iob_free(v[i]);
	iob_free(v);
	*n = 0;
	return -ENOMEM;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		iob_free(v[i]);
	iob_free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fail(char *err, size_t len, const char *what, const char *why)
{
	if (err && len)
		snprintf(err, len, "%s: %s", what, why);
	return -EINVAL;
}

const char *hostinfo_vendor_name(enum hostinfo_vendor v)
{
	switch (v) {
	case HOSTINFO_AMD:
		return "amd";
	case HOSTINFO_INTEL:
		return "intel";
	default:
		return "other";
	}
}

unsigned hostinfo_cmdline_iommu(const char *cmdline, char *buf, size_t len)
{
	static const char *const prefixes[] = {
		"iommu", "amd_iommu", "intel_iommu", "iommufd", "swiotlb", "vfio", "intremap",
	};
	const char *s = cmdline;
	size_t used = 0;
	unsigned kept = 0;

	if (len)
		buf[0] = '\0';
	while (*s) {
		size_t w;

		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		/* Everything after "--" is for init, not the kernel. */
		if (!strncmp(s, "--", 2) && (s[2] == ' ' || !s[2]))
			break;
		w = strcspn(s, " \t\n");
		if (!w)
			break;
		for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
			size_t pl = strlen(prefixes[p]);

			if (w >= pl && !strncmp(s, prefixes[p], pl) &&
			    (w == pl || s[pl] == '=' || s[pl] == '.' || s[pl] == '_')) {
				if (used + (used ? 1 : 0) + w < len) {
					if (used)
						buf[used++] = ' ';
					memcpy(buf + used, s, w);
					used += w;
					buf[used] = '\0';
					kept++;
				}
				break;
			}
		}
		s += w;
	}
	return kept;
}

static int scan_iommus(const char *root, struct hostinfo *h, char *err, size_t errlen)
{
	char **names, rel[PATH_MAX], cap[64], feat[128], what[512];
	size_t n;
	int ret = list_dir(root, "/sys/class/iommu", &names, &n);

	if (ret)
		return ret;
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	h->iommu = n ? iob_calloc(n, sizeof(*h->iommu)) : NULL;
	if (n && !h->iommu) {
		free_list(names, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		struct hostinfo_iommu *m = &h->iommu[h->niommu++];

		snprintf(m->name, sizeof(m->name), "%s", names[i]);
		snprintf(rel, sizeof(rel), "/sys/class/iommu/%s/devices", names[i]);
		m->ndevices = count_entries(root, rel);
		snprintf(rel, sizeof(rel), "/sys/class/iommu/%s/amd-iommu/cap", names[i]);
		if (!read_small(root, rel, cap, sizeof(cap))) {
			m->vendor = HOSTINFO_AMD;
			snprintf(what, sizeof(what), "/sys/class/iommu/%s/amd-iommu", names[i]);
			snprintf(rel, sizeof(rel), "%s/features", what);
			if (read_small(root, rel, feat, sizeof(feat)))
				ret = fail(err, errlen, rel, "cap without a readable features file");
			else if (efr_parse_sysfs(cap, feat, &m->amd))
				ret = fail(err, errlen, what,
					   "cap/features are not an AMD IOMMU's registers as Linux prints them");
			else
				m->regs_ok = true;
			continue;
		}
		snprintf(rel, sizeof(rel), "/sys/class/iommu/%s/intel-iommu/cap", names[i]);
		if (!read_small(root, rel, cap, sizeof(cap))) {
			char *end;

			m->vendor = HOSTINFO_INTEL;
			m->intel_cap = strtoull(cap, &end, 16);
			snprintf(rel, sizeof(rel), "/sys/class/iommu/%s/intel-iommu/ecap", names[i]);
			if (!*end && !read_small(root, rel, feat, sizeof(feat)))
				m->intel_ecap = strtoull(feat, &end, 16);
			continue;
		}
		m->vendor = HOSTINFO_OTHER;
	}
	free_list(names, n);
	return ret;
}

static int cmp_group(const void *a, const void *b)
{
	const struct hostinfo_group *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int scan_groups(const char *root, struct hostinfo *h, char *err, size_t errlen)
{
	static const char *const types[] = {
		"DMA", "DMA-FQ", "identity", "blocked", "unmanaged", "unknown",
	};
	char **names, rel[PATH_MAX];
	size_t n;
	int ret = list_dir(root, "/sys/kernel/iommu_groups", &names, &n);

	if (ret)
		return ret;
	h->group = n ? iob_calloc(n, sizeof(*h->group)) : NULL;
	if (n && !h->group) {
		free_list(names, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		struct hostinfo_group *g = &h->group[h->ngroup];
		char **devs;
		size_t nd;
		char *end;
		bool known = false;
		unsigned long id = strtoul(names[i], &end, 10);

		if (*end || end == names[i] || id > UINT32_MAX)
			continue;	/* not a group directory */
		g->id = (unsigned)id;
		snprintf(rel, sizeof(rel), "/sys/kernel/iommu_groups/%s/type", names[i]);
		if (read_small(root, rel, g->type, sizeof(g->type))) {
			snprintf(g->type, sizeof(g->type), "none");
		} else {
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
				known |= !strcmp(g->type, types[t]);
			if (!known) {
				ret = fail(err, errlen, rel, "not a domain type this kernel prints");
				break;
			}
		}
		snprintf(rel, sizeof(rel), "/sys/kernel/iommu_groups/%s/devices", names[i]);
		ret = list_dir(root, rel, &devs, &nd);
		if (ret)
			break;
		if (nd)
			qsort(devs, nd, sizeof(*devs), cmp_str);
		g->ndevices = (unsigned)nd;
		if (nd)
			snprintf(g->first_device, sizeof(g->first_device), "%s", devs[0]);
		free_list(devs, nd);
		h->ngroup++;
	}
	free_list(names, n);
	if (h->ngroup)
		qsort(h->group, h->ngroup, sizeof(*h->group), cmp_group);
	return ret;
}

static void scan_tools(const char *root, struct hostinfo *h)
{
	static const char *const tracefs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char rel[PATH_MAX], tracers[1024];
	char **pmus;
	size_t n;

	h->vfio_dev = exists(root, "/dev/vfio/vfio");
	h->vfio_type1 = exists(root, "/sys/module/vfio_iommu_type1");
	h->vfio_pci = exists(root, "/sys/module/vfio_pci");
	h->iommufd = exists(root, "/dev/iommu");
	if (!list_dir(root, "/sys/bus/event_source/devices", &pmus, &n)) {
		if (n)
			qsort(pmus, n, sizeof(*pmus), cmp_str);
		for (size_t i = 0; i < n && h->npmu < HOSTINFO_PMU_MAX; i++)
			if (!strncmp(pmus[i], "amd_iommu", 9))
				snprintf(h->pmu[h->npmu++], sizeof(h->pmu[0]), "%s", pmus[i]);
		free_list(pmus, n);
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(rel, sizeof(rel), "%s/trace", tracefs[i]);
		if (!exists(root, rel))
			continue;
		snprintf(h->tracefs, sizeof(h->tracefs), "%s", tracefs[i]);
		snprintf(rel, sizeof(rel), "%s/kprobe_events", tracefs[i]);
		h->kprobes = exists(root, rel);
		snprintf(rel, sizeof(rel), "%s/available_tracers", tracefs[i]);
		if (!read_small(root, rel, tracers, sizeof(tracers))) {
			for (char *t = strtok(tracers, " \n"); t; t = strtok(NULL, " \n"))
				h->function_graph |= !strcmp(t, "function_graph");
		}
		break;
	}
}

int hostinfo_scan(const char *root, struct hostinfo *out, char *err, size_t errlen)
{
	char cmdline[4096];
	int ret;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (read_small(root, "/proc/sys/kernel/osrelease", out->kernel, sizeof(out->kernel)))
		out->kernel[0] = '\0';
	if (!read_small(root, "/proc/cmdline", cmdline, sizeof(cmdline)))
		hostinfo_cmdline_iommu(cmdline, out->cmdline_iommu, sizeof(out->cmdline_iommu));
	ret = scan_iommus(root, out, err, errlen);
	if (!ret)
		ret = scan_groups(root, out, err, errlen);
	scan_tools(root, out);
	return ret;
}

void hostinfo_free(struct hostinfo *h)
{
	iob_free(h->iommu);
	iob_free(h->group);
	h->iommu = NULL;
	h->group = NULL;
	h->niommu = h->ngroup = 0;
}

bool hostinfo_bdf_valid(const char *bdf)
{
	static const char shape[] = "hhhh:hh:hh.o";

	if (strlen(bdf) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		char c = bdf[i];

		if (shape[i] == 'h' && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		if (shape[i] == 'o' && !(c >= '0' && c <= '7'))
			return false;
		if ((shape[i] == ':' || shape[i] == '.') && c != shape[i])
			return false;
	}
	/* Device numbers stop at 1fh. */
	return strtoul(bdf + 8, NULL, 16) < 32;
}

/* Is the block device /sys/class/block/@name, or one it is built on, behind @bdf? */
static bool block_behind(const char *root, const char *name, const char *bdf, unsigned depth)
{
	char rel[PATH_MAX], p[PATH_MAX], real[PATH_MAX], needle[32], **slaves;
	size_t n;
	bool hit = false;

	if (depth > 8 || strchr(name, '/'))
		return false;
	snprintf(rel, sizeof(rel), "/sys/class/block/%s", name);
	join(p, sizeof(p), root, rel);
	if (!realpath(p, real))
		return false;
	snprintf(needle, sizeof(needle), "/%s/", bdf);
	if (strstr(real, needle))
		return true;
	/* dm and md devices name what they are built on under slaves/. */
	snprintf(rel, sizeof(rel), "/sys/class/block/%s/slaves", name);
	if (list_dir(root, rel, &slaves, &n))
		return false;
	for (size_t i = 0; i < n && !hit; i++)
		hit = block_behind(root, slaves[i], bdf, depth + 1);
	free_list(slaves, n);
	return hit;
}

/* The block device name of mount source @src, or "" when it is not one. */
static void mount_block_name(const char *root, const char *src, const char *mnt, char *name,
			     size_t len)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat st;

	name[0] = '\0';
	if (strncmp(src, "/dev/", 5))
		return;
	join(p, sizeof(p), root, src);
	if (realpath(p, real) && !strncmp(real, "/dev/", 5) && (!root[0] || !strcmp(root, "/"))) {
		snprintf(name, len, "%s", strrchr(real, '/') + 1);
	} else {
		const char *b = strrchr(src, '/') + 1;

		snprintf(name, len, "%s", b);
	}
	/* /dev/root is the kernel's alias: the mount point's device tells which. */
	if (!strcmp(name, "root") && (!root[0] || !strcmp(root, "/")) && !stat(mnt, &st)) {
		char rel[64], link[PATH_MAX];
		ssize_t k;

		snprintf(rel, sizeof(rel), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
		k = readlink(rel, link, sizeof(link) - 1);
		if (k > 0) {
			link[k] = '\0';
			snprintf(name, len, "%s", strrchr(link, '/') + 1);
		}
	}
}

static void find_mounts(const char *root, const char *bdf, struct hostinfo_pci *out)
{
	char p[PATH_MAX], line[4096];
	FILE *f;

	join(p, sizeof(p), root, "/proc/self/mounts");
	f = fopen(p, "r");
	if (!f) {
		join(p, sizeof(p), root, "/proc/mounts");
		f = fopen(p, "r");
	}
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char src[1024], mnt[1024], name[256];

		if (sscanf(line, "%1023s %1023s", src, mnt) != 2)
			continue;
		mount_block_name(root, src, mnt, name, sizeof(name));
		if (!name[0] || !block_behind(root, name, bdf, 0))
			continue;
		if (!out->mounted[0])
			snprintf(out->mounted, sizeof(out->mounted), "%.255s", mnt);
		if (!strcmp(mnt, "/"))
			out->holds_root = true;
	}
	fclose(f);
}

static uint32_t read_hex_attr(const char *root, const char *bdf, const char *attr)
{
	char rel[PATH_MAX], v[64], *end;
	unsigned long x;

	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	if (read_small(root, rel, v, sizeof(v)))
		return 0;
	x = strtoul(v, &end, 16);
	return *end ? 0 : (uint32_t)x;
}

int hostinfo_pci_read(const char *root, const char *bdf, struct hostinfo_pci *out)
{
	char rel[PATH_MAX], p[PATH_MAX], link[PATH_MAX];
	ssize_t k;

	memset(out, 0, sizeof(*out));
	out->group = -1;
	if (!hostinfo_bdf_valid(bdf))
		return -EINVAL;
	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s", bdf);
	out->exists = exists(root, rel);
	if (!out->exists)
		return 0;
	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/driver", bdf);
	join(p, sizeof(p), root, rel);
	k = readlink(p, link, sizeof(link) - 1);
	if (k > 0) {
		link[k] = '\0';
		snprintf(out->driver, sizeof(out->driver), "%.63s",
			 strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	}
	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (read_small(root, rel, out->driver_override, sizeof(out->driver_override)) ||
	    !strcmp(out->driver_override, "(null)"))
		out->driver_override[0] = '\0';
	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	join(p, sizeof(p), root, rel);
	k = readlink(p, link, sizeof(link) - 1);
	if (k > 0) {
		char *end;
		const char *b;
		long g;

		link[k] = '\0';
		b = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
		g = strtol(b, &end, 10);
		if (!*end && end != b && g >= 0 && g <= INT32_MAX)
			out->group = (int)g;
	}
	snprintf(rel, sizeof(rel), "/sys/bus/pci/devices/%s/iommu", bdf);
	join(p, sizeof(p), root, rel);
	k = readlink(p, link, sizeof(link) - 1);
	if (k > 0) {
		link[k] = '\0';
		snprintf(out->iommu, sizeof(out->iommu), "%.63s",
			 strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	}
	out->vendor_id = read_hex_attr(root, bdf, "vendor");
	out->device_id = read_hex_attr(root, bdf, "device");
	out->class_code = read_hex_attr(root, bdf, "class");
	find_mounts(root, bdf, out);
	return 0;
}
