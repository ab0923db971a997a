/*
 * monoclock.h - CLOCK_MONOTONIC as one number of microseconds, for every
 * budget, interval and deadline the daemon keeps: a main-loop turn's share
 * of engine events, the spacing of malloc_trim, the restore's stall limit
 * and timing, the shutdown save's limit, a hook's timeout.  Any thread.
 */
#ifndef TP_MONOCLOCK_H
#define TP_MONOCLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t monoclock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
