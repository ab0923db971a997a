/*
 * idmap.c - int64 -> pointer hash map (see idmap.h).  Any single thread.
 */
#include "idmap.h"

#include <stdlib.h>

static size_t idmap_slot(int64_t key, size_t cap)
{
	/* Ids are dense small integers: mix them so neighbours spread. */
	uint64_t x = (uint64_t)key * 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 17) & (cap - 1);
}

void *idmap_get(const struct idmap *m, int64_t key)
{
	if (m->cap == 0 || key == 0)
		return NULL;
	for (size_t i = idmap_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return m->vals[i];
		if (m->keys[i] == 0)
			return NULL;
	}
}

static int idmap_grow(struct idmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	int64_t *nkeys = calloc(ncap, sizeof *nkeys);
	void **nvals = calloc(ncap, sizeof *nvals);
	if (!nkeys || !nvals) {
		free(nkeys);
		free(nvals);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i] == 0)
			continue;
		size_t j = idmap_slot(m->keys[i], ncap);
		while (nkeys[j] != 0)
			j = (j + 1) & (ncap - 1);
		nkeys[j] = m->keys[i];
		nvals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nkeys;
	m->vals = nvals;
	m->cap = ncap;
	return 0;
}

int idmap_put(struct idmap *m, int64_t key, void *val)
{
	if (key == 0)
		return -1;
	if ((m->count + 1) * 2 > m->cap && idmap_grow(m) < 0)
		return -1;
	size_t i = idmap_slot(key, m->cap);
	while (m->keys[i] != 0 && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (m->keys[i] == 0)
		m->count++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 0;
}

void *idmap_del(struct idmap *m, int64_t key)
{
	if (m->cap == 0 || key == 0)
		return NULL;
	size_t mask = m->cap - 1;
	size_t i = idmap_slot(key, m->cap);
	while (m->keys[i] != key) {
		if (m->keys[i] == 0)
			return NULL;
		i = (i + 1) & mask;
	}
	void *val = m->vals[i];
	m->count--;
	/* Backward-shift: move later members of the probe run into the hole
	 * when their home slot does not lie cyclically in (hole, j]. */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; m->keys[j] != 0; j = (j + 1) & mask) {
		size_t home = idmap_slot(m->keys[j], m->cap);
		int between = hole <= j ? (hole < home && home <= j)
					: (hole < home || home <= j);
		if (between)
			continue;
		m->keys[hole] = m->keys[j];
		m->vals[hole] = m->vals[j];
		hole = j;
	}
	m->keys[hole] = 0;
	m->vals[hole] = NULL;
	return val;
}

void idmap_free(struct idmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->count = 0;
}

int idmap_next(const struct idmap *m, size_t *pos, int64_t *key, void **val)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->keys[*pos] != 0) {
			*key = m->keys[*pos];
			*val = m->vals[*pos];
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
