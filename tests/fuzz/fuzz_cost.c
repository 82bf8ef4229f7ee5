// SPDX-License-Identifier: GPL-2.0-or-later
/* cost_parse(): cost model files; what parses, formats and parses back the same. */
#include <math.h>

#include <iob/cost.h>

#include "fuzz.h"

int fuzz_cost(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), err[256], buf[8192];
	struct cost_model m, back;

	cost_defaults(&m);
	if (!cost_parse(&m, s, err, sizeof(err))) {
		for (size_t i = 0; i < cost_nparams(); i++)
			fuzz_check(isfinite(cost_param_get(&m, i)) && cost_param_get(&m, i) >= 0,
				   "%s = %g", cost_param_name(i), cost_param_get(&m, i));
		fuzz_check(cost_format(&m, buf, sizeof(buf)) < sizeof(buf), "format too long");
		cost_defaults(&back);
		fuzz_check(!cost_parse(&back, buf, err, sizeof(err)), "its own format: %s", err);
		for (size_t i = 0; i < cost_nparams(); i++)
			fuzz_check(fabs(cost_param_get(&m, i) - cost_param_get(&back, i)) <=
					   1e-9 * fabs(cost_param_get(&m, i)) + 1e-12,
				   "%s: %.17g back as %.17g", cost_param_name(i), cost_param_get(&m, i),
				   cost_param_get(&back, i));
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_cost)
