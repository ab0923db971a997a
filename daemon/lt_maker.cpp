/*
 * lt_maker.cpp - making .torrent files (lts_make_torrent in lt_shim.h):
 * listing the files in mktorrent's order, and hashing v1 pieces on our own
 * threads (libtorrent hashes v2 and hybrids).
 *
 * Threads: lts_make_torrent() touches no session and runs on worker
 * threads; it starts its own hashing threads and joins them before it
 * returns.
 */
#include "lt_shim.h"
#include "lt_shim_int.hpp"

#include <libtorrent/create_torrent.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/posix_disk_io.hpp>
#include <libtorrent/settings_pack.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

const int LTS_MIN_PIECE = 16 * 1024;
const int LTS_MAX_PIECE = 64 * 1024 * 1024;
/* Automatic piece size: the smallest power of two giving at most this many
 * pieces, clamped to [16 KiB, 16 MiB] (mktorrent-like .torrent sizes). */
const int64_t LTS_AUTO_MAX_PIECES = 2000;
const int LTS_AUTO_MAX_PIECE = 16 * 1024 * 1024;
/* Hashing threads claim work in runs of pieces of about this many bytes, so
 * each thread reads the files sequentially in large strides. */
const int64_t LTS_HASH_CHUNK = 8 * 1024 * 1024;
const int LTS_MAX_HASH_THREADS = 64;
/* Directory nesting deeper than this is refused rather than followed. */
const int LTS_MAX_DEPTH = 64;

struct lts_file {
	std::string rel; /* relative to the parent of m->path, '/'-separated */
	int64_t size;
};

/* Collects regular files below dir (following symlinks like mktorrent and
 * libtorrent's add_files), refusing loops via the ancestors' (dev, ino). */
bool lts_walk(std::string const &abs, std::string const &rel, int depth,
	      std::vector<std::pair<dev_t, ino_t>> &ancestors,
	      std::vector<lts_file> &files, std::string &err)
{
	if (depth > LTS_MAX_DEPTH) {
		err = abs + ": directories nested too deeply";
		return false;
	}
	DIR *d = opendir(abs.c_str());
	if (d == nullptr) {
		err = abs + ": " + strerror(errno);
		return false;
	}
	std::vector<std::string> names;
	int read_errno = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (de == nullptr) {
			read_errno = errno;
			break;
		}
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			names.emplace_back(de->d_name);
	}
	closedir(d);
	if (read_errno != 0) {
		err = abs + ": " + strerror(read_errno);
		return false;
	}
	for (std::string const &n : names) {
		std::string child = abs + "/" + n;
		std::string crel = rel + "/" + n;
		struct stat st;
		if (stat(child.c_str(), &st) != 0) {
			err = child + ": " + strerror(errno);
			return false;
		}
		if (S_ISDIR(st.st_mode)) {
			auto key = std::make_pair(st.st_dev, st.st_ino);
			if (std::find(ancestors.begin(), ancestors.end(), key)
			    != ancestors.end())
				continue; /* a symlink loop */
			ancestors.push_back(key);
			bool ok = lts_walk(child, crel, depth + 1, ancestors,
					   files, err);
			ancestors.pop_back();
			if (!ok)
				return false;
		} else if (S_ISREG(st.st_mode)) {
			files.push_back(lts_file{crel, static_cast<int64_t>(st.st_size)});
		}
	}
	return true;
}

/* The file list in mktorrent's order (sorted by path with strcmp), so a v1
 * torrent of a directory gets mktorrent's info-hash too. */
bool lts_list_files(std::string const &path, std::string &parent,
		    std::vector<lts_file> &files, std::string &err)
{
	std::string p = path;
	while (p.size() > 1 && p.back() == '/')
		p.pop_back();
	if (p.empty() || p[0] != '/') {
		err = path + ": not an absolute path";
		return false;
	}
	size_t slash = p.rfind('/');
	std::string name = p.substr(slash + 1);
	parent = slash == 0 ? "/" : p.substr(0, slash);
	if (name.empty()) {
		err = "cannot share the root directory";
		return false;
	}
	struct stat st;
	if (stat(p.c_str(), &st) != 0) {
		err = p + ": " + strerror(errno);
		return false;
	}
	if (S_ISREG(st.st_mode)) {
		files.push_back(lts_file{name, static_cast<int64_t>(st.st_size)});
		return true;
	}
	if (!S_ISDIR(st.st_mode)) {
		err = p + ": neither a regular file nor a directory";
		return false;
	}
	std::vector<std::pair<dev_t, ino_t>> ancestors{{st.st_dev, st.st_ino}};
	if (!lts_walk(p, name, 0, ancestors, files, err))
		return false;
	if (files.empty()) {
		err = p + ": no files in this directory";
		return false;
	}
	std::sort(files.begin(), files.end(), [](lts_file const &a, lts_file const &b) {
		return strcmp(a.rel.c_str(), b.rel.c_str()) < 0;
	});
	return true;
}

int lts_auto_piece_size(int64_t total)
{
	int ps = LTS_MIN_PIECE;
	while (ps < LTS_AUTO_MAX_PIECE && total / ps > LTS_AUTO_MAX_PIECES)
		ps *= 2;
	return ps;
}

/* Shared state of the v1 hashing threads. */
struct lts_hasher {
	lt::file_storage const *fs;
	std::string parent;
	std::vector<int64_t> offsets; /* file i starts at offsets[i] */
	int64_t total;
	int piece_size;
	int num_pieces;
	int pieces_per_chunk;
	std::vector<lt::sha1_hash> hashes;
	std::atomic<int> next_chunk{0};
	std::atomic<bool> failed{false};
	std::mutex err_lock;
	std::string err;
};

void lts_hash_fail(lts_hasher &hs, std::string const &msg)
{
	std::lock_guard<std::mutex> g(hs.err_lock);
	if (!hs.failed.exchange(true))
		hs.err = msg;
}

/* Reads [off, off+len) of the torrent's byte stream into buf, crossing
 * files as needed; cur_file/fd cache the open file between calls. */
bool lts_read_span(lts_hasher &hs, int64_t off, int64_t len, char *buf,
		   int &cur_file, int &fd)
{
	while (len > 0) {
		auto it = std::upper_bound(hs.offsets.begin(), hs.offsets.end(), off);
		int fi = static_cast<int>(it - hs.offsets.begin()) - 1;
		int64_t fsize = hs.fs->file_size(lt::file_index_t(fi));
		/* Empty files share their offset with the next file, and
		 * upper_bound picks the last of equals: the one holding data. */
		int64_t in_file = off - hs.offsets[fi];
		std::string fpath = hs.parent + "/" + hs.fs->file_path(lt::file_index_t(fi));
		if (fi != cur_file) {
			if (fd >= 0)
				close(fd);
			fd = open(fpath.c_str(), O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				lts_hash_fail(hs, fpath + ": " + strerror(errno));
				return false;
			}
			cur_file = fi;
		}
		int64_t want = std::min(len, fsize - in_file);
		while (want > 0) {
			ssize_t r = pread(fd, buf, static_cast<size_t>(want), in_file);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				lts_hash_fail(hs, fpath + ": " + strerror(errno));
				return false;
			}
			if (r == 0) {
				lts_hash_fail(hs, fpath + ": file shrank while hashing");
				return false;
			}
			buf += r;
			want -= r;
			len -= r;
			off += r;
			in_file += r;
		}
	}
	return true;
}

void lts_hash_thread(lts_hasher *hsp)
{
	lts_hasher &hs = *hsp;
	std::vector<char> buf(static_cast<size_t>(hs.piece_size));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == nullptr) {
		lts_hash_fail(hs, "out of memory (SHA-1 context)");
		return;
	}
	int cur_file = -1, fd = -1;
	while (!hs.failed.load()) {
		int chunk = hs.next_chunk.fetch_add(1);
		int first = chunk * hs.pieces_per_chunk;
		if (first >= hs.num_pieces)
			break;
		int last = std::min(first + hs.pieces_per_chunk, hs.num_pieces);
		for (int p = first; p < last && !hs.failed.load(); p++) {
			int64_t off = static_cast<int64_t>(p) * hs.piece_size;
			int64_t len = std::min<int64_t>(hs.piece_size, hs.total - off);
			if (!lts_read_span(hs, off, len, buf.data(), cur_file, fd))
				break;
			unsigned int mdlen = 0;
			if (EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) != 1
			    || EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(len)) != 1
			    || EVP_DigestFinal_ex(ctx,
						  reinterpret_cast<unsigned char *>(
							  hs.hashes[p].data()),
						  &mdlen) != 1) {
				lts_hash_fail(hs, "SHA-1 failed (OpenSSL)");
				break;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
}

/* v1 piece hashes with our own threads: set_piece_hashes() hashes on one
 * thread, which makes it about half as fast as mktorrent here. */
bool lts_hash_v1(lt::create_torrent &ct, std::string const &parent,
		 int threads, std::string &err)
{
	lt::file_storage const &fs = ct.files();
	lts_hasher hs;
	hs.fs = &fs;
	hs.parent = parent;
	hs.total = fs.total_size();
	hs.piece_size = ct.piece_length();
	hs.num_pieces = ct.num_pieces();
	hs.pieces_per_chunk = static_cast<int>(
		std::max<int64_t>(1, LTS_HASH_CHUNK / hs.piece_size));
	hs.hashes.resize(static_cast<size_t>(hs.num_pieces));
	for (lt::file_index_t i : fs.file_range())
		hs.offsets.push_back(fs.file_offset(i));
	int n = std::max(1, std::min({threads, LTS_MAX_HASH_THREADS,
				      (hs.num_pieces + hs.pieces_per_chunk - 1)
					      / hs.pieces_per_chunk}));
	std::vector<std::thread> pool;
	try {
		for (int i = 1; i < n; i++)
			pool.emplace_back(lts_hash_thread, &hs);
	} catch (std::exception const &e) {
		lts_hash_fail(hs, std::string("cannot start hashing threads: ")
					  + e.what());
	}
	lts_hash_thread(&hs);
	for (auto &t : pool)
		t.join();
	if (hs.failed.load()) {
		err = hs.err;
		return false;
	}
	for (int p = 0; p < hs.num_pieces; p++)
		ct.set_hash(lt::piece_index_t(p), hs.hashes[static_cast<size_t>(p)]);
	return true;
}

/* The caller's mistakes, found before touching the disk. */
bool lts_make_check(struct lts_make const *m, std::string &err)
{
	if (m->path == nullptr) {
		err = "no path to share";
		return false;
	}
	if (m->version < 1 || m->version > 3) {
		err = "torrent version must be 1 (v1), 2 (v2) or 3 (hybrid)";
		return false;
	}
	if (m->piece_size != 0
	    && (m->piece_size < LTS_MIN_PIECE || m->piece_size > LTS_MAX_PIECE
		|| (m->piece_size & (m->piece_size - 1)) != 0)) {
		err = "piece size must be a power of two from 16 KiB to 64 MiB";
		return false;
	}
	for (size_t i = 0; i < m->n_trackers; i++) {
		if (m->trackers[i] == nullptr || m->trackers[i][0] == '\0') {
			err = "empty tracker URL";
			return false;
		}
	}
	return true;
}

/* Everything but the hashes: trackers one tier each, flags, texts. */
void lts_make_meta(struct lts_make const *m, lt::create_torrent &ct)
{
	for (size_t i = 0; i < m->n_trackers; i++)
		ct.add_tracker(m->trackers[i], static_cast<int>(i));
	if (m->private_flag)
		ct.set_priv(true);
	if (m->comment != nullptr)
		ct.set_comment(m->comment);
	ct.set_creator(m->creator ? m->creator : LTS_DEFAULT_AGENT);
}

/* v1: our parallel hasher; v2/hybrid: libtorrent's (it also builds the
 * merkle trees), with its hashing threads raised to ours. */
bool lts_make_hash(struct lts_make const *m, lt::create_torrent &ct,
		   std::string const &parent, std::string &err)
{
	int threads = std::max(1, m->threads);
	if (m->version == 1)
		return lts_hash_v1(ct, parent, threads, err);
	lt::settings_pack sp;
	sp.set_int(lt::settings_pack::hashing_threads, threads);
	lt::error_code ec;
	lt::set_piece_hashes(ct, parent, sp, lt::posix_disk_io_constructor,
			     [](lt::piece_index_t) {}, ec);
	if (ec) {
		err = "hashing failed: " + ec.message();
		return false;
	}
	return true;
}

} // namespace

extern "C" int lts_make_torrent(const struct lts_make *m, unsigned char **out,
				size_t *out_len, char **err)
{
	*out = nullptr;
	*out_len = 0;
	try {
		std::string parent, msg;
		std::vector<lts_file> files;
		if (!lts_make_check(m, msg)
		    || !lts_list_files(m->path, parent, files, msg)) {
			lts_set_err(err, msg);
			return -1;
		}
		lt::file_storage fs;
		int64_t total = 0;
		for (lts_file const &f : files) {
			fs.add_file(f.rel, f.size);
			total += f.size;
		}
		if (total == 0) {
			lts_set_err(err, std::string(m->path)
					 + ": nothing to share (all files are empty)");
			return -1;
		}
		int ps = m->piece_size ? m->piece_size : lts_auto_piece_size(total);
		/* v1: no "attr" keys and no pad files, so the info dict is
		 * exactly mktorrent's (length/files, name, piece length, pieces,
		 * private) and so is the info-hash. */
		lt::create_flags_t flags = {};
		if (m->version == 1)
			flags = lt::create_torrent::v1_only | lt::create_torrent::no_attributes;
		else if (m->version == 2)
			flags = lt::create_torrent::v2_only;
		lt::create_torrent ct(fs, ps, flags);
		lts_make_meta(m, ct);
		if (!lts_make_hash(m, ct, parent, msg)) {
			lts_set_err(err, msg);
			return -1;
		}
		std::vector<char> buf = ct.generate_buf();
		unsigned char *mem = static_cast<unsigned char *>(malloc(buf.size()));
		if (mem == nullptr) {
			lts_set_err(err, "out of memory");
			return -1;
		}
		memcpy(mem, buf.data(), buf.size());
		*out = mem;
		*out_len = buf.size();
		return 0;
	} catch (std::exception const &e) {
		lts_set_err(err, std::string("cannot make torrent: ") + e.what());
	} catch (...) {
		lts_set_unknown(err);
	}
	return -1;
}
