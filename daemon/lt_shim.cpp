/*
 * lt_shim.cpp - the libtorrent session behind lt_shim.h: its settings, the
 * id <-> torrent_handle map, adding and removing torrents, alert
 * translation, and what a torrent reports (status, files, peers,
 * trackers).  Making .torrent files is lt_maker.cpp's, the disk backend
 * lt_storage.cpp's; what they share with this file is lt_shim_int.hpp.
 *
 * Threads: every lts_* call that takes an lts_session runs on the engine
 * thread (the map is unlocked for that reason).  libtorrent's own threads
 * only ever kick the session's wake-up queue (queue.h), which makes its
 * eventfd readable.
 *
 * No C++ exception crosses the C boundary: every extern "C" body is wrapped
 * in try/catch and turns failures into a return code plus a malloc'd reason.
 */
#include "lt_shim.h"
#include "lt_fresh_first.hpp"
#include "lt_keep_seeds.hpp"
#include "lt_shim_int.hpp"
#include "lt_storage.hpp"
#include "queue.h"

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/announce_entry.hpp>
#include <libtorrent/extensions.hpp>
#include <libtorrent/extensions/smart_ban.hpp>
#include <libtorrent/extensions/ut_metadata.hpp>
#include <libtorrent/extensions/ut_pex.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/magnet_uri.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <libtorrent/write_resume_data.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

const char *const LTS_DEFAULT_LISTEN = "0.0.0.0:6881,[::]:6881";
const int LTS_DEFAULT_ALERT_QUEUE = 100000;
/* We never auto-manage, but libtorrent still counts torrents against these
 * ceilings; huge values keep a daemon with many torrents from queueing. */
const int LTS_DEFAULT_ACTIVE_LIMIT = 100000;
/* Bound on remembered removed torrents should torrent_removed_alerts be
 * dropped by a full alert queue. */
const size_t LTS_MAX_REMOVED = 10000;
/* What an untrusted .torrent may cost: beyond these it is refused with a
 * reason instead of being held in memory (the daemon also caps the bytes
 * it reads or fetches, --max-torrent-size). */
const int LTS_LOAD_MAX_BYTES = 64 * 1024 * 1024;
const int LTS_LOAD_MAX_PIECES = 0x200000;
const int LTS_LOAD_MAX_TOKENS = 4000000;
const int LTS_LOAD_MAX_FILES = 200000;

struct lts_entry {
	lt::torrent_handle handle;
	std::string hex;
};

/* An add posted by lts_add_async, until its add_torrent_alert. */
struct lts_pending {
	int64_t id;
	std::string hex;
	std::string name;
	bool owned;
};

} // namespace

struct lts_session {
	/* Item-less: only its eventfd, kicked when alerts are waiting. */
	struct queue wake;
	bool wake_ok = false;
	std::unique_ptr<lt::session> ses;
	std::unordered_map<int64_t, lts_entry> by_id;
	std::unordered_map<lt::torrent_handle, int64_t> by_handle;
	/* Removed torrents whose torrent_removed_alert has not come yet: a
	 * resume request made before the removal must still get its one
	 * answer.  Searched with ==, which (unlike the hash) stays right
	 * for handles whose torrent is gone. */
	std::vector<std::pair<lt::torrent_handle, int64_t>> removed;
	/* Torrents stopped because the storage refused a link (lt_storage):
	 * their error, shown until they are resumed.  libtorrent itself only
	 * rejects the peer's request when a read fails. */
	std::unordered_map<int64_t, std::string> refused;
	/* lts_add_async posts not yet answered by an add_torrent_alert, by
	 * the info-hash the alert carries back. */
	std::map<lt::info_hash_t, lts_pending> pending;
	/* libtorrent's own DHT nodes, for a reload that drops
	 * --dht-bootstrap. */
	std::string default_bootstrap;
};

namespace {

std::string lts_hex(char const *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;
	out.reserve(n * 2);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = static_cast<unsigned char>(p[i]);
		out.push_back(digits[c >> 4]);
		out.push_back(digits[c & 15]);
	}
	return out;
}

/* What trackers, btih magnets and other clients call the torrent: the v1
 * hash when there is one, else the full v2 hash (never get_best(), which
 * truncates v2 for hybrids). */
std::string lts_hash_hex(lt::info_hash_t const &ih)
{
	if (ih.has_v1())
		return lts_hex(ih.v1.data(), ih.v1.size());
	if (ih.has_v2())
		return lts_hex(ih.v2.data(), ih.v2.size());
	return std::string();
}

void lts_copy_hex(char *dst, std::string const &hex)
{
	size_t n = std::min(hex.size(), static_cast<size_t>(LTS_HASH_HEX_MAX));
	memcpy(dst, hex.data(), n);
	dst[n] = '\0';
}

lts_entry *lts_find(lts_session *s, int64_t id, char **err)
{
	auto it = s->by_id.find(id);
	if (it == s->by_id.end()) {
		lts_set_err(err, "no such torrent");
		return nullptr;
	}
	return &it->second;
}

/* "1.2.3.4:5" or "[::1]:5" -> endpoint.  Names are refused on purpose:
 * resolving would block the engine thread. */
bool lts_parse_peer(char const *hostport, lt::tcp::endpoint &ep)
{
	if (hostport == nullptr)
		return false;
	std::string s(hostport);
	std::string host, port;
	if (!s.empty() && s[0] == '[') {
		size_t close = s.find(']');
		if (close == std::string::npos || close + 1 >= s.size()
		    || s[close + 1] != ':')
			return false;
		host = s.substr(1, close - 1);
		port = s.substr(close + 2);
	} else {
		size_t colon = s.rfind(':');
		if (colon == std::string::npos
		    || s.find(':') != colon)
			return false;
		host = s.substr(0, colon);
		port = s.substr(colon + 1);
	}
	if (host.empty() || port.empty() || port.size() > 5)
		return false;
	long pn = 0;
	for (char c : port) {
		if (c < '0' || c > '9')
			return false;
		pn = pn * 10 + (c - '0');
	}
	if (pn < 1 || pn > 65535)
		return false;
	lt::error_code ec;
	lt::address addr = lt::make_address(host, ec);
	if (ec)
		return false;
	ep = lt::tcp::endpoint(addr, static_cast<unsigned short>(pn));
	return true;
}

char const *lts_state_name(lt::torrent_status const &ts)
{
	if (ts.errc)
		return "error";
	switch (ts.state) {
	case lt::torrent_status::checking_files:
		return "checking_files";
	case lt::torrent_status::downloading_metadata:
		return "downloading_metadata";
	case lt::torrent_status::downloading:
		return "downloading";
	case lt::torrent_status::finished:
		return "finished";
	case lt::torrent_status::seeding:
		return "seeding";
	case lt::torrent_status::checking_resume_data:
		return "checking_resume_data";
	default:
		return "downloading";
	}
}

/* Fills the scalar fields; the string members are set by the caller
 * (borrowed for the sink, malloc'd for lts_status_get). */
void lts_fill_status(lt::torrent_status const &ts, int64_t id,
		     std::string const &hex, struct lts_status *out)
{
	out->id = id;
	lts_copy_hex(out->info_hash, hex);
	out->state = lts_state_name(ts);
	bool paused = static_cast<bool>(ts.flags & lt::torrent_flags::paused);
	bool managed = static_cast<bool>(ts.flags & lt::torrent_flags::auto_managed);
	/* An auto-managed torrent is paused only by the queue. */
	out->paused = paused && !managed;
	out->queued = paused && managed;
	out->queue_position = static_cast<int>(ts.queue_position);
	out->sequential = static_cast<bool>(
		ts.flags & lt::torrent_flags::sequential_download);
	out->uploaded = ts.all_time_upload;
	out->downloaded = ts.all_time_download;
	/* torrent_status::total stays 0 unless accurate counters are asked
	 * for; without skipped files the wanted bytes are the size. */
	out->size = ts.total > ts.total_wanted ? ts.total : ts.total_wanted;
	out->seeding_time = static_cast<int64_t>(
		std::chrono::duration_cast<std::chrono::seconds>(ts.seeding_duration)
			.count());
	out->progress = ts.progress;
	out->done_bytes = ts.total_wanted_done;
	out->total_bytes = ts.total_wanted;
	out->down_rate = ts.download_payload_rate;
	out->up_rate = ts.upload_payload_rate;
	out->peers = ts.num_peers;
	out->seeds = ts.num_seeds;
}

/* The transports and encryption, set at start and again by session_set
 * (lts_apply_limits), so that both follow the same rules. */
static void lts_net_settings(lt::settings_pack &sp, int encryption, bool utp,
			     bool tcp)
{
	/* uTP is accepted from every peer that dials it, but tpd itself
	 * dials TCP (uTP only when TCP is off).  libtorrent would dial uTP
	 * first; measured on six namespace hosts with 100 Mbit/s tbf links
	 * (1 seeder, 5 leechers, 256 MiB), that took 65-68 s where dialling
	 * TCP took 37-42 s and aria2c 40-46 s (the link bound is 21.5 s):
	 * uTP's congestion control backs off on a shaped link, which is its
	 * purpose and costs the swarm a third of its speed.  Unshaped, both
	 * are fast (64 MiB between two hosts: TCP 0.6 s, uTP 0.6-1.7 s).
	 * What is lost: dialling a peer that only answers uTP. */
	sp.set_bool(lt::settings_pack::enable_outgoing_utp,
		    utp && !tcp);
	sp.set_bool(lt::settings_pack::enable_incoming_utp, utp);
	sp.set_bool(lt::settings_pack::enable_outgoing_tcp, tcp);
	sp.set_bool(lt::settings_pack::enable_incoming_tcp, tcp);
	switch (encryption) {
	case LTS_ENC_REQUIRE:
		/* Only the encrypted handshake, and RC4 on the stream too:
		 * what a user asking for encryption expects. */
		sp.set_int(lt::settings_pack::out_enc_policy,
			   lt::settings_pack::pe_forced);
		sp.set_int(lt::settings_pack::in_enc_policy,
			   lt::settings_pack::pe_forced);
		sp.set_int(lt::settings_pack::allowed_enc_level,
			   lt::settings_pack::pe_rc4);
		sp.set_bool(lt::settings_pack::prefer_rc4, true);
		break;
	case LTS_ENC_DISABLE:
		sp.set_int(lt::settings_pack::out_enc_policy,
			   lt::settings_pack::pe_disabled);
		sp.set_int(lt::settings_pack::in_enc_policy,
			   lt::settings_pack::pe_disabled);
		sp.set_bool(lt::settings_pack::prefer_rc4, false);
		break;
	default:
		/* Encrypted handshake first, plaintext peers still welcome;
		 * the payload may stay plain (RC4 costs CPU and buys little
		 * once the handshake is obfuscated). */
		sp.set_int(lt::settings_pack::out_enc_policy,
			   lt::settings_pack::pe_enabled);
		sp.set_int(lt::settings_pack::in_enc_policy,
			   lt::settings_pack::pe_enabled);
		sp.set_int(lt::settings_pack::allowed_enc_level,
			   lt::settings_pack::pe_both);
		sp.set_bool(lt::settings_pack::prefer_rc4, false);
		break;
	}
}

/* A refused link (lt_storage): ELOOP from RESOLVE_NO_SYMLINKS, EXDEV from
 * RESOLVE_BENEATH. */
bool lts_link_refused(lt::error_code const &ec)
{
	return ec == boost::system::errc::too_many_symbolic_link_levels
	       || ec == boost::system::errc::cross_device_link;
}

/* A seed whose file was swapped for a link: stop it with an error, as
 * libtorrent does when a write or a hash fails, instead of serving on. */
void lts_on_file_error(lts_session *s, int64_t id, lt::file_error_alert const *fe)
{
	if (id == 0 || !lts_link_refused(fe->error) || s->refused.count(id) != 0)
		return;
	s->refused[id] = std::string("refused to follow a link at ")
			 + fe->filename() + ": " + fe->error.message();
	fe->handle.pause();
}

/* The refused-link error of id, or nullptr. */
std::string const *lts_refused(lts_session *s, int64_t id)
{
	auto it = s->refused.find(id);
	return it == s->refused.end() ? nullptr : &it->second;
}

lt::settings_pack lts_settings(struct lts_config const *cfg)
{
	lt::settings_pack sp;
	sp.set_str(lt::settings_pack::listen_interfaces,
		   cfg->listen ? cfg->listen : LTS_DEFAULT_LISTEN);
	sp.set_str(lt::settings_pack::user_agent,
		   cfg->user_agent ? cfg->user_agent : LTS_DEFAULT_AGENT);
	sp.set_bool(lt::settings_pack::enable_dht, cfg->dht);
	sp.set_bool(lt::settings_pack::enable_lsd, cfg->lsd);
	sp.set_bool(lt::settings_pack::enable_upnp, cfg->upnp);
	sp.set_bool(lt::settings_pack::enable_natpmp, cfg->upnp);
	sp.set_int(lt::settings_pack::alert_mask,
		   static_cast<int>(static_cast<std::uint32_t>(
			   lt::alert_category::status
			   | lt::alert_category::error
			   | lt::alert_category::storage)));
	sp.set_int(lt::settings_pack::alert_queue_size,
		   cfg->alert_queue_size > 0 ? cfg->alert_queue_size
					     : LTS_DEFAULT_ALERT_QUEUE);
	/* The queue's slots come with lts_apply_limits; until then nothing
	 * waits.  Slow torrents count like the others, so the queue is the
	 * plain first-in-first-out people expect (SPEC section 8). */
	sp.set_int(lt::settings_pack::active_downloads, LTS_DEFAULT_ACTIVE_LIMIT);
	sp.set_int(lt::settings_pack::active_seeds, LTS_DEFAULT_ACTIVE_LIMIT);
	sp.set_int(lt::settings_pack::active_limit, LTS_DEFAULT_ACTIVE_LIMIT);
	sp.set_bool(lt::settings_pack::dont_count_slow_torrents, false);
	sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip,
		    cfg->multi_conn_per_ip);
	/* With TCP and uTP peers at once, under a rate limit: uTP's
	 * congestion control (LEDBAT) yields to TCP by design.  prefer_tcp
	 * leaves the TCP peers free and lets uTP take what is left, which
	 * keeps the link full; peer_proportional caps the TCP peers at their
	 * share of the limit, and what uTP's back-off then leaves unused is
	 * lost.  Without a limit the two behave alike. */
	sp.set_int(lt::settings_pack::mixed_mode_algorithm,
		   lt::settings_pack::prefer_tcp);
	if (cfg->socket_buffer > 0) {
		/* uTP runs over one UDP socket for every peer: with the
		 * kernel's default buffers its packets are dropped at the
		 * socket and a LAN transfer crawls (70 s instead of 1.7 s for
		 * 256 MiB, LIBTORRENT-NOTES). */
		sp.set_int(lt::settings_pack::send_socket_buffer_size,
			   cfg->socket_buffer);
		sp.set_int(lt::settings_pack::recv_socket_buffer_size,
			   cfg->socket_buffer);
	}
	lts_net_settings(sp, cfg->encryption, !cfg->no_utp, !cfg->no_tcp);
	if (cfg->dht_bootstrap != nullptr)
		sp.set_str(lt::settings_pack::dht_bootstrap_nodes,
			   cfg->dht_bootstrap);
	/* Throughput: measured on loopback (LIBTORRENT-NOTES), the defaults
	 * starve fast peers of queued sends, disk writes and requests. */
	sp.set_int(lt::settings_pack::send_buffer_low_watermark, 1024 * 1024);
	sp.set_int(lt::settings_pack::send_buffer_watermark, 8 * 1024 * 1024);
	sp.set_int(lt::settings_pack::send_buffer_watermark_factor, 150);
	sp.set_int(lt::settings_pack::max_queued_disk_bytes, 64 * 1024 * 1024);
	sp.set_int(lt::settings_pack::max_out_request_queue, 4000);
	sp.set_int(lt::settings_pack::max_allowed_in_request_queue, 4000);
	/* Requests kept in flight per peer: 1 s of its rate, not the
	 * default 3 s.  Toward a seed every leecher picks among the pieces
	 * only the seed has, and a piece in flight to one leecher looks
	 * just as rare to the others until it is complete: the deeper the
	 * queues, the more the seed sends twice.  Six hosts at 100 Mbit/s
	 * (bench row 7), the seed sent 1.49-1.54x the file at 3 s and the
	 * last leecher took 32.5-34.8 s; at 1 s, 1.27-1.35x and 28.6-30.4 s.
	 * Two hosts without shaping (row 6): the same at both. */
	sp.set_int(lt::settings_pack::request_queue_time, 1);
	/* A peer whose connection closed is tried again after 10 s, not
	 * libtorrent's 60 s.  Two hosts on the same port (6881 is everyone's
	 * default) that connect to each other at the same moment each keep
	 * one of the two connections, chosen at random at each end; half the
	 * time they choose differently and both close.  In bench row 7 (six
	 * hosts, 25 s), each of three runs whose peers were listed had one
	 * to three pairs apart for the whole transfer, once the seed and a
	 * leecher (last leecher 24.8-26.4 s); at 10 s every pair was
	 * connected 12 s in (24.9-25.0 s).  Failed attempts still back off:
	 * (failures + 1) x 10 s. */
	sp.set_int(lt::settings_pack::min_reconnect_time, 10);
	return sp;
}

/* libtorrent's default plugins (what session_params would add).  ut_pex is
 * installed even with --no-pex: a plugin cannot be removed from a running
 * session, and PEX must be able to come on later (session_set, SIGHUP).
 * Off, each torrent carries torrent_flags::disable_pex, with which the
 * plugin sends no PEX message and ignores those it receives; only the
 * extension handshake still names ut_pex. */
struct lts_torrent_ext : lt::plugin {
	using ctor = std::shared_ptr<lt::torrent_plugin> (*)(
		lt::torrent_handle const &, lt::client_data_t);
	explicit lts_torrent_ext(ctor f) : fn(f) {}
	std::shared_ptr<lt::torrent_plugin>
	new_torrent(lt::torrent_handle const &h, lt::client_data_t d) override
	{
		return fn(h, d);
	}
	ctor fn;
};

std::vector<std::shared_ptr<lt::plugin>> lts_plugins()
{
	std::vector<std::shared_ptr<lt::plugin>> v;
	v.push_back(std::make_shared<lts_torrent_ext>(lt::create_ut_metadata_plugin));
	v.push_back(std::make_shared<lts_torrent_ext>(lt::create_ut_pex_plugin));
	v.push_back(std::make_shared<lts_torrent_ext>(lt::create_smart_ban_plugin));
	/* A libtorrent 2.0.8 defect drops a peer that just became a seed
	 * although it has the piece we lack (lt_keep_seeds.cpp). */
	v.push_back(std::make_shared<lts_torrent_ext>(lts_keep_seeds_plugin));
	/* A seed's link carries every piece once before any twice
	 * (lt_fresh_first.cpp). */
	v.push_back(std::make_shared<lts_torrent_ext>(lts_fresh_first_plugin));
	return v;
}

/* Turns lts_add's inputs into add_torrent_params; false with *err set. */
bool lts_build_params(struct lts_add const *p, lt::add_torrent_params &atp,
		      char **err)
{
	lt::error_code ec;
	if (p->resume != nullptr && p->resume_len > 0) {
		atp = lt::read_resume_data(
			{reinterpret_cast<char const *>(p->resume),
			 static_cast<std::ptrdiff_t>(p->resume_len)}, ec);
		if (ec) {
			lts_set_err(err, "invalid resume data: " + ec.message());
			return false;
		}
	}
	if (p->torrent != nullptr) {
		lt::load_torrent_limits lim;
		lim.max_buffer_size = LTS_LOAD_MAX_BYTES;
		lim.max_pieces = LTS_LOAD_MAX_PIECES;
		lim.max_decode_tokens = LTS_LOAD_MAX_TOKENS;
		std::shared_ptr<lt::torrent_info> ti;
		try {
			ti = std::make_shared<lt::torrent_info>(
				lt::span<char const>(
					reinterpret_cast<char const *>(p->torrent),
					static_cast<std::ptrdiff_t>(p->torrent_len)),
				lim, lt::from_span);
		} catch (lt::system_error const &e) {
			lts_set_err(err, "invalid .torrent: " + e.code().message());
			return false;
		}
		if (ti->num_files() > LTS_LOAD_MAX_FILES) {
			lts_set_err(err, "the torrent has "
					 + std::to_string(ti->num_files())
					 + " files; at most "
					 + std::to_string(LTS_LOAD_MAX_FILES)
					 + " are accepted");
			return false;
		}
		atp.ti = ti;
		atp.info_hashes = ti->info_hashes();
	} else if (p->magnet != nullptr) {
		lt::add_torrent_params mp = lt::parse_magnet_uri(p->magnet, ec);
		if (ec) {
			lts_set_err(err, "invalid magnet: " + ec.message());
			return false;
		}
		if (atp.ti == nullptr) {
			atp.info_hashes = mp.info_hashes;
			if (atp.name.empty())
				atp.name = mp.name;
		}
		for (auto const &t : mp.trackers)
			atp.trackers.push_back(t);
		for (auto const &t : mp.tracker_tiers)
			atp.tracker_tiers.push_back(t);
		for (auto const &ws : mp.url_seeds)
			atp.url_seeds.push_back(ws);
		for (auto const &pe : mp.peers)
			atp.peers.push_back(pe);
	} else if (p->resume == nullptr || p->resume_len == 0) {
		lts_set_err(err, "nothing to add: no .torrent, magnet or resume data");
		return false;
	}
	if (p->save_path != nullptr)
		atp.save_path = p->save_path;
	if (atp.save_path.empty()) {
		lts_set_err(err, "no save directory given");
		return false;
	}
	if (p->have_all && atp.ti != nullptr) {
		/* Seeding what was just hashed: mark every piece, no re-check
		 * (seed_mode would re-hash each piece on first request). */
		atp.have_pieces.clear();
		atp.have_pieces.resize(atp.ti->num_pieces(), true);
	}
	atp.flags &= ~(lt::torrent_flags::auto_managed | lt::torrent_flags::paused
		       | lt::torrent_flags::sequential_download
		       | lt::torrent_flags::disable_pex);
	/* Paused by a person: out of the queue; else the queue decides. */
	if (p->paused)
		atp.flags |= lt::torrent_flags::paused;
	else
		atp.flags |= lt::torrent_flags::auto_managed;
	if (p->sequential)
		atp.flags |= lt::torrent_flags::sequential_download;
	if (!p->pex)
		atp.flags |= lt::torrent_flags::disable_pex;
	atp.download_limit = p->download_limit > 0 ? p->download_limit : -1;
	atp.upload_limit = p->upload_limit > 0 ? p->upload_limit : -1;
	atp.flags |= lt::torrent_flags::duplicate_is_error;
	return true;
}

/* After a duplicate_torrent refusal: which of our ids holds it. */
int64_t lts_find_existing(lts_session *s, lt::info_hash_t const &ih)
{
	lt::torrent_handle h;
	if (ih.has_v1())
		h = s->ses->find_torrent(ih.v1);
	/* the session also indexes v2 torrents by their truncated hash */
	if (!h.is_valid() && ih.has_v2())
		h = s->ses->find_torrent(lt::sha1_hash(ih.v2.data()));
	auto it = s->by_handle.find(h);
	return it == s->by_handle.end() ? -1 : it->second;
}

void lts_log(struct lts_sink const *sink, int level, int64_t id,
	     std::string const &msg)
{
	if (sink->log)
		sink->log(sink->ctx, level, id, msg.c_str());
}

void lts_on_status(lts_session *s, struct lts_sink const *sink,
		   std::vector<lt::torrent_status> const &all)
{
	if (!sink->status)
		return;
	for (lt::torrent_status const &ts : all) {
		auto it = s->by_handle.find(ts.handle);
		if (it == s->by_handle.end())
			continue;
		auto eit = s->by_id.find(it->second);
		if (eit == s->by_id.end())
			continue;
		lts_entry const &e = eit->second;
		struct lts_status st;
		memset(&st, 0, sizeof st);
		lts_fill_status(ts, it->second, e.hex, &st);
		/* Borrowed strings: the sink's copy ends with the callback, and
		 * the sink only sees a const struct. */
		std::string error = ts.errc ? lts_text(ts.errc.message())
					    : std::string();
		std::string const *refused = lts_refused(s, it->second);
		if (!ts.errc && refused != nullptr) {
			st.state = "error";
			error = lts_text(*refused);
		}
		std::string name = lts_text(ts.name.empty() ? e.hex : ts.name);
		std::string save_path = lts_text(ts.save_path);
		st.name = const_cast<char *>(name.c_str());
		st.save_path = const_cast<char *>(save_path.c_str());
		st.error = !error.empty() ? const_cast<char *>(error.c_str()) : nullptr;
		sink->status(sink->ctx, &st);
	}
}

void lts_on_resume(struct lts_sink const *sink, int64_t id,
		   lt::save_resume_data_alert const *a)
{
	std::vector<char> buf = lt::write_resume_data_buf(a->params);
	if (sink->resume_data)
		sink->resume_data(sink->ctx, id,
				  reinterpret_cast<unsigned char const *>(buf.data()),
				  buf.size());
}

/* The answer to an lts_add_async: the torrent becomes known by its id
 * (or its owner is forgotten when libtorrent refused it). */
void lts_on_added(lts_session *s, struct lts_sink const *sink,
		  lt::add_torrent_alert const *a)
{
	auto it = s->pending.find(a->params.info_hashes);
	if (it == s->pending.end())
		return; /* a blocking lts_add: it handled its own answer */
	lts_pending p = std::move(it->second);
	s->pending.erase(it);
	std::string error;
	if (a->error) {
		if (p.owned)
			lts_storage_forget(p.id);
		error = a->error == lt::errors::duplicate_torrent
				? std::string("a duplicate of another torrent")
				: "cannot add torrent: " + a->error.message();
	} else {
		s->by_id[p.id] = lts_entry{a->handle, p.hex};
		s->by_handle[a->handle] = p.id;
	}
	if (sink->added)
		sink->added(sink->ctx, p.id, p.name.c_str(), p.hex.c_str(),
			    error.empty() ? nullptr : error.c_str());
}

/* A removed torrent: only answers to resume requests matter, and they
 * become failures so that no resume data brings the torrent back. */
void lts_dispatch_removed(lts_session *s, struct lts_sink const *sink,
			  lt::torrent_alert *ta)
{
	auto it = std::find_if(s->removed.begin(), s->removed.end(),
			       [ta](std::pair<lt::torrent_handle, int64_t> const &r) {
				       return r.first == ta->handle;
			       });
	if (it == s->removed.end())
		return;
	int64_t id = it->second;
	if (lt::alert_cast<lt::torrent_removed_alert>(ta))
		s->removed.erase(it);
	else if ((lt::alert_cast<lt::save_resume_data_alert>(ta)
		  || lt::alert_cast<lt::save_resume_data_failed_alert>(ta))
		 && sink->resume_failed)
		sink->resume_failed(sink->ctx, id, "torrent was removed");
}

/* One alert -> at most one sink call.  Torrent alerts for handles we do not
 * know (removed torrents) are dropped; session-wide ones use id 0. */
void lts_dispatch(lts_session *s, struct lts_sink const *sink, lt::alert *a)
{
	if (auto *su = lt::alert_cast<lt::state_update_alert>(a)) {
		lts_on_status(s, sink, su->status);
		return;
	}
	/* Before the handle look-up: the handle is not known until now. */
	if (auto *at = lt::alert_cast<lt::add_torrent_alert>(a)) {
		lts_on_added(s, sink, at);
		return;
	}
	int64_t id = 0;
	if (auto *ta = dynamic_cast<lt::torrent_alert *>(a)) {
		auto it = s->by_handle.find(ta->handle);
		if (it == s->by_handle.end()) {
			lts_dispatch_removed(s, sink, ta);
			return;
		}
		id = it->second;
	}
	if (lt::alert_cast<lt::torrent_finished_alert>(a)) {
		if (sink->finished)
			sink->finished(sink->ctx, id);
	} else if (lt::alert_cast<lt::metadata_received_alert>(a)) {
		if (sink->metadata)
			sink->metadata(sink->ctx, id);
	} else if (auto *sr = lt::alert_cast<lt::save_resume_data_alert>(a)) {
		lts_on_resume(sink, id, sr);
	} else if (auto *sm = lt::alert_cast<lt::storage_moved_alert>(a)) {
		if (sink->moved)
			sink->moved(sink->ctx, id, sm->storage_path());
	} else if (auto *smf = lt::alert_cast<lt::storage_moved_failed_alert>(a)) {
		std::string why = smf->error.message();
		if (smf->file_path() != nullptr && *smf->file_path())
			why += std::string(" (") + smf->file_path() + ")";
		if (sink->move_failed)
			sink->move_failed(sink->ctx, id, why.c_str());
	} else if (auto *sf = lt::alert_cast<lt::save_resume_data_failed_alert>(a)) {
		if (sink->resume_failed)
			sink->resume_failed(sink->ctx, id, sf->error.message().c_str());
	} else if (auto *fr = lt::alert_cast<lt::file_renamed_alert>(a)) {
		if (sink->renamed)
			sink->renamed(sink->ctx, id, static_cast<int>(fr->index),
				      fr->new_name(), nullptr);
	} else if (auto *ff = lt::alert_cast<lt::file_rename_failed_alert>(a)) {
		lts_log(sink, 0, id, a->message());
		if (sink->renamed)
			sink->renamed(sink->ctx, id, static_cast<int>(ff->index),
				      nullptr, ff->error.message().c_str());
	} else if (auto *fe = lt::alert_cast<lt::file_error_alert>(a)) {
		lts_log(sink, 0, id, a->message());
		lts_on_file_error(s, id, fe);
	} else if (lt::alert_cast<lt::listen_failed_alert>(a)) {
		lts_log(sink, 0, id, a->message());
		if (sink->listening)
			sink->listening(sink->ctx);
	} else if (lt::alert_cast<lt::torrent_error_alert>(a)
		   || lt::alert_cast<lt::torrent_delete_failed_alert>(a)) {
		lts_log(sink, 0, id, a->message());
	} else if (lt::alert_cast<lt::listen_succeeded_alert>(a)) {
		lts_log(sink, 2, id, a->message());
		if (sink->listening)
			sink->listening(sink->ctx);
	} else if (a->category() & lt::alert_category::error) {
		/* tracker errors/warnings, dropped alerts, hash failures,
		 * rejected resume data, ... */
		lts_log(sink, 1, id, a->message());
	}
}

/* Before the session ends: takes every torrent out, the download queue's
 * last first.  libtorrent's teardown aborts the torrents in its own order,
 * and each one leaving the queue renumbers all behind it (a state update
 * each): O(n^2), over 3 minutes at 100,000 torrents.  Leaving from the back
 * nothing is behind.  The state is saved by now; removal keeps the data. */
void lts_remove_from_back(lts_session *s)
{
	try {
		std::vector<lt::torrent_status> all = s->ses->get_torrent_status(
			[](lt::torrent_status const &) { return true; },
			lt::status_flags_t{});
		std::sort(all.begin(), all.end(),
			  [](lt::torrent_status const &a, lt::torrent_status const &b) {
				  return a.queue_position > b.queue_position;
			  });
		for (auto const &st : all)
			s->ses->remove_torrent(st.handle);
	} catch (...) {
		/* the teardown still ends them, only slower */
	}
}

/* Runs fn on a torrent's handle: -1 with *err for an unknown id or when
 * libtorrent throws (e.g. the handle died meanwhile). */
template <typename Fn>
int lts_with_handle(lts_session *s, int64_t id, char **err, Fn fn)
{
	try {
		lts_entry *e = lts_find(s, id, err);
		if (e == nullptr)
			return -1;
		fn(e->handle);
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}

} // namespace

extern "C" {

lts_session *lts_new(const struct lts_config *cfg, char **err)
{
	lts_session *s = nullptr;
	try {
		struct lts_config defaults;
		memset(&defaults, 0, sizeof defaults);
		if (cfg == nullptr)
			cfg = &defaults;
		s = new lts_session;
		if (queue_init(&s->wake, QUEUE_FD, err) < 0) {
			delete s;
			return nullptr;
		}
		s->wake_ok = true;
		lt::session_params params(lts_settings(cfg), lts_plugins());
		/* Our backend: files opened with their owner's rights, no
		 * link followed (lt_storage.cpp). */
		params.disk_io_constructor = lts_storage_constructor;
		s->default_bootstrap = lt::settings_pack().get_str(
			lt::settings_pack::dht_bootstrap_nodes);
		s->ses = std::make_unique<lt::session>(std::move(params));
		/* libtorrent puts LAN and loopback peers in an unlimited
		 * class; a user's limit means every peer, so every address
		 * goes to the global class alone. */
		lt::ip_filter pcf;
		pcf.add_rule(lt::make_address("0.0.0.0"),
			     lt::make_address("255.255.255.255"),
			     1u << static_cast<std::uint32_t>(
				     lt::session::global_peer_class_id));
		pcf.add_rule(lt::make_address("::"),
			     lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
			     1u << static_cast<std::uint32_t>(
				     lt::session::global_peer_class_id));
		s->ses->set_peer_class_filter(pcf);
		/* Called on libtorrent's threads: only wake the engine. */
		struct queue *wake = &s->wake;
		s->ses->set_alert_notify([wake] { queue_kick(wake); });
		/* The notifier fires only on empty -> non-empty; alerts queued
		 * before it was installed would otherwise wait forever, so the
		 * engine's first poll always drains. */
		queue_kick(wake);
		return s;
	} catch (std::exception const &e) {
		lts_set_err(err, std::string("cannot start libtorrent session: ")
					 + e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	if (s != nullptr) {
		s->ses.reset();
		if (s->wake_ok)
			queue_destroy(&s->wake);
		delete s;
	}
	return nullptr;
}

void lts_free(lts_session *s)
{
	if (s == nullptr)
		return;
	try {
		if (s->ses) {
			lts_remove_from_back(s);
			/* The proxy's destructor waits for disk threads and the
			 * "stopped" announces; the notifier may fire until then,
			 * so the wake-up queue is destroyed only afterwards. */
			lt::session_proxy proxy = s->ses->abort();
			s->ses.reset();
		}
	} catch (...) {
	}
	if (s->wake_ok)
		queue_destroy(&s->wake);
	delete s;
}

int lts_set_ip_filter(lts_session *s, const struct lts_ip_range *r, size_t n,
		      const struct lts_ip_range6 *r6, size_t n6, char **err)
{
	try {
		lt::ip_filter f;
		for (size_t i = 0; i < n; i++)
			f.add_rule(lt::address_v4(r[i].first),
				   lt::address_v4(r[i].last),
				   lt::ip_filter::blocked);
		for (size_t i = 0; i < n6; i++) {
			lt::address_v6::bytes_type a, b;
			std::memcpy(a.data(), r6[i].first, a.size());
			std::memcpy(b.data(), r6[i].last, b.size());
			f.add_rule(lt::address_v6(a), lt::address_v6(b),
				   lt::ip_filter::blocked);
		}
		/* libtorrent then disconnects the connected peers the new
		 * filter blocks (torrent::ip_filter_updated). */
		s->ses->set_ip_filter(std::move(f));
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, std::string("cannot apply the blocklist: ")
					 + e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}

int lts_alert_fd(lts_session *s)
{
	return queue_fd(&s->wake);
}

int lts_listen_port(lts_session *s)
{
	try {
		return s->ses->listen_port();
	} catch (...) {
		return 0;
	}
}

int lts_apply_network(lts_session *s, const struct lts_network *n, char **err)
{
	try {
		/* libtorrent acts only on what differs from what runs: the
		 * same listen list keeps its sockets, the same switches keep
		 * UPnP and NAT-PMP as they are. */
		lt::settings_pack sp;
		sp.set_str(lt::settings_pack::listen_interfaces,
			   n->listen ? n->listen : LTS_DEFAULT_LISTEN);
		sp.set_bool(lt::settings_pack::enable_upnp, n->upnp);
		sp.set_bool(lt::settings_pack::enable_natpmp, n->upnp);
		sp.set_str(lt::settings_pack::dht_bootstrap_nodes,
			   n->dht_bootstrap ? n->dht_bootstrap
					    : s->default_bootstrap);
		sp.set_int(lt::settings_pack::send_socket_buffer_size,
			   n->socket_buffer > 0 ? n->socket_buffer : 0);
		sp.set_int(lt::settings_pack::recv_socket_buffer_size,
			   n->socket_buffer > 0 ? n->socket_buffer : 0);
		sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip,
			    n->multi_conn_per_ip);
		s->ses->apply_settings(std::move(sp));
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}

enum lts_add_result lts_add(lts_session *s, const struct lts_add *p,
			    struct lts_added *out, char **err)
{
	memset(out, 0, sizeof *out);
	out->existing_id = -1;
	try {
		lt::add_torrent_params atp;
		if (!lts_build_params(p, atp, err))
			return LTS_ADD_FAIL;
		std::vector<lt::tcp::endpoint> peers;
		for (size_t i = 0; i < p->n_peers; i++) {
			lt::tcp::endpoint ep;
			if (!lts_parse_peer(p->peers[i], ep)) {
				lts_set_err(err, std::string("bad peer address ")
						 + (p->peers[i] ? p->peers[i] : "(null)")
						 + " (want IP:PORT or [IPv6]:PORT)");
				return LTS_ADD_FAIL;
			}
			peers.push_back(ep);
		}
		if (s->by_id.count(p->id) != 0) {
			lts_set_err(err, "torrent id already in use");
			return LTS_ADD_FAIL;
		}
		std::string hex = lts_hash_hex(atp.info_hashes);
		std::string name = atp.ti ? atp.ti->name() : atp.name;
		if (name.empty())
			name = hex;
		lts_copy_hex(out->info_hash, hex);

		lt::info_hash_t const ih = atp.info_hashes;
		/* Before the add: the storage is made on libtorrent's thread
		 * and asks whose torrent it is.  A duplicate keeps its owner. */
		bool owned = lts_storage_owner(ih.get_best(), p->id,
					       static_cast<uid_t>(p->owner));
		lt::error_code ec;
		lt::torrent_handle h;
		try {
			h = s->ses->add_torrent(std::move(atp), ec);
		} catch (...) {
			if (owned)
				lts_storage_forget(p->id);
			throw;
		}
		if (ec && owned)
			lts_storage_forget(p->id);
		if (ec == lt::errors::duplicate_torrent) {
			out->existing_id = lts_find_existing(s, ih);
			if (out->existing_id < 0) {
				/* ours was removed but libtorrent is not done */
				lts_set_err(err, "this torrent is still being removed; try again");
				return LTS_ADD_FAIL;
			}
			out->name = lts_dup(name);
			return LTS_ADD_DUPLICATE;
		}
		if (ec) {
			lts_set_err(err, "cannot add torrent: " + ec.message());
			return LTS_ADD_FAIL;
		}
		s->by_id[p->id] = lts_entry{h, hex};
		s->by_handle[h] = p->id;
		for (auto const &ep : peers)
			h.connect_peer(ep);
		out->name = lts_dup(name);
		return LTS_ADD_OK;
	} catch (std::exception const &e) {
		lts_set_err(err, std::string("cannot add torrent: ") + e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return LTS_ADD_FAIL;
}

int lts_add_async(lts_session *s, const struct lts_add *p, char **err)
{
	try {
		lt::add_torrent_params atp;
		if (!lts_build_params(p, atp, err))
			return -1;
		if (s->by_id.count(p->id) != 0) {
			lts_set_err(err, "torrent id already in use");
			return -1;
		}
		lt::info_hash_t const ih = atp.info_hashes;
		/* Two posts of one hash could not be told apart by their
		 * alerts: the second is the duplicate libtorrent would say. */
		if (s->pending.count(ih) != 0) {
			lts_set_err(err, "a duplicate of another torrent");
			return -1;
		}
		lts_pending pe;
		pe.id = p->id;
		pe.hex = lts_hash_hex(ih);
		pe.name = atp.ti ? atp.ti->name() : atp.name;
		if (pe.name.empty())
			pe.name = pe.hex;
		pe.owned = lts_storage_owner(ih.get_best(), p->id,
					     static_cast<uid_t>(p->owner));
		s->pending.emplace(ih, std::move(pe));
		try {
			s->ses->async_add_torrent(std::move(atp));
		} catch (...) {
			auto it = s->pending.find(ih);
			if (it != s->pending.end()) {
				if (it->second.owned)
					lts_storage_forget(p->id);
				s->pending.erase(it);
			}
			throw;
		}
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, std::string("cannot add torrent: ") + e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}

size_t lts_add_pending(lts_session *s)
{
	return s->pending.size();
}

void lts_status_all(lts_session *s, const struct lts_sink *sink)
{
	try {
		std::vector<lt::torrent_status> all = s->ses->get_torrent_status(
			[](lt::torrent_status const &) { return true; },
			lt::torrent_handle::query_name
				| lt::torrent_handle::query_save_path);
		lts_on_status(s, sink, all);
	} catch (...) {
	}
}

void lts_added_free(struct lts_added *a)
{
	if (a == nullptr)
		return;
	free(a->name);
	a->name = nullptr;
}

int lts_remove(lts_session *s, int64_t id, bool delete_files, char **err)
{
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &ref) {
		lt::torrent_handle h = ref; /* ref dies with its map entry */
		s->by_handle.erase(h);
		s->by_id.erase(id);
		if (s->removed.size() >= LTS_MAX_REMOVED)
			s->removed.erase(s->removed.begin());
		s->removed.emplace_back(h, id);
		s->refused.erase(id);
		lts_storage_forget(id);
		s->ses->remove_torrent(h, delete_files ? lt::session::delete_files
						       : lt::remove_flags_t{});
	});
}

int lts_pause(lts_session *s, int64_t id, char **err)
{
	return lts_with_handle(s, id, err, [](lt::torrent_handle &h) {
		h.unset_flags(lt::torrent_flags::auto_managed);
		h.pause();
	});
}

int lts_resume(lts_session *s, int64_t id, char **err)
{
	s->refused.erase(id); /* tried again: it fails again if still linked */
	return lts_with_handle(s, id, err, [](lt::torrent_handle &h) {
		h.set_flags(lt::torrent_flags::auto_managed);
		h.resume();
	});
}

int lts_set_limits(lts_session *s, int64_t id, int download, int upload,
		   char **err)
{
	return lts_with_handle(s, id, err, [=](lt::torrent_handle &h) {
		h.set_download_limit(download > 0 ? download : -1);
		h.set_upload_limit(upload > 0 ? upload : -1);
	});
}

int lts_set_sequential(lts_session *s, int64_t id, bool on, char **err)
{
	return lts_with_handle(s, id, err, [=](lt::torrent_handle &h) {
		if (on)
			h.set_flags(lt::torrent_flags::sequential_download);
		else
			h.unset_flags(lt::torrent_flags::sequential_download);
	});
}

int lts_queue_move(lts_session *s, int64_t id, int move, int pos, char **err)
{
	return lts_with_handle(s, id, err, [=](lt::torrent_handle &h) {
		switch (move) {
		case 1: h.queue_position_top(); break;
		case 2: h.queue_position_up(); break;
		case 3: h.queue_position_down(); break;
		case 4: h.queue_position_bottom(); break;
		default: h.queue_position_set(lt::queue_position_t{pos}); break;
		}
	});
}

int lts_queue_position(lts_session *s, int64_t id)
{
	int pos = -1;
	lts_with_handle(s, id, nullptr, [&](lt::torrent_handle &h) {
		pos = static_cast<int>(h.queue_position());
	});
	return pos;
}

int lts_set_file_priorities(lts_session *s, int64_t id, const int *prio,
			    size_t n, char **err)
{
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &h) {
		std::shared_ptr<const lt::torrent_info> ti = h.torrent_file();
		if (ti == nullptr)
			throw std::runtime_error(
				"the torrent has no metadata yet, so no files");
		lt::file_storage const &fs = ti->files();
		std::vector<lt::download_priority_t> v(
			static_cast<size_t>(fs.num_files()), lt::dont_download);
		size_t k = 0;
		for (lt::file_index_t i : fs.file_range()) {
			if (fs.pad_file_at(i))
				continue;
			if (k < n)
				v[static_cast<size_t>(static_cast<int>(i))] =
					lt::download_priority_t(
						static_cast<std::uint8_t>(prio[k]));
			k++;
		}
		if (k != n)
			throw std::runtime_error(
				"file_priorities has " + std::to_string(n)
				+ " entries but the torrent has "
				+ std::to_string(k) + " files");
		h.prioritize_files(v);
	});
}

int lts_edit_trackers(lts_session *s, int64_t id, const char *const *add,
		      size_t n_add, const char *const *remove,
		      size_t n_remove, char **err)
{
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &h) {
		std::vector<lt::announce_entry> cur = h.trackers();
		std::vector<lt::announce_entry> out;
		for (auto const &ae : cur) {
			bool drop = false;
			for (size_t i = 0; i < n_remove; i++)
				drop = drop || ae.url == remove[i];
			if (!drop)
				out.push_back(ae);
		}
		for (size_t i = 0; i < n_add; i++) {
			bool have = false;
			for (auto const &ae : out)
				have = have || ae.url == add[i];
			if (have)
				continue;
			lt::announce_entry ae(add[i]);
			ae.tier = static_cast<std::uint8_t>(out.size() < 255
							    ? out.size() : 255);
			out.push_back(ae);
		}
		h.replace_trackers(out);
	});
}

int lts_apply_limits(lts_session *s, const struct lts_limits *l, char **err)
{
	try {
		lt::settings_pack sp;
		sp.set_int(lt::settings_pack::download_rate_limit,
			   l->download_rate > 0 ? l->download_rate : 0);
		sp.set_int(lt::settings_pack::upload_rate_limit,
			   l->upload_rate > 0 ? l->upload_rate : 0);
		sp.set_int(lt::settings_pack::active_downloads,
			   l->active_downloads);
		sp.set_int(lt::settings_pack::active_seeds, l->active_seeds);
		sp.set_int(lt::settings_pack::active_limit,
			   l->active_downloads + l->active_seeds);
		lts_net_settings(sp, l->encryption, l->utp, l->tcp);
		sp.set_bool(lt::settings_pack::enable_dht, l->dht);
		sp.set_bool(lt::settings_pack::enable_lsd, l->lsd);
		s->ses->apply_settings(std::move(sp));
		for (auto &kv : s->by_id) {
			if (l->pex)
				kv.second.handle.unset_flags(
					lt::torrent_flags::disable_pex);
			else
				kv.second.handle.set_flags(
					lt::torrent_flags::disable_pex);
		}
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}

int lts_rename_file(lts_session *s, int64_t id, int index,
		    const char *new_name, char **err)
{
	if (new_name == nullptr || *new_name == '\0') {
		lts_set_err(err, "no new file name");
		return -1;
	}
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &h) {
		auto ti = h.torrent_file();
		if (!ti)
			throw std::runtime_error("the torrent has no metadata yet");
		if (index < 0 || index >= ti->num_files())
			throw std::runtime_error("no file " + std::to_string(index)
						 + " in the torrent");
		h.rename_file(lt::file_index_t(index), new_name);
	});
}

int lts_move(lts_session *s, int64_t id, const char *save_path, char **err)
{
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &h) {
		h.move_storage(save_path, lt::move_flags_t::fail_if_exist);
	});
}

int lts_force_recheck(lts_session *s, int64_t id, char **err)
{
	return lts_with_handle(s, id, err,
			       [](lt::torrent_handle &h) { h.force_recheck(); });
}

int lts_save_resume_one(lts_session *s, int64_t id)
{
	return lts_with_handle(s, id, nullptr, [](lt::torrent_handle &h) {
		       h.save_resume_data(lt::torrent_handle::save_info_dict);
	       }) == 0;
}

int lts_reannounce(lts_session *s, int64_t id, char **err)
{
	/* A person asked for it: do not wait out the tracker's min_interval. */
	return lts_with_handle(s, id, err, [](lt::torrent_handle &h) {
		h.force_reannounce(0, -1, lt::torrent_handle::ignore_min_interval);
	});
}

int lts_connect_peer(lts_session *s, int64_t id, const char *hostport,
		     char **err)
{
	try {
		lts_entry *e = lts_find(s, id, err);
		if (e == nullptr)
			return -1;
		lt::tcp::endpoint ep;
		if (!lts_parse_peer(hostport, ep)) {
			lts_set_err(err, std::string("bad peer address ")
					 + (hostport ? hostport : "(null)")
					 + " (want IP:PORT or [IPv6]:PORT)");
			return -1;
		}
		e->handle.connect_peer(ep);
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}

void lts_status_free(struct lts_status *st)
{
	if (st == nullptr)
		return;
	free(st->name);
	free(st->error);
	free(st->save_path);
	st->name = st->error = st->save_path = nullptr;
}

int lts_files(lts_session *s, int64_t id, char ***paths, size_t *n,
	      char **err)
{
	*paths = nullptr;
	*n = 0;
	try {
		lts_entry *e = lts_find(s, id, err);
		if (e == nullptr)
			return -1;
		std::shared_ptr<const lt::torrent_info> ti =
			e->handle.torrent_file();
		if (ti == nullptr)
			return 0; /* a magnet without metadata has no files */
		lt::file_storage const &fs = ti->files();
		char **v = static_cast<char **>(
			calloc(static_cast<size_t>(fs.num_files()) + 1,
			       sizeof *v));
		if (v == nullptr) {
			lts_set_err(err, "out of memory");
			return -1;
		}
		size_t k = 0;
		for (lt::file_index_t i : fs.file_range()) {
			if (fs.pad_file_at(i))
				continue;
			v[k] = lts_dup_raw(fs.file_path(i));
			if (v[k] == nullptr)
				break;
			k++;
		}
		*paths = v;
		*n = k;
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}

int lts_file_info(lts_session *s, int64_t id, struct lts_file_info **out,
		  size_t *n, char **err)
{
	*out = nullptr;
	*n = 0;
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &h) {
		std::shared_ptr<const lt::torrent_info> ti = h.torrent_file();
		if (ti == nullptr)
			return; /* a magnet without metadata has no files yet */
		lt::file_storage const &fs = ti->files();
		std::vector<std::int64_t> prog;
		h.file_progress(prog, lt::torrent_handle::piece_granularity);
		std::vector<lt::download_priority_t> prio = h.get_file_priorities();
		auto *v = static_cast<struct lts_file_info *>(
			calloc(static_cast<size_t>(fs.num_files()) + 1,
			       sizeof(struct lts_file_info)));
		if (v == nullptr)
			throw std::bad_alloc();
		size_t k = 0;
		for (lt::file_index_t i : fs.file_range()) {
			if (fs.pad_file_at(i))
				continue;
			size_t x = static_cast<size_t>(static_cast<int>(i));
			v[k].path = lts_dup(fs.file_path(i));
			v[k].size = fs.file_size(i);
			v[k].done = x < prog.size() ? prog[x] : 0;
			v[k].priority = x < prio.size()
				? static_cast<int>(static_cast<std::uint8_t>(prio[x]))
				: 4;
			k++;
		}
		*out = v;
		*n = k;
	});
}

void lts_file_info_free(struct lts_file_info *v, size_t n)
{
	for (size_t i = 0; v != nullptr && i < n; i++)
		free(v[i].path);
	free(v);
}

int lts_peer_info(lts_session *s, int64_t id, struct lts_peer_info **out,
		  size_t *n, char **err)
{
	*out = nullptr;
	*n = 0;
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &h) {
		std::vector<lt::peer_info> peers;
		h.get_peer_info(peers);
		auto *v = static_cast<struct lts_peer_info *>(
			calloc(peers.size() + 1, sizeof(struct lts_peer_info)));
		if (v == nullptr)
			throw std::bad_alloc();
		size_t k = 0;
		for (auto const &pi : peers) {
			lt::address a = pi.ip.address();
			std::string host = a.to_string();
			if (a.is_v6())
				host = "[" + host + "]";
			snprintf(v[k].address, sizeof v[k].address, "%s:%u",
				 host.c_str(), static_cast<unsigned>(pi.ip.port()));
			v[k].client = lts_dup(pi.client);
			v[k].down_rate = pi.payload_down_speed;
			v[k].up_rate = pi.payload_up_speed;
			v[k].progress = pi.progress;
			v[k].encrypted = static_cast<bool>(
				pi.flags & (lt::peer_info::rc4_encrypted
					    | lt::peer_info::plaintext_encrypted));
			v[k].utp = static_cast<bool>(pi.flags & lt::peer_info::utp_socket);
			k++;
		}
		*out = v;
		*n = k;
	});
}

void lts_peer_info_free(struct lts_peer_info *v, size_t n)
{
	for (size_t i = 0; v != nullptr && i < n; i++)
		free(v[i].client);
	free(v);
}

int lts_tracker_info(lts_session *s, int64_t id,
		     struct lts_tracker_info **out, size_t *n, char **err)
{
	*out = nullptr;
	*n = 0;
	return lts_with_handle(s, id, err, [&](lt::torrent_handle &h) {
		std::vector<lt::announce_entry> trs = h.trackers();
		auto *v = static_cast<struct lts_tracker_info *>(
			calloc(trs.size() + 1, sizeof(struct lts_tracker_info)));
		if (v == nullptr)
			throw std::bad_alloc();
		size_t k = 0;
		for (auto const &ae : trs) {
			struct lts_tracker_info &t = v[k++];
			t.url = lts_dup(ae.url);
			t.tier = ae.tier;
			t.status = "not contacted";
			t.seeders = t.leechers = -1;
			std::string msg;
			/* One entry per listen socket and protocol; the best
			 * news wins: working over updating over error. */
			int rank = 0;
			for (auto const &ep : ae.endpoints)
				for (auto const &ih : ep.info_hashes) {
					int r = ih.updating ? 2
						: ih.last_error ? 1
						: ih.start_sent ? 3 : 0;
					if (r > rank) {
						rank = r;
						t.status = r == 3 ? "working"
							 : r == 2 ? "updating"
								  : "error";
						msg = ih.last_error
							? ih.last_error.message()
							: ih.message;
					}
					if (ih.scrape_complete > t.seeders)
						t.seeders = ih.scrape_complete;
					if (ih.scrape_incomplete > t.leechers)
						t.leechers = ih.scrape_incomplete;
				}
			t.message = lts_dup(msg);
		}
		*out = v;
		*n = k;
	});
}

void lts_tracker_info_free(struct lts_tracker_info *v, size_t n)
{
	for (size_t i = 0; v != nullptr && i < n; i++) {
		free(v[i].url);
		free(v[i].message);
	}
	free(v);
}

int lts_status_get(lts_session *s, int64_t id, struct lts_status *out,
		   char **err)
{
	memset(out, 0, sizeof *out);
	try {
		lts_entry *e = lts_find(s, id, err);
		if (e == nullptr)
			return -1;
		lt::torrent_status ts = e->handle.status(
			lt::torrent_handle::query_name
			| lt::torrent_handle::query_save_path);
		lts_fill_status(ts, id, e->hex, out);
		out->name = lts_dup(ts.name.empty() ? e->hex : ts.name);
		out->save_path = lts_dup(ts.save_path);
		std::string const *refused = lts_refused(s, id);
		if (ts.errc)
			out->error = lts_dup(ts.errc.message());
		else if (refused != nullptr) {
			out->state = "error";
			out->error = lts_dup(*refused);
		}
		if (out->name == nullptr || out->save_path == nullptr
		    || ((ts.errc || refused) && out->error == nullptr)) {
			lts_status_free(out);
			lts_set_err(err, "out of memory");
			return -1;
		}
		return 0;
	} catch (std::exception const &e) {
		lts_status_free(out);
		lts_set_err(err, e.what());
	} catch (...) {
		lts_status_free(out);
		lts_set_unknown(err);
	}
	return -1;
}

void lts_post_updates(lts_session *s)
{
	try {
		s->ses->post_torrent_updates(lt::torrent_handle::query_name
					     | lt::torrent_handle::query_save_path);
	} catch (...) {
	}
}

void lts_post_updates_bare(lts_session *s)
{
	try {
		s->ses->post_torrent_updates(lt::status_flags_t{});
	} catch (...) {
	}
}

int lts_save_resume(lts_session *s, bool all)
{
	/* One round trip to the network thread for every torrent's flag,
	 * rather than one blocking need_save_resume_data() call each. */
	std::vector<lt::torrent_status> sts;
	try {
		sts = s->ses->get_torrent_status(
			[all](lt::torrent_status const &st) {
				return all || st.need_save_resume;
			},
			lt::status_flags_t{});
	} catch (...) {
		return 0;
	}
	int n = 0;
	for (auto const &st : sts) {
		if (s->by_handle.find(st.handle) == s->by_handle.end())
			continue; /* removed meanwhile: no answer will come */
		try {
			st.handle.save_resume_data(
				lt::torrent_handle::save_info_dict);
			n++;
		} catch (...) {
			/* A handle that died under us gets no request and so
			 * is not counted: the caller waits only for answers
			 * that will come. */
		}
	}
	return n;
}

void lts_drain(lts_session *s, const struct lts_sink *sink)
{
	static const struct lts_sink lts_no_sink = {};
	if (sink == nullptr)
		sink = &lts_no_sink;
	try {
		/* Cleared before popping: alerts posted meanwhile kick
		 * again.  Drained even when nothing was signalled. */
		queue_take_all(&s->wake, nullptr);
		std::vector<lt::alert *> alerts;
		for (;;) {
			s->ses->pop_alerts(&alerts);
			if (alerts.empty())
				break;
			for (lt::alert *a : alerts) {
				try {
					lts_dispatch(s, sink, a);
				} catch (...) {
					/* one bad alert must not lose the rest */
				}
			}
		}
	} catch (...) {
	}
}

} // extern "C"
