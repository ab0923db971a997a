/*
 * rate.h - the RATE and DURATION words people type: "2M", "512k", "1.5G"
 * (bytes per second, k/M/G are powers of 1024) and "90", "30s", "15m",
 * "2h", "7d" (seconds).  Shared by tpctl and tpd's options; pure, any
 * thread.
 */
#ifndef TP_RATE_H
#define TP_RATE_H

#include <stddef.h>
#include <stdint.h>

/* Largest rate either side accepts: libtorrent keeps limits in an int. */
#define TP_RATE_MAX ((int64_t)INT32_MAX)
/* Largest duration: ten years, in seconds; more is a typo. */
#define TP_DURATION_MAX ((int64_t)10 * 366 * 24 * 3600)

/* 0 and *out, or -1 when s is not a rate in [0, TP_RATE_MAX]. */
int tp_rate_parse(const char *s, int64_t *out);
/* 0 and *out, or -1 when s is not a duration in [0, TP_DURATION_MAX]. */
int tp_duration_parse(const char *s, int64_t *out);
/* "2.0 MiB/s" style, "unlimited" for 0; buf of at least 24 bytes. */
void tp_rate_format(char *buf, size_t len, int64_t rate);

#endif
