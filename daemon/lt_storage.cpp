/*
 * lt_storage.cpp - tpd's libtorrent disk backend (a disk_interface): owns
 * every read, write, hash, check, move, rename and deletion of torrent
 * data, the descriptors of open files, and the registry of who owns which
 * torrent.
 *
 * Why: a daemon running as root must not follow a link that a patron
 * plants in a save directory, whenever it was planted (SPEC section 6).
 * So each torrent's save directory is opened with O_DIRECTORY|O_NOFOLLOW,
 * every file below it with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)
 * (beneath.c), all on disk threads that have switched to the torrent
 * owner's fsuid/fsgid/groups (access.c).  A planted link then makes the
 * job fail with ELOOP (or EXDEV), which libtorrent reports as a file error
 * of that torrent: it stops with an error, the daemon goes on.
 *
 * Threads: the disk_interface methods run on libtorrent's network thread;
 * they queue jobs and return.  LTS_DISK_THREADS disk threads run the jobs.
 * The jobs of one torrent form a strand (one thread at a time, in order),
 * so a hash sees the writes queued before it and a storage's state (open
 * descriptors, renamed files) needs no lock.  Completion handlers are
 * posted back to the session's io_context.  The owner registry is used by
 * the engine thread (lt_shim.cpp) and by the disk threads; the release
 * wait by worker threads.
 */
#include "lt_storage.hpp"

extern "C" {
#include "access.h"
#include "beneath.h"
}

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/disk_buffer_holder.hpp>
#include <libtorrent/disk_interface.hpp>
#include <libtorrent/disk_observer.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/io_context.hpp>
#include <libtorrent/session_handle.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/storage_defs.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <cerrno>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lt = libtorrent;

namespace {

/* Disk threads.  One torrent's jobs run on one thread at a time, so more
 * threads help only with several busy torrents; the machine's disks and
 * cores bound the rest. */
const int LTS_DISK_THREADS = 4;
/* Jobs a thread takes from one torrent before letting others have a turn. */
const size_t LTS_BATCH = 64;
/* Open files kept per torrent (least recently used closed first). */
const size_t LTS_MAX_OPEN_FILES = 32;
/* Descriptors kept open by every torrent together (save directories and
 * files) before idle torrents give theirs back: a quarter of what the
 * process may open, at most this many.  Without it a daemon with tens of
 * thousands of torrents holds a descriptor for each save directory and
 * runs out of them for patrons and peers. */
const size_t LTS_MAX_HELD_FDS = 1024;

/* Descriptors held in every storage's cache now (dir() and open_file()
 * add, close_file() and close_dir() take away). */
std::atomic<size_t> lts_held_fds{0};

size_t lts_held_fds_bound()
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return LTS_MAX_HELD_FDS;
	return std::min<size_t>(LTS_MAX_HELD_FDS, rl.rlim_cur / 4);
}
/* Bytes read at once when hashing a v1 piece. */
const int LTS_HASH_READ = 256 * 1024;
const int LTS_BLOCK = lt::default_block_size;
/* Files and directories are created as the owner, with the daemon's umask
 * deciding the rest, as libtorrent's own backends do. */
const mode_t LTS_FILE_MODE = 0666;
const mode_t LTS_DIR_MODE = 0777;
/* Owner of a torrent the registry does not know: nobody gets no rights. */
const uid_t LTS_NOBODY = 65534;

/* --- who owns what ------------------------------------------------------- */

struct lts_owner {
	int64_t id;
	uid_t uid;
};

/* One per process: the daemon has one session, and the worker threads that
 * wait for a release have no session at hand. */
struct lts_registry {
	std::mutex lock;
	std::condition_variable released;
	/* Keyed by the hash itself, not a string of it: two heap strings
	 * less per torrent (issue 12's memory per torrent). */
	std::unordered_map<lt::sha1_hash, lts_owner> by_hash;
	std::unordered_map<int64_t, lt::sha1_hash> hash_of;
	std::unordered_map<int64_t, int> live; /* storages alive per id */
};

lts_registry &lts_reg()
{
	static lts_registry r;
	return r;
}

/* Frees disk buffers handed to libtorrent.  Stateless and never destroyed
 * before the buffers: a handler still queued when the session's disk
 * object is gone may free its buffer at the io_context's end. */
struct lts_malloc_allocator final : lt::buffer_allocator_interface {
	void free_disk_buffer(char *b) override { free(b); }
};

lts_malloc_allocator lts_allocator;

lt::storage_error lts_error(int err, lt::file_index_t file, lt::operation_t op)
{
	lt::storage_error se;
	se.ec = lt::error_code(err, lt::system_category());
	se.file(file);
	se.operation = op;
	return se;
}

/* What a disk thread last became (access_become).  Switching costs four
 * system calls, setgroups among them, which builds new credentials: at a
 * restart that was once per torrent, although nearly every batch is the
 * same owner's as the one before it.  Only a disk thread's own loop keeps
 * one, and nothing else on that thread changes its rights, so "the same
 * ids as last time" means the thread still has them. */
struct lts_creds {
	bool set = false;
	uid_t uid = 0;
	gid_t gid = 0;
	std::vector<gid_t> groups;

	bool same(struct access_ids const *ids) const
	{
		return set && uid == ids->uid && gid == ids->gid
		       && groups.size() == static_cast<size_t>(ids->n)
		       && (ids->n == 0
			   || memcmp(groups.data(), ids->groups,
				     groups.size() * sizeof(gid_t)) == 0);
	}

	/* access_become(ids) unless the thread has them already. */
	int become(struct access_ids const *ids)
	{
		if (same(ids))
			return 0;
		set = false; /* unknown until the switch succeeds */
		if (access_become(ids) < 0)
			return -1;
		try {
			groups.assign(ids->groups, ids->groups + ids->n);
		} catch (...) {
			return 0; /* switched; only the memo is lost */
		}
		uid = ids->uid;
		gid = ids->gid;
		set = true;
		return 0;
	}
};

/* --- one torrent's storage ----------------------------------------------- */

struct lts_open_file {
	int fd;
	bool writable;
	std::list<int>::iterator lru;
};

class lts_storage {
public:
	explicit lts_storage(lt::storage_params const &p)
		: files_(p.files), save_path_(p.path)
	{
		if (p.mapped_files != nullptr)
			renamed_ = std::make_unique<lt::file_storage>(*p.mapped_files);
		lts_registry &r = lts_reg();
		std::lock_guard<std::mutex> g(r.lock);
		auto it = r.by_hash.find(p.info_hash);
		if (it != r.by_hash.end()) {
			id_ = it->second.id;
			uid_ = it->second.uid;
			r.live[id_]++;
		}
	}

	~lts_storage()
	{
		close_all();
		if (ids_loaded_)
			access_ids_free(&ids_);
		if (id_ < 0)
			return;
		lts_registry &r = lts_reg();
		std::lock_guard<std::mutex> g(r.lock);
		auto it = r.live.find(id_);
		if (it != r.live.end() && --it->second <= 0)
			r.live.erase(it);
		r.released.notify_all();
	}

	lts_storage(lts_storage const &) = delete;
	lts_storage &operator=(lts_storage const &) = delete;

	/* Disk thread: take the owner's rights (the identity is looked up once
	 * per storage, on a disk thread rather than the network thread).
	 * `now` is what the calling disk thread has (nullptr elsewhere). */
	void become_owner(struct access_ids const *daemon, lts_creds *now)
	{
		if (uid_ == daemon->uid) {
			/* The daemon's own (e.g. root's torrents): its own
			 * groups, as the thread had them at birth. */
			int rc = now ? now->become(daemon) : access_become(daemon);
			creds_errno_ = rc < 0 ? errno : 0;
			return;
		}
		if (!ids_loaded_) {
			if (access_ids_load(uid_, &ids_) < 0) {
				creds_errno_ = ENOMEM;
				return;
			}
			ids_loaded_ = true;
		}
		int rc = now ? now->become(&ids_) : access_become(&ids_);
		creds_errno_ = rc < 0 ? (errno ? errno : EPERM) : 0;
	}

	uid_t uid() const { return uid_; }
	lt::file_storage const &files() const { return files_; }

	/* --- jobs (the strand's thread) --- */

	/* Reads or writes [offset, offset+len) of a piece; pad files read as
	 * zeros and are never written.  Bytes done, or -1 with se set. */
	int rw(bool write, lt::piece_index_t piece, int offset, char *buf, int len,
	       lt::storage_error &se)
	{
		if (piece < lt::piece_index_t(0) || piece >= files_.end_piece()
		    || offset < 0 || len < 0
		    || offset + len > files_.piece_size(piece)) {
			se = lts_error(EINVAL, lt::file_index_t(-1),
				       write ? lt::operation_t::file_write
					     : lt::operation_t::file_read);
			return -1;
		}
		int done = 0;
		for (lt::file_slice const &fs : files_.map_block(piece, offset, len)) {
			int n = static_cast<int>(fs.size);
			if (files_.pad_file_at(fs.file_index)) {
				if (!write)
					memset(buf + done, 0, static_cast<size_t>(n));
				done += n;
				continue;
			}
			int fd = open_file(fs.file_index, write, se);
			if (fd < 0)
				return -1;
			int r = write ? pwrite_all(fd, buf + done, n, fs.offset)
				      : pread_all(fd, buf + done, n, fs.offset);
			if (r < 0) {
				se = lts_error(errno, fs.file_index,
					       write ? lt::operation_t::file_write
						     : lt::operation_t::file_read);
				return -1;
			}
			done += r;
			if (r < n) {
				/* The file is shorter than the torrent says: a
				 * piece not (yet) downloaded. */
				se.ec = boost::asio::error::eof;
				se.file(fs.file_index);
				se.operation = lt::operation_t::file_read;
				return -1;
			}
		}
		return done;
	}

	/* SHA-1 of the piece (v1) and/or the SHA-256 of each of its blocks
	 * (v2, into v2 which holds blocks_in_piece2 entries). */
	lt::sha1_hash hash(lt::piece_index_t piece, bool v1,
			   lt::span<lt::sha256_hash> v2, lt::storage_error &se)
	{
		lt::hasher h1;
		if (!v2.empty()) {
			/* Per block, as v2 wants; v1 (hybrid) over the same reads. */
			int const size1 = v1 ? files_.piece_size(piece) : 0;
			int const size2 = files_.piece_size2(piece);
			int const blocks2 = files_.blocks_in_piece2(piece);
			int const blocks1 = (size1 + LTS_BLOCK - 1) / LTS_BLOCK;
			std::vector<char> buf(static_cast<size_t>(LTS_BLOCK));
			for (int i = 0; i < std::max(blocks1, blocks2); i++) {
				int off = i * LTS_BLOCK;
				int len1 = v1 ? std::max(0, std::min(LTS_BLOCK, size1 - off)) : 0;
				int len2 = i < blocks2 ? std::min(LTS_BLOCK, size2 - off) : 0;
				if (rw(false, piece, off, buf.data(), std::max(len1, len2), se) < 0)
					break;
				if (len1 > 0)
					h1.update(buf.data(), len1);
				if (len2 > 0)
					v2[i] = lt::hasher256(buf.data(), len2).final();
			}
			return v1 ? h1.final() : lt::sha1_hash();
		}
		int const size = files_.piece_size(piece);
		std::vector<char> buf(static_cast<size_t>(std::min(size, LTS_HASH_READ)));
		for (int off = 0; off < size;) {
			int len = std::min(size - off, LTS_HASH_READ);
			if (rw(false, piece, off, buf.data(), len, se) < 0)
				break;
			h1.update(buf.data(), len);
			off += len;
		}
		return h1.final();
	}

	lt::sha256_hash hash2(lt::piece_index_t piece, int offset,
			      lt::storage_error &se)
	{
		int len = std::min(LTS_BLOCK, files_.piece_size2(piece) - offset);
		if (len <= 0)
			return lt::sha256_hash();
		std::vector<char> buf(static_cast<size_t>(len));
		if (rw(false, piece, offset, buf.data(), len, se) < 0)
			return lt::sha256_hash();
		return lt::hasher256(buf.data(), len).final();
	}

	/* Compares the resume data with the files on disk: a file that should
	 * hold verified pieces but is missing (or too short) asks for a full
	 * check, as libtorrent's backends do.  Empty files are made here. */
	lt::status_t check(lt::add_torrent_params const *rd, lt::storage_error &se)
	{
		bool have_any = rd != nullptr && !rd->have_pieces.none_set();
		bool any_file = false;
		lt::status_t ret = lt::status_t::no_error;
		int const plen = files_.piece_length();
		for (lt::file_index_t i : files_.file_range()) {
			if (files_.pad_file_at(i))
				continue;
			std::int64_t const size = files_.file_size(i);
			struct stat st;
			int err = stat_file(i, &st);
			if (err != ENOENT)
				any_file = true; /* a link there counts: the check fails on it */
			if (size == 0) {
				if (err == ENOENT) {
					int fd = open_file(i, true, se);
					if (fd < 0)
						return lt::status_t::fatal_disk_error;
				}
				continue;
			}
			if (!have_any)
				continue;
			std::int64_t const off = files_.file_offset(i);
			int first = static_cast<int>(off / plen);
			int last = static_cast<int>((off + size - 1) / plen);
			bool needed = false, whole = true;
			for (int p = first; p <= last && p < rd->have_pieces.size(); p++) {
				if (rd->have_pieces.get_bit(lt::piece_index_t(p)))
					needed = true;
				else
					whole = false;
			}
			if (!needed)
				continue;
			if (err != 0 || (whole && st.st_size < size)) {
				se = lts_error(err != 0 ? err : EIO, i,
					       lt::operation_t::check_resume);
				ret = lt::status_t::need_full_check;
			}
		}
		if (!have_any && any_file)
			return lt::status_t::need_full_check;
		if (ret == lt::status_t::no_error)
			se = lt::storage_error();
		return ret;
	}

	void release() { close_all(); }

	void rename(lt::file_index_t idx, std::string const &name,
		    lt::storage_error &se)
	{
		int dfd = dir(se);
		if (dfd < 0)
			return;
		std::string const from = path(idx);
		close_file(idx);
		const char *from_leaf, *to_leaf;
		int fp = beneath_parent(dfd, from.c_str(), 0, 0, &from_leaf);
		int tp = fp < 0 ? -1 : beneath_parent(dfd, name.c_str(), 1,
						       LTS_DIR_MODE, &to_leaf);
		int err = (fp < 0 || tp < 0) ? errno : 0;
		if (err == 0 && renameat(fp, from_leaf, tp, to_leaf) < 0
		    && errno != ENOENT)
			err = errno;
		if (fp >= 0)
			close(fp);
		if (tp >= 0)
			close(tp);
		if (err != 0) {
			se = lts_error(err, idx, lt::operation_t::file_rename);
			return;
		}
		if (!renamed_)
			renamed_ = std::make_unique<lt::file_storage>(files_);
		renamed_->rename_file(idx, name);
	}

	/* Unlinks every file of the torrent below the save directory, then
	 * the directories they were in once empty (a link is removed itself,
	 * never followed). */
	void remove_files(lt::storage_error &se)
	{
		close_all();
		int dfd = dir(se);
		if (dfd < 0)
			return;
		std::vector<std::string> dirs;
		for (lt::file_index_t i : files_.file_range()) {
			if (files_.pad_file_at(i))
				continue;
			std::string const rel = path(i);
			const char *leaf;
			int pfd = beneath_parent(dfd, rel.c_str(), 0, 0, &leaf);
			if (pfd >= 0) {
				if (unlinkat(pfd, leaf, 0) < 0 && errno != ENOENT && !se)
					se = lts_error(errno, i, lt::operation_t::file_remove);
				close(pfd);
			}
			for (size_t s = rel.rfind('/'); s != std::string::npos && s > 0;
			     s = rel.rfind('/', s - 1))
				dirs.push_back(rel.substr(0, s));
		}
		std::sort(dirs.begin(), dirs.end(), [](std::string const &a,
						       std::string const &b) {
			return a.size() > b.size();
		});
		dirs.erase(std::unique(dirs.begin(), dirs.end()), dirs.end());
		for (std::string const &d : dirs) {
			const char *leaf;
			int pfd = beneath_parent(dfd, d.c_str(), 0, 0, &leaf);
			if (pfd >= 0) {
				unlinkat(pfd, leaf, AT_REMOVEDIR);
				close(pfd);
			}
		}
	}

	/* Moves the files to dest (made if missing, as the owner).  Renames
	 * when on the same file system, else copies and unlinks. */
	lt::status_t move(std::string const &dest, lt::move_flags_t flags,
			  lt::storage_error &se)
	{
		/* Open files go first; close_all() also closes the save
		 * directory, which is then opened again for the move. */
		close_all();
		int sfd = dir(se);
		if (sfd < 0)
			return lt::status_t::fatal_disk_error;
		if (mkdir(dest.c_str(), LTS_DIR_MODE) < 0 && errno != EEXIST) {
			se = lts_error(errno, lt::file_index_t(-1), lt::operation_t::mkdir);
			return lt::status_t::fatal_disk_error;
		}
		int dfd = open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0) {
			se = lts_error(errno, lt::file_index_t(-1), lt::operation_t::file_open);
			return lt::status_t::fatal_disk_error;
		}
		if (flags == lt::move_flags_t::fail_if_exist) {
			for (lt::file_index_t i : files_.file_range()) {
				if (files_.pad_file_at(i))
					continue;
				int fd = beneath_open(dfd, path(i).c_str(), O_PATH, 0);
				if (fd >= 0 || errno != ENOENT) {
					if (fd >= 0)
						close(fd);
					se = lts_error(EEXIST, i, lt::operation_t::file_stat);
					close(dfd);
					return lt::status_t::file_exist;
				}
			}
		}
		for (lt::file_index_t i : files_.file_range()) {
			if (files_.pad_file_at(i))
				continue;
			int err = move_one(sfd, dfd, path(i), flags);
			if (err != 0) {
				se = lts_error(err, i, lt::operation_t::file_rename);
				close(dfd);
				return lt::status_t::fatal_disk_error;
			}
		}
		close(dfd);
		remove_empty_dirs(sfd);
		close_dir();
		save_path_ = dest;
		return lt::status_t::no_error;
	}

	std::string const &save_path() const { return save_path_; }

private:
	/* A copy: jobs may outlive libtorrent's torrent object (and its
	 * file_storage), and holding the torrent instead would let it die
	 * after the disk object it must unregister from. */
	lt::file_storage const files_;
	std::unique_ptr<lt::file_storage> renamed_;
	std::string save_path_;
	int64_t id_ = -1;
	uid_t uid_ = LTS_NOBODY;
	struct access_ids ids_ = {};
	bool ids_loaded_ = false;
	int creds_errno_ = 0;
	int dirfd_ = -1;
	std::unordered_map<int, lts_open_file> open_;
	std::list<int> lru_; /* most recently used first */

	std::string path(lt::file_index_t i) const
	{
		return renamed_ ? renamed_->file_path(i) : files_.file_path(i);
	}

	/* The save directory, opened as the owner; a link in its place (its
	 * last component) is refused. */
	int dir(lt::storage_error &se)
	{
		if (creds_errno_ != 0) {
			se = lts_error(creds_errno_, lt::file_index_t(-1),
				       lt::operation_t::file_open);
			return -1;
		}
		if (dirfd_ >= 0)
			return dirfd_;
		dirfd_ = open(save_path_.c_str(),
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dirfd_ < 0)
			se = lts_error(errno, lt::file_index_t(-1),
				       lt::operation_t::file_open);
		else
			lts_held_fds++;
		return dirfd_;
	}

	void close_dir()
	{
		if (dirfd_ >= 0) {
			close(dirfd_);
			lts_held_fds--;
		}
		dirfd_ = -1;
	}

	int stat_file(lt::file_index_t i, struct stat *st)
	{
		lt::storage_error se;
		int dfd = dir(se);
		if (dfd < 0)
			return se.ec.value();
		int fd = beneath_open(dfd, path(i).c_str(), O_RDONLY | O_NONBLOCK, 0);
		if (fd < 0)
			return errno;
		int err = fstat(fd, st) < 0 ? errno : 0;
		close(fd);
		return err;
	}

	int open_file(lt::file_index_t idx, bool write, lt::storage_error &se)
	{
		int const key = static_cast<int>(idx);
		auto it = open_.find(key);
		if (it != open_.end() && (it->second.writable || !write)) {
			lru_.splice(lru_.begin(), lru_, it->second.lru);
			return it->second.fd;
		}
		int dfd = dir(se);
		if (dfd < 0)
			return -1;
		std::string const rel = path(idx);
		/* O_NONBLOCK: a FIFO planted in a file's place must not hang a
		 * disk thread in open(); it is refused below as not regular. */
		int flags = (write ? (O_RDWR | O_CREAT) : O_RDONLY) | O_NONBLOCK;
		int fd = beneath_open(dfd, rel.c_str(), flags, LTS_FILE_MODE);
		if (fd < 0 && write && errno == ENOENT) {
			size_t slash = rel.rfind('/');
			if (slash != std::string::npos
			    && beneath_mkdirs(dfd, rel.substr(0, slash).c_str(),
					      LTS_DIR_MODE) < 0) {
				se = lts_error(errno, idx, lt::operation_t::mkdir);
				return -1;
			}
			fd = beneath_open(dfd, rel.c_str(), flags, LTS_FILE_MODE);
		}
		if (fd < 0) {
			se = lts_error(errno, idx, lt::operation_t::file_open);
			return -1;
		}
		struct stat st;
		if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
			close(fd);
			se = lts_error(EISDIR, idx, lt::operation_t::file_open);
			return -1;
		}
		if (it != open_.end())
			close_file(idx);
		while (open_.size() >= LTS_MAX_OPEN_FILES && !lru_.empty())
			close_file(lt::file_index_t(lru_.back()));
		lru_.push_front(key);
		open_[key] = lts_open_file{fd, write, lru_.begin()};
		lts_held_fds++;
		return fd;
	}

	void close_file(lt::file_index_t idx)
	{
		auto it = open_.find(static_cast<int>(idx));
		if (it == open_.end())
			return;
		close(it->second.fd);
		lts_held_fds--;
		lru_.erase(it->second.lru);
		open_.erase(it);
	}

	void close_all()
	{
		for (auto &kv : open_)
			close(kv.second.fd);
		lts_held_fds -= open_.size();
		open_.clear();
		lru_.clear();
		close_dir();
	}

	static int pread_all(int fd, char *buf, int len, std::int64_t off)
	{
		int done = 0;
		while (done < len) {
			ssize_t r = pread(fd, buf + done, static_cast<size_t>(len - done),
					  off + done);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -1;
			if (r == 0)
				break;
			done += static_cast<int>(r);
		}
		return done;
	}

	static int pwrite_all(int fd, char const *buf, int len, std::int64_t off)
	{
		int done = 0;
		while (done < len) {
			ssize_t r = pwrite(fd, buf + done, static_cast<size_t>(len - done),
					   off + done);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -1;
			done += static_cast<int>(r);
		}
		return done;
	}

	/* One file from below sfd to below dfd; 0 or an errno. */
	static int move_one(int sfd, int dfd, std::string const &rel,
			    lt::move_flags_t flags)
	{
		const char *sleaf, *dleaf;
		int sp = beneath_parent(sfd, rel.c_str(), 0, 0, &sleaf);
		if (sp < 0)
			return errno == ENOENT ? 0 : errno;
		int dp = beneath_parent(dfd, rel.c_str(), 1, LTS_DIR_MODE, &dleaf);
		if (dp < 0) {
			int e = errno;
			close(sp);
			return e;
		}
		int err = 0;
		struct stat st;
		bool exists = fstatat(dp, dleaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (exists && flags == lt::move_flags_t::dont_replace) {
			unlinkat(sp, sleaf, 0);
		} else if (renameat(sp, sleaf, dp, dleaf) < 0) {
			if (errno == EXDEV)
				err = copy_one(sp, sleaf, dp, dleaf);
			else if (errno != ENOENT)
				err = errno;
		}
		close(sp);
		close(dp);
		return err;
	}

	/* Across file systems: copy (no link followed on either side), then
	 * unlink the source. */
	static int copy_one(int sp, const char *sleaf, int dp, const char *dleaf)
	{
		int in = beneath_open(sp, sleaf, O_RDONLY, 0);
		if (in < 0)
			return errno;
		int out = beneath_open(dp, dleaf, O_WRONLY | O_CREAT | O_TRUNC,
				       LTS_FILE_MODE);
		if (out < 0) {
			int e = errno;
			close(in);
			return e;
		}
		std::vector<char> buf(1 << 20);
		int err = 0;
		for (std::int64_t off = 0;; ) {
			int r = pread_all(in, buf.data(), static_cast<int>(buf.size()), off);
			if (r < 0) {
				err = errno;
				break;
			}
			if (r == 0)
				break;
			if (pwrite_all(out, buf.data(), r, off) < 0) {
				err = errno;
				break;
			}
			off += r;
		}
		close(in);
		close(out);
		if (err == 0)
			unlinkat(sp, sleaf, 0);
		return err;
	}

	void remove_empty_dirs(int sfd)
	{
		std::vector<std::string> dirs;
		for (lt::file_index_t i : files_.file_range()) {
			std::string const rel = path(i);
			for (size_t s = rel.rfind('/'); s != std::string::npos && s > 0;
			     s = rel.rfind('/', s - 1))
				dirs.push_back(rel.substr(0, s));
		}
		std::sort(dirs.begin(), dirs.end(), [](std::string const &a,
						       std::string const &b) {
			return a.size() > b.size();
		});
		for (std::string const &d : dirs) {
			const char *leaf;
			int pfd = beneath_parent(sfd, d.c_str(), 0, 0, &leaf);
			if (pfd >= 0) {
				unlinkat(pfd, leaf, AT_REMOVEDIR);
				close(pfd);
			}
		}
	}
};

using lts_job = std::function<void(lts_storage &)>;

/* A storage and its strand of jobs (guarded by the disk object's lock).
 * A list, not a deque: libstdc++'s deque allocates 576 bytes even empty,
 * and almost every torrent's strand is empty almost always (5.6 MiB of
 * 10,000 idle torrents, measured with massif). */
struct lts_slot {
	explicit lts_slot(std::unique_ptr<lts_storage> s) : st(std::move(s)) {}
	std::unique_ptr<lts_storage> st;
	std::list<lts_job> jobs;
	bool scheduled = false;
};

/* --- the disk object ----------------------------------------------------- */

class lts_disk_io final : public lt::disk_interface {
public:
	lts_disk_io(lt::io_context &ioc, lt::settings_interface const &sett)
		: ioc_(ioc), sett_(sett)
	{
		/* On the session's thread, which has the daemon's identity; the
		 * disk threads take it back from here after acting for others. */
		if (access_ids_load(geteuid(), &daemon_ids_) < 0)
			throw std::bad_alloc();
		settings_updated();
		try {
			for (int i = 0; i < LTS_DISK_THREADS; i++)
				threads_.emplace_back([this] { run(); });
		} catch (...) {
			abort(true);
			throw;
		}
	}

	~lts_disk_io() override
	{
		abort(true);
		access_ids_free(&daemon_ids_);
	}

	lt::storage_holder new_torrent(lt::storage_params const &p,
				       std::shared_ptr<void> const &) override
	{
		auto slot = std::make_shared<lts_slot>(
			std::make_unique<lts_storage>(p));
		lt::storage_index_t idx;
		if (free_.empty()) {
			idx = lt::storage_index_t(static_cast<int>(slots_.size()));
			slots_.push_back(slot);
		} else {
			idx = free_.back();
			free_.pop_back();
			slots_[static_cast<size_t>(static_cast<int>(idx))] = slot;
		}
		return lt::storage_holder(idx, *this);
	}

	void remove_torrent(lt::storage_index_t idx) override
	{
		/* Queued jobs keep the slot (and so the storage) alive: it is
		 * destroyed, and its release announced, after the last one. */
		slots_[static_cast<size_t>(static_cast<int>(idx))].reset();
		free_.push_back(idx);
	}

	void async_read(lt::storage_index_t storage, lt::peer_request const &r,
			std::function<void(lt::disk_buffer_holder, lt::storage_error const &)> handler,
			lt::disk_job_flags_t) override
	{
		queue(storage, [this, r, h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			char *buf = static_cast<char *>(malloc(static_cast<size_t>(std::max(r.length, 1))));
			if (buf == nullptr) {
				se = lts_error(ENOMEM, lt::file_index_t(-1),
					       lt::operation_t::alloc_cache_piece);
			} else if (st.rw(false, r.piece, r.start, buf, r.length, se) < 0) {
				free(buf);
				buf = nullptr;
			}
			/* Held by a shared_ptr so that a handler never run (the
			 * session ending) still frees the buffer. */
			auto holder = std::make_shared<lt::disk_buffer_holder>(
				lts_allocator, buf, buf ? r.length : 0);
			boost::asio::post(ioc_, [h = std::move(h), holder, se] {
				h(std::move(*holder), se);
			});
		});
	}

	bool async_write(lt::storage_index_t storage, lt::peer_request const &r,
			 char const *buf, std::shared_ptr<lt::disk_observer> o,
			 std::function<void(lt::storage_error const &)> handler,
			 lt::disk_job_flags_t) override
	{
		/* libtorrent's buffer is its own once we return: copy it. */
		std::vector<char> data(buf, buf + std::max(r.length, 0));
		bool full;
		{
			std::lock_guard<std::mutex> g(lock_);
			queued_bytes_ += r.length;
			full = queued_bytes_ > max_queued_;
			if (full) {
				observers_.push_back(std::move(o));
				exceeded_ = true;
			}
		}
		queue(storage, [this, r, d = std::move(data),
				h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			st.rw(true, r.piece, r.start, const_cast<char *>(d.data()),
			      r.length, se);
			boost::asio::post(ioc_, [h = std::move(h), se] { h(se); });
			wrote(r.length);
		});
		return full;
	}

	void async_hash(lt::storage_index_t storage, lt::piece_index_t piece,
			lt::span<lt::sha256_hash> v2, lt::disk_job_flags_t flags,
			std::function<void(lt::piece_index_t, lt::sha1_hash const &,
					   lt::storage_error const &)> handler) override
	{
		bool v1 = bool(flags & lt::disk_interface::v1_hash);
		queue(storage, [this, piece, v2, v1, h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			lt::sha1_hash hash = st.hash(piece, v1, v2, se);
			boost::asio::post(ioc_, [h = std::move(h), piece, hash, se] { h(piece, hash, se); });
		});
	}

	void async_hash2(lt::storage_index_t storage, lt::piece_index_t piece,
			 int offset, lt::disk_job_flags_t,
			 std::function<void(lt::piece_index_t, lt::sha256_hash const &,
					    lt::storage_error const &)> handler) override
	{
		queue(storage, [this, piece, offset, h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			lt::sha256_hash hash = st.hash2(piece, offset, se);
			boost::asio::post(ioc_, [h = std::move(h), piece, hash, se] { h(piece, hash, se); });
		});
	}

	void async_move_storage(lt::storage_index_t storage, std::string p,
				lt::move_flags_t flags,
				std::function<void(lt::status_t, std::string const &,
						   lt::storage_error const &)> handler) override
	{
		queue(storage, [this, p, flags, h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			lt::status_t ret = st.move(p, flags, se);
			std::string path = st.save_path();
			boost::asio::post(ioc_, [h = std::move(h), ret, path, se] { h(ret, path, se); });
		});
	}

	void async_release_files(lt::storage_index_t storage,
				 std::function<void()> handler) override
	{
		queue(storage, [this, h = std::move(handler)](lts_storage &st) mutable {
			st.release();
			if (h)
				boost::asio::post(ioc_, std::move(h));
		});
	}

	void async_check_files(lt::storage_index_t storage,
			       lt::add_torrent_params const *resume_data,
			       lt::aux::vector<std::string, lt::file_index_t>,
			       std::function<void(lt::status_t, lt::storage_error const &)> handler) override
	{
		/* The resume data lives until the handler runs (libtorrent's
		 * backends read it on their threads too). */
		queue(storage, [this, resume_data, h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			lt::status_t ret = st.check(resume_data, se);
			boost::asio::post(ioc_, [h = std::move(h), ret, se] { h(ret, se); });
		});
	}

	void async_stop_torrent(lt::storage_index_t storage,
				std::function<void()> handler) override
	{
		async_release_files(storage, std::move(handler));
	}

	void async_rename_file(lt::storage_index_t storage, lt::file_index_t idx,
			       std::string name,
			       std::function<void(std::string const &, lt::file_index_t,
						  lt::storage_error const &)> handler) override
	{
		queue(storage, [this, idx, name, h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			st.rename(idx, name, se);
			boost::asio::post(ioc_, [h = std::move(h), name, idx, se] { h(name, idx, se); });
		});
	}

	void async_delete_files(lt::storage_index_t storage, lt::remove_flags_t options,
				std::function<void(lt::storage_error const &)> handler) override
	{
		bool files = bool(options & lt::session_handle::delete_files);
		queue(storage, [this, files, h = std::move(handler)](lts_storage &st) mutable {
			lt::storage_error se;
			if (files)
				st.remove_files(se);
			else
				st.release();
			boost::asio::post(ioc_, [h = std::move(h), se] { h(se); });
		});
	}

	void async_set_file_priority(lt::storage_index_t storage,
				     lt::aux::vector<lt::download_priority_t, lt::file_index_t> prio,
				     std::function<void(lt::storage_error const &,
							lt::aux::vector<lt::download_priority_t, lt::file_index_t>)> handler) override
	{
		/* No part file: pieces shared with a skipped file are written
		 * into that file, as with libtorrent's sparse files. */
		queue(storage, [this, prio, h = std::move(handler)](lts_storage &) mutable {
			boost::asio::post(ioc_, [h = std::move(h), prio] { h(lt::storage_error(), prio); });
		});
	}

	void async_clear_piece(lt::storage_index_t storage, lt::piece_index_t index,
			       std::function<void(lt::piece_index_t)> handler) override
	{
		/* The strand already orders it after the piece's writes. */
		queue(storage, [this, index, h = std::move(handler)](lts_storage &) mutable {
			boost::asio::post(ioc_, [h = std::move(h), index] { h(index); });
		});
	}

	void update_stats_counters(lt::counters &) const override {}

	std::vector<lt::open_file_state> get_status(lt::storage_index_t) const override
	{
		return {};
	}

	void abort(bool wait) override
	{
		/* libtorrent still stops its torrents (and waits for their
		 * handlers) after abort(false): the threads stay until the
		 * final abort(true), which lets them finish every queued job. */
		if (!wait)
			return;
		{
			std::lock_guard<std::mutex> g(lock_);
			stopping_ = true;
		}
		wake_.notify_all();
		for (std::thread &t : threads_)
			if (t.joinable())
				t.join();
		threads_.clear();
		slots_.clear();
		free_.clear();
	}

	void submit_jobs() override {}

	void settings_updated() override
	{
		int max = sett_.get_int(lt::settings_pack::max_queued_disk_bytes);
		std::lock_guard<std::mutex> g(lock_);
		max_queued_ = std::max(max, 1024 * 1024);
	}

private:
	lt::io_context &ioc_;
	lt::settings_interface const &sett_;
	/* Network thread only. */
	std::vector<std::shared_ptr<lts_slot>> slots_;
	std::vector<lt::storage_index_t> free_;
	/* Shared with the disk threads. */
	std::mutex lock_;
	std::condition_variable wake_;
	std::deque<std::shared_ptr<lts_slot>> ready_;
	bool stopping_ = false;
	std::int64_t queued_bytes_ = 0;
	std::int64_t max_queued_ = 64 * 1024 * 1024;
	bool exceeded_ = false;
	std::vector<std::shared_ptr<lt::disk_observer>> observers_;
	std::vector<std::thread> threads_;
	struct access_ids daemon_ids_ = {};
	/* While jobs are queued or running, the io_context is told there is
	 * work coming: else the network thread may run out of handlers and
	 * stop (at shutdown) before a job posts its own, which would then
	 * never run and free the torrent after this object. */
	using lts_work = boost::asio::executor_work_guard<lt::io_context::executor_type>;
	std::unique_ptr<lts_work> work_;
	std::int64_t outstanding_ = 0;
	/* lts_held_fds above this: idle torrents close their descriptors. */
	size_t const held_bound_ = lts_held_fds_bound();

	void queue(lt::storage_index_t storage, lts_job job)
	{
		size_t const i = static_cast<size_t>(static_cast<int>(storage));
		std::shared_ptr<lts_slot> slot = i < slots_.size() ? slots_[i] : nullptr;
		if (!slot)
			return; /* libtorrent never asks for a removed storage */
		bool wake = false;
		{
			std::unique_lock<std::mutex> g(lock_);
			if (stopping_) {
				/* No thread is left: run it here, as its owner. */
				g.unlock();
				slot->st->become_owner(&daemon_ids_, nullptr);
				try {
					job(*slot->st);
				} catch (...) {
				}
				access_become(&daemon_ids_);
				return;
			}
			slot->jobs.push_back(std::move(job));
			if (outstanding_++ == 0)
				work_ = std::make_unique<lts_work>(ioc_.get_executor());
			if (!slot->scheduled) {
				slot->scheduled = true;
				ready_.push_back(std::move(slot));
				wake = true;
			}
		}
		if (wake)
			wake_.notify_one();
	}

	/* Back under the queue's bound: peers that were told to wait may
	 * send again. */
	void wrote(int len)
	{
		std::vector<std::shared_ptr<lt::disk_observer>> obs;
		{
			std::lock_guard<std::mutex> g(lock_);
			queued_bytes_ -= len;
			if (exceeded_ && queued_bytes_ <= max_queued_ / 2) {
				exceeded_ = false;
				obs.swap(observers_);
			}
		}
		if (!obs.empty())
			boost::asio::post(ioc_, [obs] {
				for (auto const &o : obs)
					if (o)
						o->on_disk();
			});
	}

	/* A disk thread: one strand's batch at a time, as its owner. */
	void run()
	{
		lts_creds now;
		for (;;) {
			std::shared_ptr<lts_slot> slot;
			std::vector<lts_job> batch;
			{
				std::unique_lock<std::mutex> g(lock_);
				wake_.wait(g, [this] { return stopping_ || !ready_.empty(); });
				if (ready_.empty())
					return; /* stopping, and every job done */
				slot = std::move(ready_.front());
				ready_.pop_front();
				while (!slot->jobs.empty() && batch.size() < LTS_BATCH) {
					batch.push_back(std::move(slot->jobs.front()));
					slot->jobs.pop_front();
				}
			}
			slot->st->become_owner(&daemon_ids_, &now);
			for (lts_job &job : batch) {
				try {
					job(*slot->st);
				} catch (...) {
					/* out of memory in a job: its handler is
					 * lost, the thread and the rest go on */
				}
			}
			std::unique_lock<std::mutex> g(lock_);
			/* Every handler of the batch is posted by now. */
			outstanding_ -= static_cast<std::int64_t>(batch.size());
			if (outstanding_ == 0)
				work_.reset();
			batch.clear();
			if (slot->jobs.empty() && lts_held_fds > held_bound_) {
				/* Idle while the torrents together hold too many
				 * descriptors: this one gives its own back, still
				 * on its strand, so no job of it can be using
				 * them. */
				g.unlock();
				slot->st->release();
				g.lock();
			}
			if (!slot->jobs.empty())
				ready_.push_back(std::move(slot));
			else
				slot->scheduled = false;
		}
	}
};

} // namespace

std::unique_ptr<lt::disk_interface> lts_storage_constructor(
	lt::io_context &ioc, lt::settings_interface const &sett, lt::counters &)
{
	return std::make_unique<lts_disk_io>(ioc, sett);
}

bool lts_storage_owner(lt::sha1_hash const &ih, int64_t id, uid_t uid)
{
	lts_registry &r = lts_reg();
	std::lock_guard<std::mutex> g(r.lock);
	if (r.by_hash.count(ih) != 0)
		return false;
	r.by_hash[ih] = lts_owner{id, uid};
	r.hash_of[id] = ih;
	return true;
}

void lts_storage_forget(int64_t id)
{
	lts_registry &r = lts_reg();
	std::lock_guard<std::mutex> g(r.lock);
	auto it = r.hash_of.find(id);
	if (it == r.hash_of.end())
		return;
	auto bit = r.by_hash.find(it->second);
	if (bit != r.by_hash.end() && bit->second.id == id)
		r.by_hash.erase(bit);
	r.hash_of.erase(it);
}

extern "C" int lts_storage_wait_released(int64_t id, int timeout_ms)
{
	try {
		lts_registry &r = lts_reg();
		std::unique_lock<std::mutex> g(r.lock);
		bool ok = r.released.wait_for(g, std::chrono::milliseconds(timeout_ms),
					      [&r, id] { return r.live.count(id) == 0; });
		return ok ? 0 : -1;
	} catch (...) {
		return -1;
	}
}
