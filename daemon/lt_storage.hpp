/*
 * lt_storage.hpp - tpd's own libtorrent disk backend, the C++ face used by
 * lt_shim.cpp (see lt_storage.h for what it guarantees).
 *
 * Threads: lts_storage_owner()/lts_storage_forget() on the engine thread,
 * before a torrent is added and after it is removed; the constructor is
 * called by libtorrent when the session starts.
 */
#ifndef TPD_LT_STORAGE_HPP
#define TPD_LT_STORAGE_HPP

#include "lt_storage.h"

#include <libtorrent/session_params.hpp>
#include <libtorrent/sha1_hash.hpp>

#include <sys/types.h>

/* For session_params::disk_io_constructor. */
std::unique_ptr<libtorrent::disk_interface> lts_storage_constructor(
	libtorrent::io_context &ioc, libtorrent::settings_interface const &sett,
	libtorrent::counters &cnt);

/* Records that the torrent whose info-hash (info_hash_t::get_best()) is ih
 * is the daemon's torrent id, owned by uid: its storage, made when
 * libtorrent has its metadata, opens files with uid's rights.  Returns
 * false if ih was already recorded (a duplicate: nothing changed). */
bool lts_storage_owner(libtorrent::sha1_hash const &ih, int64_t id, uid_t uid);
/* Forgets the record of torrent id (removed, or its add failed). */
void lts_storage_forget(int64_t id);

#endif
