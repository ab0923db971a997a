/*
 * lt_keep_seeds.hpp - a libtorrent plugin that keeps a peer which has just
 * become a seed connected while tpd still downloads from it
 * (lt_keep_seeds.cpp).  Added to every torrent by lt_shim.cpp.
 *
 * Threads: the plugin's callbacks run on libtorrent's network thread.
 */
#ifndef TPD_LT_KEEP_SEEDS_HPP
#define TPD_LT_KEEP_SEEDS_HPP

#include <libtorrent/extensions.hpp>

#include <memory>

/* A torrent's plugin, made as libtorrent's own (create_ut_pex_plugin). */
std::shared_ptr<libtorrent::torrent_plugin>
lts_keep_seeds_plugin(libtorrent::torrent_handle const &,
		      libtorrent::client_data_t);

#endif
