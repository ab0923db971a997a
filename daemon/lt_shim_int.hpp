/*
 * lt_shim_int.hpp - what the shim's C++ files (lt_shim.cpp, the session;
 * lt_maker.cpp, making torrents) share: the default user agent and how
 * text and errors cross to the C side.  lt_shim.h stays the one public
 * interface; nothing outside daemon/lt_*.cpp includes this.
 *
 * Threads: these helpers keep no state; any thread may call them.
 */
#ifndef TPD_LT_SHIM_INT_HPP
#define TPD_LT_SHIM_INT_HPP

#include "proto.h" /* TP_VERSION */
#include "utf8.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace libtorrent {}
namespace lt = libtorrent;

/* What tpd calls itself to peers and in the torrents it makes. */
inline constexpr char LTS_DEFAULT_AGENT[] = "tpd/" TP_VERSION;

/* Text from libtorrent (a torrent's name, a magnet's dn, messages) is
 * untrusted bytes: it may hold a NUL, which c_str() would silently cut,
 * and bytes that are not UTF-8.  Everything that crosses to the C side as
 * text is repaired here (utf8.h: U+FFFD replacements), so the daemon, its
 * state files, its log and its patrons only ever see well-formed UTF-8. */
inline std::string lts_text(std::string const &s)
{
	if (tp_utf8_clean(s.data(), s.size()))
		return s;
	size_t n = 0;
	char *fixed = tp_utf8_sanitize(s.data(), s.size(), &n);
	if (fixed == nullptr)
		throw std::bad_alloc();
	std::string out(fixed, n);
	free(fixed);
	return out;
}

/* malloc'd repaired copy for the C side; NULL only when memory is gone. */
inline char *lts_dup(std::string const &s)
{
	if (tp_utf8_clean(s.data(), s.size()))
		return strdup(s.c_str());
	return tp_utf8_sanitize(s.data(), s.size(), nullptr);
}

/* malloc'd exact copy, for file names that must name the real file. */
inline char *lts_dup_raw(std::string const &s)
{
	return strdup(s.c_str());
}

inline void lts_set_err(char **err, std::string const &msg)
{
	if (err == nullptr)
		return;
	free(*err);
	*err = lts_dup(msg);
}

/* Used by catch (...): something we cannot describe better. */
inline void lts_set_unknown(char **err)
{
	lts_set_err(err, "internal error in libtorrent shim");
}

#endif
