/*
 * lt_keep_seeds.hpp - a libtorrent plugin that keeps a peer which has just
 * become a seed connected while tpd still downloads from it
 * (lt_keep_seeds.cpp).  Added to the session by lt_shim.cpp.
 *
 * Threads: the plugin's callbacks run on libtorrent's network thread.
 */
#ifndef TPD_LT_KEEP_SEEDS_HPP
#define TPD_LT_KEEP_SEEDS_HPP

#include <libtorrent/extensions.hpp>

#include <memory>

std::shared_ptr<libtorrent::plugin> lts_keep_seeds_plugin();

#endif
