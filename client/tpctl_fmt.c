/*
 * tpctl_fmt.c - tpctl's pure formatting helpers: human sizes, integer
 * percents and progress bars.  No I/O; the caller owns every buffer.
 */
#include "tpctl.h"

#include <math.h>

void tpctl_fmt_size(char *buf, size_t len, int64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB",
					     "PiB" };
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%lld B", (long long)bytes);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

int tpctl_percent(double progress)
{
	double p;

	/* NaN and out-of-range values from a confused daemon stay in range. */
	if (!(progress > 0))
		return 0;
	if (progress >= 1)
		return 100;
	p = floor(progress * 100);
	return p > 99 ? 99 : (int)p;
}

double tpctl_percent1(double progress)
{
	double p;

	if (!(progress > 0))
		return 0;
	if (progress >= 1)
		return 100;
	p = floor(progress * 1000) / 10;
	return p > 99.9 ? 99.9 : p;
}

void tpctl_fmt_bar(char *buf, size_t len, int width, double progress)
{
	int full, i;

	if (len == 0)
		return;
	if (width < 0)
		width = 0;
	if ((size_t)width >= len)
		width = (int)len - 1;
	if (!(progress > 0))
		progress = 0;
	if (progress > 1)
		progress = 1;
	full = (int)(progress * width);
	for (i = 0; i < width; i++)
		buf[i] = i < full ? '#' : '-';
	buf[width] = '\0';
}
