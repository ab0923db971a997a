/*
 * idmap.h - a map from int64 keys (torrent ids, connection ids) to pointers.
 * Open addressing with linear probing and backward-shift deletion; grows at
 * 50% load.  Not thread-safe: each map belongs to one thread.
 */
#ifndef TPD_IDMAP_H
#define TPD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
	int64_t *keys;
	void **vals;
	size_t cap;   /* power of two, or 0 */
	size_t count;
};

/* Key 0 is reserved (it marks empty slots). */
void *idmap_get(const struct idmap *m, int64_t key);
/* Returns 0, or -1 if memory ran out. Replaces an existing value. */
int idmap_put(struct idmap *m, int64_t key, void *val);
/* Returns the removed value or NULL. */
void *idmap_del(struct idmap *m, int64_t key);
void idmap_free(struct idmap *m);

/* Iteration: for (size_t i = 0; idmap_next(m, &i, &k, &v);) ... ;
 * the map must not change during it. */
int idmap_next(const struct idmap *m, size_t *pos, int64_t *key, void **val);

#endif
