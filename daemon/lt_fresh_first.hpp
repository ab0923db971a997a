/*
 * lt_fresh_first.hpp - a libtorrent plugin with which a seed sends every
 * piece once before it sends any twice (lt_fresh_first.cpp).  Added to
 * every torrent by lt_shim.cpp.
 *
 * Threads: the plugin's callbacks run on libtorrent's network thread.
 */
#ifndef TPD_LT_FRESH_FIRST_HPP
#define TPD_LT_FRESH_FIRST_HPP

#include <libtorrent/extensions.hpp>

#include <memory>

/* A torrent's plugin, made as libtorrent's own (create_ut_pex_plugin). */
std::shared_ptr<libtorrent::torrent_plugin>
lts_fresh_first_plugin(libtorrent::torrent_handle const &,
		       libtorrent::client_data_t);

#endif
