/*
 * lt_keep_seeds.cpp - works around a libtorrent 2.0.8 defect that stalls a
 * download on its last piece for a minute.
 *
 * When a peer's HAVE completes its set, libtorrent (peer_connection.cpp,
 * incoming_have) marks it a seed and asks whether the connection is
 * redundant before it updates whether we are interested in that peer.  If
 * the piece just announced is the only one we still lack, the peer looks
 * "upload-only and uninteresting" and is disconnected, although it now has
 * exactly what we need.  In a swarm whose leechers finish together, every
 * one of them announces that same last piece and is dropped in turn; the
 * download then waits for libtorrent to redial (min_reconnect_time, 60 s).
 * Measured on six namespace hosts (1 seeder, 5 tpd leechers, 100 Mbit/s,
 * 64 MiB): one leecher in most runs finished at 60 s instead of 11 s.
 * libtorrent 1.2 updated the interest first; the comment in 2.0.8 still
 * says it should.
 *
 * The plugin vetoes only that disconnect, and only for a peer that is a
 * seed: while our torrent is downloading a seed always has something we
 * want, and the interest update libtorrent posts right after makes the
 * peer interesting.  Once our torrent finishes, libtorrent closes seed-to-
 * seed connections for another reason (upload_upload_connection), which
 * is left alone.
 *
 * Threads: every callback runs on libtorrent's network thread, where the
 * peer_connection_handle may be used directly.
 */
#include "lt_keep_seeds.hpp"

#include <libtorrent/error_code.hpp>
#include <libtorrent/peer_connection_handle.hpp>

namespace lt = libtorrent;

namespace {

struct lts_keep_peer : lt::peer_plugin {
	explicit lts_keep_peer(lt::peer_connection_handle const &p) : peer(p) {}
	bool can_disconnect(lt::error_code const &ec) override
	{
		return !(ec == lt::errors::uninteresting_upload_peer
			 && peer.is_seed());
	}
	lt::peer_connection_handle peer;
};

struct lts_keep_torrent : lt::torrent_plugin {
	std::shared_ptr<lt::peer_plugin>
	new_connection(lt::peer_connection_handle const &p) override
	{
		return std::make_shared<lts_keep_peer>(p);
	}
};

} /* namespace */

std::shared_ptr<lt::torrent_plugin>
lts_keep_seeds_plugin(lt::torrent_handle const &, lt::client_data_t)
{
	return std::make_shared<lts_keep_torrent>();
}
