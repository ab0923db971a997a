/*
 * lt_fresh_first.cpp - a seed sends every piece once before it sends any
 * piece twice.
 *
 * A leecher asks a seed for the rarest pieces it lacks.  A piece on its
 * way to one leecher is announced by nobody until it is complete, so it
 * looks exactly as rare to the other leechers, and they ask the seed for
 * it too; near the end of the seed's first copy almost every request is
 * such a collision.  The seed's link is what bounds a swarm, and on six
 * hosts at 100 Mbit/s (bench row 7) it carried 1.27 copies of the file:
 * a plugin that logged every request saw 2/3 of the duplicate blocks
 * asked for while the piece was still in flight to another leecher, 1/3
 * after another leecher already had it.
 *
 * So while some piece has gone to nobody ("fresh"), a request for a piece
 * that another peer has, or that we began sending to another peer, is
 * refused with the FAST extension's REJECT_REQUEST (BEP 6).  The leecher
 * frees the block and picks again, which leads it to a fresh piece or to
 * the peer that has the piece.  A block asked for again after its refusal
 * is served: a leecher that can get it nowhere else is never starved, and
 * no request goes back and forth more than once.  Peers without the FAST
 * extension, which cannot be refused, are always served.  Once no piece
 * is fresh, everything is served.  Measured, row 7's tpd half, four runs
 * each: the seed sent 1.12-1.16 copies instead of 1.26-1.30, and the last
 * leecher finished at 24.8-28.6 s instead of 28.2-29.3 s.  (Offering
 * each leecher fresh pieces with SUGGEST_PIECE instead made it worse:
 * libtorrent leechers finish partial pieces first.)  libtorrent's
 * super-seeding also sends each piece once, but by offering each leecher
 * two pieces at a time, and the seed's link then ran at 60 Mbit/s.
 *
 * Memory: nothing while the torrent has no peer; then 4 bytes a piece,
 * and per peer the blocks refused to it.
 *
 * Threads: every callback runs on libtorrent's network thread, the only
 * one to touch the state below.
 */
#include "lt_fresh_first.hpp"

#include <libtorrent/bt_peer_connection.hpp>
#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/peer_request.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace lt = libtorrent;

namespace {

/* Blocks refused to one peer at most (8 bytes each); beyond, it is
 * served.  A leecher of row 7 was refused about 1,300. */
constexpr std::size_t FRESH_REFUSED_MAX = 4096;

/* What the seed knows of a piece: fresh, held by a peer, or the serial of
 * the peer it was first sent to. */
constexpr std::int32_t PIECE_FRESH = -1;
constexpr std::int32_t PIECE_HELD = -2;

/* Per torrent; shared by its peers' plugins. */
struct fresh_state {
	bool seeding = false;
	int peers = 0;
	std::uint32_t next_serial = 0;
	std::vector<std::int32_t> piece; /* empty until needed */
	int fresh = 0;
	/* piece is sized to the torrent's piece count: a bitfield that
	 * came before a magnet's metadata may be longer. */
	bool checked = false;

	bool sized(int n)
	{
		if (piece.empty() && n > 0) {
			piece.assign(std::size_t(n), PIECE_FRESH);
			fresh = n;
		}
		return !piece.empty();
	}

	void held(int p)
	{
		if (p >= 0 && p < static_cast<int>(piece.size())
		    && piece[std::size_t(p)] == PIECE_FRESH) {
			piece[std::size_t(p)] = PIECE_HELD;
			fresh--;
		}
	}

	void forget()
	{
		std::vector<std::int32_t>().swap(piece);
		fresh = 0;
		checked = false;
	}
};

struct fresh_peer : lt::peer_plugin {
	fresh_peer(lt::peer_connection_handle const &p,
		   std::shared_ptr<fresh_state> s)
	    : peer(p), st(std::move(s)),
	      serial(std::int32_t(st->next_serial++ & 0x7fffffff))
	{
		st->peers++;
	}

	~fresh_peer() override
	{
		/* Nobody left: a later swarm starts afresh. */
		if (--st->peers == 0)
			st->forget();
	}

	/* BEP 6: the FAST extension is bit 0x04 of the last reserved byte,
	 * and only with it may a request be refused. */
	bool on_handshake(lt::span<char const> reserved) override
	{
		fast = reserved.size() >= 8 && (reserved[7] & 0x04) != 0;
		return true;
	}

	/* What peers have is counted also while we download: a torrent
	 * that completes with peers connected knows what they hold. */
	bool on_have(lt::piece_index_t p) override
	{
		st->held(static_cast<int>(p));
		return false;
	}

	bool on_bitfield(lt::bitfield const &bf) override
	{
		if (!st->sized(bf.size()))
			return false;
		for (int i = 0; i < bf.size(); i++)
			if (bf.get_bit(i))
				st->held(i);
		return false;
	}

	bool on_request(lt::peer_request const &r) override
	{
		int const p = static_cast<int>(r.piece);
		if (!st->seeding || !fast || !check_size() || p < 0
		    || p >= static_cast<int>(st->piece.size()))
			return false;
		std::int32_t &who = st->piece[std::size_t(p)];
		if (who == PIECE_FRESH) {
			who = serial;
			st->fresh--;
			return false;
		}
		if (who == serial || st->fresh == 0
		    || refused.size() >= FRESH_REFUSED_MAX)
			return false;
		std::uint64_t const block =
			std::uint64_t(std::uint32_t(p)) << 32
			| std::uint32_t(r.start);
		auto const at =
			std::lower_bound(refused.begin(), refused.end(), block);
		if (at != refused.end() && *at == block)
			return false; /* asked again: it is served */
		refused.insert(at, block);
		return reject(r);
	}

	/* peer_connection's write_reject_request is protected, but
	 * bt_peer_connection overrides it publicly: a virtual call, which
	 * links nothing libtorrent does not export.  UBSan's check of the
	 * downcast would need bt_peer_connection's type_info, which it does
	 * not export either; new_connection has checked the type. */
	__attribute__((no_sanitize("vptr"))) bool
	reject(lt::peer_request const &r)
	{
		std::shared_ptr<lt::peer_connection> const pc =
			peer.native_handle();
		if (!pc)
			return false;
		static_cast<lt::bt_peer_connection *>(pc.get())
			->write_reject_request(r);
		return true;
	}

	/* The piece count, once per state change, from this peer's bitfield
	 * as libtorrent keeps it: a peer asking for a piece is connected
	 * and has the metadata (a peer with nothing sends HAVE_NONE, not a
	 * bitfield, and torrent_handle's accessors would wait for this very
	 * thread). */
	bool check_size()
	{
		if (st->checked)
			return true;
		lt::peer_info pi;
		peer.get_peer_info(pi);
		int const n = pi.pieces.size();
		if (n <= 0)
			return false;
		if (n != static_cast<int>(st->piece.size()))
			st->forget();
		st->checked = st->sized(n);
		return st->checked;
	}

	lt::peer_connection_handle peer;
	std::shared_ptr<fresh_state> st;
	std::int32_t serial;
	bool fast = false;
	std::vector<std::uint64_t> refused; /* sorted: piece << 32 | start */
};

struct fresh_torrent : lt::torrent_plugin {
	std::shared_ptr<lt::peer_plugin>
	new_connection(lt::peer_connection_handle const &p) override
	{
		if (p.type() != lt::connection_type::bittorrent)
			return nullptr; /* web seeds do not ask us for pieces */
		if (!st) {
			st = std::make_shared<fresh_state>();
			st->seeding = seeding;
		}
		return std::make_shared<fresh_peer>(p, st);
	}

	void on_state(lt::torrent_status::state_t s) override
	{
		seeding = s == lt::torrent_status::seeding;
		if (st) {
			st->seeding = seeding;
			st->checked = false;
		}
	}

	std::shared_ptr<fresh_state> st; /* from the first connection on */
	bool seeding = false;
};

} /* namespace */

std::shared_ptr<lt::torrent_plugin>
lts_fresh_first_plugin(lt::torrent_handle const &, lt::client_data_t)
{
	return std::make_shared<fresh_torrent>();
}
