// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IOTLB and page-directory cache. Both are the same set-associative
 * structure ("sac" below): an entry's key is its aligned base with the
 * size class and a valid bit in the low bits, and the set index comes from
 * the address bits just above that size. Several size classes can live in
 * one cache, so a lookup probes each class that currently has entries
 * (usually one or two); a bitmap of occupied classes keeps that cheap.
 *
 * A fully associative cache of many ways (QEMU's IOTLB is one of 1024)
 * would make every lookup a scan of all its ways; such a cache keeps a
 * hash index beside its ways (open addressing, linear probing, deletion
 * by backward shift), so a lookup costs a probe or two.
 */
#include <errno.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/iotlb.h>

struct sac {
	unsigned sets, ways;
	uint64_t set_mask;
	uint64_t *key;		/* base | class << 1 | 1; 0 when invalid */
	uint64_t *val;		/* page or table address */
	uint16_t *dom;
	uint8_t *prot;
	uint32_t *stamp;	/* LRU age */
	uint32_t clock;
	uint64_t classes;	/* bit c: some entry of class c (c < 64) */
	uint32_t nclass[64];
	unsigned valid;
	int32_t *hidx;		/* hash index of a wide fully associative cache, or NULL */
	uint32_t hmask;
};

/* Ways above which a fully associative cache gets a hash index. */
#define SAC_HASH_WAYS	64

struct iotlb {
	struct sac tlb;
	struct sac pde;
	enum iotlb_repl repl;
	unsigned tag_lg2;
	uint64_t rng;
	struct iotlb_stats stats;
};

static inline uint64_t make_key(uint64_t base, unsigned cls)
{
	return base | ((uint64_t)cls << 1) | 1;
}

static inline unsigned key_class(uint64_t key)
{
	return (unsigned)(key >> 1) & 0x3f;
}

static inline uint64_t key_base(uint64_t key)
{
	return key & ~0xfffULL;
}

static int sac_init(struct sac *c, unsigned entries, unsigned ways)
{
	memset(c, 0, sizeof(*c));
	if (!entries)
		return 0;
	if ((entries & (entries - 1)) || !ways || (ways & (ways - 1)) || ways > entries)
		return -EINVAL;
	c->ways = ways;
	c->sets = entries / ways;
	c->set_mask = c->sets - 1;
	c->key = iob_calloc(entries, sizeof(*c->key));
	c->val = iob_calloc(entries, sizeof(*c->val));
	c->dom = iob_calloc(entries, sizeof(*c->dom));
	c->prot = iob_calloc(entries, sizeof(*c->prot));
	c->stamp = iob_calloc(entries, sizeof(*c->stamp));
	if (!c->key || !c->val || !c->dom || !c->prot || !c->stamp)
		return -ENOMEM;
	if (c->sets == 1 && ways > SAC_HASH_WAYS) {
		c->hmask = 2 * ways - 1;
		c->hidx = iob_calloc(2 * (size_t)ways, sizeof(*c->hidx));
		if (!c->hidx)
			return -ENOMEM;
		for (unsigned i = 0; i <= c->hmask; i++)
			c->hidx[i] = -1;
	}
	return 0;
}

static void sac_fini(struct sac *c)
{
	iob_free(c->key);
	iob_free(c->val);
	iob_free(c->dom);
	iob_free(c->prot);
	iob_free(c->stamp);
	iob_free(c->hidx);
}

static inline uint32_t hash_slot(const struct sac *c, uint64_t key, domid_t dom)
{
	uint64_t h = (key ^ (uint64_t)dom << 48) * 0x9e3779b97f4a7c15ULL;

	return (uint32_t)(h >> 32) & c->hmask;
}

/* Way of (@key, @dom) through the hash index, or -1. */
static int hash_find(const struct sac *c, uint64_t key, domid_t dom)
{
	for (uint32_t s = hash_slot(c, key, dom);; s = (s + 1) & c->hmask) {
		int32_t w = c->hidx[s];

		if (w < 0)
			return -1;
		if (c->key[w] == key && c->dom[w] == dom)
			return w;
	}
}

static void hash_add(struct sac *c, unsigned way)
{
	uint32_t s = hash_slot(c, c->key[way], c->dom[way]);

	while (c->hidx[s] >= 0)
		s = (s + 1) & c->hmask;
	c->hidx[s] = (int32_t)way;
}

/* Remove @way (still holding its key) from the index: backward-shift deletion. */
static void hash_del(struct sac *c, unsigned way)
{
	uint32_t s = hash_slot(c, c->key[way], c->dom[way]);

	while (c->hidx[s] != (int32_t)way)
		s = (s + 1) & c->hmask;
	for (uint32_t j = (s + 1) & c->hmask; c->hidx[j] >= 0; j = (j + 1) & c->hmask) {
		uint32_t home = hash_slot(c, c->key[c->hidx[j]], c->dom[c->hidx[j]]);

		/* Move j's entry into the hole unless its home lies cyclically in (s, j]. */
		if (((j - home) & c->hmask) >= ((j - s) & c->hmask)) {
			c->hidx[s] = c->hidx[j];
			s = j;
		}
	}
	c->hidx[s] = -1;
}

static inline unsigned sac_set(const struct sac *c, uint64_t addr, unsigned cls)
{
	return (unsigned)((cls >= 64 ? 0 : addr >> cls) & c->set_mask);
}

/* Index of the matching way among @n ways from @first, or -1 (the scan that stops at the hit). */
static inline int find_scan(const struct sac *c, unsigned first, unsigned n, uint64_t want,
			    domid_t dom)
{
	for (unsigned w = 0; w < n; w++)
		if (c->key[first + w] == want && c->dom[first + w] == dom)
			return (int)(first + w);
	return -1;
}

/*
 * The same for 8 ways (the default geometry), without a branch per way:
 * which way hits is as good as random, and the scan that stops at the hit
 * mispredicts its exit on most lookups (about 70 M lookups/s instead of
 * 135 M on the development VM for a 512-entry 8-way IOTLB over a 1 MiB
 * window). The keys are compared into a mask; the domain is checked only
 * where a key matched (the same address may sit in a set for two domains).
 * A loop bound known at compile time matters: a mask over a run-time
 * number of ways was slower than the scan.
 */
static inline int find_8(const struct sac *c, unsigned first, uint64_t want, domid_t dom)
{
	const uint64_t *key = c->key + first;
	unsigned hit = 0;

	for (unsigned w = 0; w < 8; w++)
		hit |= (unsigned)(key[w] == want) << w;
	for (; hit; hit &= hit - 1) {
		unsigned w = (unsigned)__builtin_ctz(hit);

		if (c->dom[first + w] == dom)
			return (int)(first + w);
	}
	return -1;
}

/* Index of the matching way, or -1. */
static inline int sac_find(const struct sac *c, domid_t dom, uint64_t addr,
			   unsigned cls)
{
	uint64_t base = addr & ~((1ULL << cls) - 1);
	uint64_t want = make_key(base, cls);
	unsigned first = sac_set(c, addr, cls) * c->ways;

	if (c->hidx)
		return hash_find(c, want, dom);
	if (c->ways == 8)
		return find_8(c, first, want, dom);
	return find_scan(c, first, c->ways, want, dom);
}

static void sac_drop(struct sac *c, unsigned i)
{
	unsigned cls = key_class(c->key[i]);

	if (c->hidx)
		hash_del(c, i);
	c->key[i] = 0;
	c->valid--;
	if (!--c->nclass[cls])
		c->classes &= ~(1ULL << cls);
}

static inline uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Every entry dropped at once. */
static void sac_clear(struct sac *c)
{
	memset(c->key, 0, (size_t)c->sets * c->ways * sizeof(*c->key));
	memset(c->nclass, 0, sizeof(c->nclass));
	c->classes = 0;
	c->valid = 0;
	if (c->hidx)
		for (unsigned i = 0; i <= c->hmask; i++)
			c->hidx[i] = -1;
}

/* Returns true if a valid entry was evicted. */
static bool sac_insert(struct sac *c, enum iotlb_repl repl, uint64_t *rng,
		       domid_t dom, uint64_t base, unsigned cls, uint64_t val,
		       uint8_t prot)
{
	unsigned first = sac_set(c, base, cls) * c->ways;
	int hit = sac_find(c, dom, base, cls);
	unsigned victim = first;
	bool evicted = false;

	if (hit >= 0) {
		victim = (unsigned)hit;
	} else {
		bool found = false;

		for (unsigned w = 0; w < c->ways; w++)
			if (!c->key[first + w]) {
				victim = first + w;
				found = true;
				break;
			}
		if (!found && repl == IOTLB_REPL_RESET) {
			/* QEMU's way: a full cache is emptied, then the entry goes in. */
			sac_clear(c);
			victim = first;
			evicted = true;
		} else if (!found) {
			if (repl == IOTLB_REPL_RANDOM) {
				victim = first + (unsigned)(xorshift64(rng) % c->ways);
			} else {
				for (unsigned w = 1; w < c->ways; w++)
					if ((int32_t)(c->stamp[first + w] -
						      c->stamp[victim]) < 0)
						victim = first + w;
			}
			sac_drop(c, victim);
			evicted = true;
		}
		c->key[victim] = make_key(base, cls);
		c->dom[victim] = dom;
		if (c->hidx)
			hash_add(c, victim);
		c->valid++;
		if (!c->nclass[cls]++)
			c->classes |= 1ULL << cls;
	}
	c->dom[victim] = dom;
	c->val[victim] = val;
	c->prot[victim] = prot;
	c->stamp[victim] = ++c->clock;
	return evicted;
}

/* Drop entries of @dom overlapping [start, last] (all domains if @any_dom). */
static unsigned sac_inv(struct sac *c, bool any_dom, domid_t dom, uint64_t start,
			uint64_t last)
{
	unsigned n = 0, total = c->sets * c->ways;

	if (!c->valid)
		return 0;
	/* Small ranges: probe the sets each class would use instead of scanning. */
	if (!any_dom) {
		uint64_t probes = 0;
		uint64_t cl = c->classes;

		while (cl) {
			unsigned cls = (unsigned)__builtin_ctzll(cl);

			cl &= cl - 1;
			probes += ((last >> cls) - (start >> cls)) + 1;
			if (probes > c->sets)
				break;
		}
		if (probes <= c->sets) {
			cl = c->classes;
			while (cl) {
				unsigned cls = (unsigned)__builtin_ctzll(cl);
				uint64_t a = start & ~((1ULL << cls) - 1);

				cl &= cl - 1;
				for (;;) {
					int i = sac_find(c, dom, a, cls);

					if (i >= 0) {
						sac_drop(c, (unsigned)i);
						n++;
					}
					if ((last >> cls) == (a >> cls))
						break;
					a += 1ULL << cls;
				}
			}
			return n;
		}
	}
	for (unsigned i = 0; i < total; i++) {
		uint64_t k = c->key[i];
		unsigned cls;
		uint64_t b, e;

		if (!k || (!any_dom && c->dom[i] != dom))
			continue;
		cls = key_class(k);
		b = key_base(k);
		e = b + ((1ULL << cls) - 1);
		if (b <= last && e >= start) {
			sac_drop(c, i);
			n++;
		}
	}
	return n;
}

int iotlb_create(const struct iotlb_cfg *cfg, struct iotlb **out)
{
	struct iotlb *tlb;
	int ret;

	if (!cfg || !out || cfg->repl >= IOTLB_REPL_NR ||
	    (cfg->tag_lg2 && (cfg->tag_lg2 < AMDVI_PAGE_SIZE_LG2 || cfg->tag_lg2 >= 64)))
		return -EINVAL;
	tlb = iob_calloc(1, sizeof(*tlb));
	if (!tlb)
		return -ENOMEM;
	ret = sac_init(&tlb->tlb, cfg->entries, cfg->ways);
	if (!ret)
		ret = sac_init(&tlb->pde, cfg->pde_entries, cfg->pde_ways);
	if (ret) {
		iotlb_destroy(tlb);
		return ret;
	}
	tlb->repl = cfg->repl;
	tlb->tag_lg2 = cfg->tag_lg2;
	tlb->rng = cfg->seed ? cfg->seed : 0x9e3779b97f4a7c15ULL;
	*out = tlb;
	return 0;
}

void iotlb_destroy(struct iotlb *tlb)
{
	if (!tlb)
		return;
	sac_fini(&tlb->tlb);
	sac_fini(&tlb->pde);
	iob_free(tlb);
}

int iotlb_lookup(struct iotlb *tlb, domid_t domid, iova_t iova,
		 struct iotlb_entry *out)
{
	struct sac *c = &tlb->tlb;
	uint64_t cl = c->classes;

	tlb->stats.lookups++;
	while (cl) {
		unsigned cls = (unsigned)__builtin_ctzll(cl);
		int i;

		cl &= cl - 1;
		i = sac_find(c, domid, iova, cls);
		if (i >= 0) {
			c->stamp[i] = ++c->clock;
			out->iova = key_base(c->key[i]);
			out->pa = c->val[i];
			out->domid = domid;
			out->size_lg2 = (uint8_t)cls;
			out->prot = c->prot[i];
			tlb->stats.hits++;
			return 0;
		}
	}
	tlb->stats.misses++;
	return -ENOENT;
}

void iotlb_fill(struct iotlb *tlb, const struct iotlb_entry *e)
{
	struct sac *c = &tlb->tlb;
	unsigned size_lg2;
	uint64_t mask;

	/* No AMD-Vi page is smaller than 4 KiB: such an entry is not cached. */
	if (!c->sets || e->size_lg2 < AMDVI_PAGE_SIZE_LG2 || e->size_lg2 >= 64)
		return;
	size_lg2 = e->size_lg2;
	/* Tags of at most 2^tag_lg2 bytes: the part of a larger page that was used. */
	if (tlb->tag_lg2 && size_lg2 > tlb->tag_lg2)
		size_lg2 = tlb->tag_lg2;
	mask = (1ULL << size_lg2) - 1;
	tlb->stats.fills++;
	if (sac_insert(c, tlb->repl, &tlb->rng, e->domid, e->iova & ~mask,
		       size_lg2, e->pa & ~mask, e->prot))
		tlb->stats.evictions++;
}

static inline unsigned pde_class(unsigned level)
{
	return amdvi_level_shift(level) + AMDVI_PT_ENTRIES_LG2;
}

int iotlb_pde_lookup(struct iotlb *tlb, domid_t domid, iova_t iova,
		     unsigned top, struct iotlb_pde *out)
{
	struct sac *c = &tlb->pde;

	if (!c->sets)
		return -ENOENT;
	tlb->stats.pde_lookups++;
	for (unsigned level = 1; level < top; level++) {
		unsigned cls = pde_class(level);
		int i;

		if (!((c->classes >> cls) & 1))
			continue;
		i = sac_find(c, domid, iova, cls);
		if (i >= 0) {
			c->stamp[i] = ++c->clock;
			out->base = key_base(c->key[i]);
			out->table = c->val[i];
			out->domid = domid;
			out->level = (uint8_t)level;
			out->prot = c->prot[i];
			tlb->stats.pde_hits++;
			return 0;
		}
	}
	tlb->stats.pde_misses++;
	return -ENOENT;
}

void iotlb_pde_fill(struct iotlb *tlb, const struct iotlb_pde *p)
{
	struct sac *c = &tlb->pde;
	unsigned cls;

	if (!c->sets || p->level < 1 || p->level >= AMDVI_PT_LEVELS_MAX)
		return;
	cls = pde_class(p->level);
	tlb->stats.pde_fills++;
	if (sac_insert(c, tlb->repl, &tlb->rng, p->domid,
		       p->base & ~((1ULL << cls) - 1), cls, p->table, p->prot))
		tlb->stats.pde_evictions++;
}

unsigned iotlb_inv_range(struct iotlb *tlb, domid_t domid, iova_t start,
			 unsigned size_lg2, bool pde)
{
	uint64_t last;
	unsigned n, np = 0;

	if (size_lg2 >= 64) {
		start = 0;
		last = ~0ULL;
	} else {
		start &= ~((1ULL << size_lg2) - 1);
		last = start + ((1ULL << size_lg2) - 1);
	}
	tlb->stats.inv_cmds++;
	n = sac_inv(&tlb->tlb, false, domid, start, last);
	if (pde)
		np = sac_inv(&tlb->pde, false, domid, start, last);
	tlb->stats.inv_entries += n;
	tlb->stats.pde_inv_entries += np;
	return n + np;
}

unsigned iotlb_inv_all(struct iotlb *tlb)
{
	unsigned n = sac_inv(&tlb->tlb, true, 0, 0, ~0ULL);
	unsigned np = sac_inv(&tlb->pde, true, 0, 0, ~0ULL);

	tlb->stats.inv_cmds++;
	tlb->stats.inv_entries += n;
	tlb->stats.pde_inv_entries += np;
	return n + np;
}

unsigned iotlb_entries(const struct iotlb *tlb)
{
	return tlb->tlb.sets * tlb->tlb.ways;
}

unsigned iotlb_occupancy(const struct iotlb *tlb)
{
	return tlb->tlb.valid;
}

void iotlb_stats_get(const struct iotlb *tlb, struct iotlb_stats *out)
{
	*out = tlb->stats;
}

void iotlb_stats_reset(struct iotlb *tlb)
{
	memset(&tlb->stats, 0, sizeof(tlb->stats));
}

const char *iotlb_repl_name(enum iotlb_repl r)
{
	return r == IOTLB_REPL_LRU ? "lru" : r == IOTLB_REPL_RANDOM ? "random" :
	       r == IOTLB_REPL_RESET ? "reset" : "?";
}

void iotlb_cfg_default(const struct cost_model *m, struct iotlb_cfg *cfg)
{
	struct cost_model cur;

	if (!m) {
		cost_current(&cur);
		m = &cur;
	}
	*cfg = (struct iotlb_cfg){
		.entries = (unsigned)m->iotlb_entries, .ways = (unsigned)m->iotlb_ways,
		.repl = IOTLB_REPL_LRU, .pde_entries = IOTLB_DEFAULT_PDE_ENTRIES,
		.pde_ways = IOTLB_DEFAULT_PDE_WAYS,
	};
}

void iotlb_cfg_qemu(struct iotlb_cfg *cfg)
{
	*cfg = (struct iotlb_cfg){
		.entries = IOTLB_QEMU_ENTRIES, .ways = IOTLB_QEMU_ENTRIES,
		.repl = IOTLB_REPL_RESET, .tag_lg2 = AMDVI_PAGE_SIZE_LG2,
	};
}

int iotlb_repl_parse(const char *name)
{
	for (int r = 0; r < IOTLB_REPL_NR; r++)
		if (!strcmp(name, iotlb_repl_name(r)))
			return r;
	return -EINVAL;
}
