/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Seeded randomness for property tests: splitmix64 to seed, xoshiro256**
 * to draw. The seed comes from IOB_TEST_SEED if set (replay a failure),
 * else from the clock, and every property test prints it when it fails.
 */
#ifndef IOB_TEST_PRNG_H
#define IOB_TEST_PRNG_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct prng {
	uint64_t s[4];
	uint64_t seed;
};

static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline void prng_seed(struct prng *r, uint64_t seed)
{
	uint64_t x = seed;

	r->seed = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t prng_next(struct prng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl64(s[3], 45);
	return result;
}

/* Uniform in [0, n), n > 0. */
static inline uint64_t prng_below(struct prng *r, uint64_t n)
{
	return prng_next(r) % n;
}

/*
 * The seed for a property test: IOB_TEST_SEED (decimal or 0x hex) when set,
 * otherwise one derived from the time and @salt.
 */
static inline uint64_t test_seed(uint64_t salt)
{
	const char *env = getenv("IOB_TEST_SEED");
	struct timespec ts;
	uint64_t x;

	if (env && *env)
		return strtoull(env, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	x = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ salt;
	return splitmix64(&x);
}

#endif
