/*
 * peernet.h - what tpd's BitTorrent-side network settings mean, checked
 * before libtorrent sees them: listen lists ("ADDR:PORT,..."), whether
 * they are all loopback, "HOST:PORT,..." lists (--dht-bootstrap), and
 * whether the kernel lets uTP have the socket buffers it asks for.  Pure
 * functions but the last (which reads /proc); main thread; unit-tested.
 */
#ifndef TPD_PEERNET_H
#define TPD_PEERNET_H

#include <stdbool.h>
#include <stddef.h>

/* The UDP socket buffers uTP asks for: with the kernel's usual 208 KiB,
 * uTP between two hosts ran 40x slower than with these (LIBTORRENT-NOTES). */
#define PEERNET_UTP_BUFFER (4 << 20)

/* Checks "ADDR:PORT[,ADDR:PORT...]" where ADDR is an IPv4 address, a
 * bracketed IPv6 address or an interface name, PORT 0..65535.  0, or -1
 * with *err naming the bad entry. */
int peernet_check_listen(const char *list, char **err);
/* True when every entry of a listen list is a loopback address
 * (127.0.0.0/8, [::1], localhost, lo): only then do several peers share
 * one address, so only then may several connections come from one. */
bool peernet_listen_is_loopback(const char *list);
/* Checks "HOST:PORT[,HOST:PORT...]" (HOST a name or an address, PORT
 * 1..65535). */
int peernet_check_hostports(const char *list, char **err);
/* Reads the kernel's caps (rmem_max, wmem_max under dir, normally
 * /proc/sys/net/core) and, when one is below want, sets *advice to the
 * sysctl command that raises it (malloc'd).  0 when both fit or cannot
 * be read. */
int peernet_buffer_advice(const char *dir, long want, char **advice);

#endif
