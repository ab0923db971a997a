/*
 * monoclock.h - CLOCK_MONOTONIC as one number of microseconds, for the
 * main loop's budgets and intervals (a turn's share of engine events, the
 * spacing of malloc_trim).  Any thread.
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
