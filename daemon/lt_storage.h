/*
 * lt_storage.h - tpd's own libtorrent disk backend (lt_storage.cpp), the C
 * face of it.
 *
 * Every file of a torrent is opened below a descriptor of its save
 * directory without following any link (beneath.h), on disk threads that
 * use the torrent owner's file-system rights (access.h).  The session is
 * given the backend by lt_shim.cpp (C++ callers include lt_storage.hpp).
 *
 * Threads: lts_storage_wait_released() is called by worker threads.
 */
#ifndef TPD_LT_STORAGE_H
#define TPD_LT_STORAGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Waits until the storage of the daemon's torrent id is gone: libtorrent
 * released it and every disk job queued for it ended, so nothing writes
 * its files any more.  0 when released (or never had a storage), -1 after
 * timeout_ms.  Any thread but the engine's and libtorrent's. */
int lts_storage_wait_released(int64_t id, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
