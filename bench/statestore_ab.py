"""statestore_ab - how to make 10,000 torrents durable: the measurement
behind daemon/store.c's choice of SQLite (see the comment at its top).

Not part of `make bench`: run by hand, on the disk the state directory is
on (TMPDIR, default /var/tmp):  python3 bench/statestore_ab.py [N]

Each way writes N torrents (a ~400-byte meta and a ~200-byte .torrent,
like tpd's) in batches of 256, durable at the end of each batch, then
reads them all back (warm cache):
  - a file per torrent with its own fsyncs (tpd before issue 12);
  - the same files, one batch: write all, fsync each, rename, fsync dir;
  - the same with one syncfs() instead of the fsyncs;
  - SQLite, WAL, synchronous=FULL, one transaction per batch.
"""

import os, sys, time, sqlite3, tempfile, shutil
N=int(sys.argv[1]) if len(sys.argv)>1 else 10000; B=256
meta=b'{"id":1,"owner":1000,"save_path":"/srv/x","info_hash":"'+b"a"*40+b'","name":"f","paused":true,"complete":false,"download_limit":0,"upload_limit":0,"sequential":false,"labels":[],"ratio_limit":-1.0,"seed_time_limit":-1,"queue_pos":3,"ratio_waived":-1.0,"seed_time_waived":-1,"hook_done":false}'
tor=b"d8:announce30:http://127.0.0.1:9/announce4:infod6:lengthi16384e4:name10:f00001.bin12:piece lengthi16384e6:pieces20:"+b"x"*20+b"ee"
def fsyncdir(d):
    fd=os.open(d,os.O_RDONLY|os.O_DIRECTORY); os.fsync(fd); os.close(fd)
def wr(p,data,sync):
    fd=os.open(p+".tmp",os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o640); os.write(fd,data)
    if sync: os.fsync(fd)
    os.close(fd)
def per_file(d):
    for s in range(0,N,B):
        for i in range(s,min(N,s+B)):
            for ext,data in (("torrent",tor),("meta",meta)):
                p="%s/%d.%s"%(d,i,ext); wr(p,data,True); os.rename(p+".tmp",p)
        fsyncdir(d)
def batched(d, how):
    for s in range(0,N,B):
        pend=[]
        for i in range(s,min(N,s+B)):
            for ext,data in (("torrent",tor),("meta",meta)):
                p="%s/%d.%s"%(d,i,ext); wr(p,data,False); pend.append(p)
        if how=="syncfs":
            fd=os.open(d,os.O_RDONLY); os.syncfs(fd) if hasattr(os,"syncfs") else os.sync(); os.close(fd)
        else:
            for p in pend:
                fd=os.open(p+".tmp",os.O_RDONLY); os.fsync(fd); os.close(fd)
        for p in pend: os.rename(p+".tmp",p)
        fsyncdir(d)
def sq(d):
    db=sqlite3.connect(d+"/state.db",isolation_level=None)
    db.execute("pragma journal_mode=wal"); db.execute("pragma synchronous=full")
    db.execute("create table t(id integer primary key, meta blob, torrent blob)")
    for s in range(0,N,B):
        db.execute("begin")
        db.executemany("insert into t values(?,?,?)",[(i,meta,tor) for i in range(s,min(N,s+B))])
        db.execute("commit")
    db.close()
def loadfiles(d):
    n=0
    for f in os.listdir(d):
        with open(d+"/"+f,"rb") as fh: n+=len(fh.read())
def loadsq(d):
    db=sqlite3.connect(d+"/state.db"); sum(len(m)+len(t) for _,m,t in db.execute("select * from t")); db.close()
for name,fn,ld in (("per-file fsync (today)",per_file,loadfiles),("batch: write all, fsync each, rename, dir fsync",lambda d:batched(d,"each"),loadfiles),("batch: write all, syncfs, rename, dir fsync",lambda d:batched(d,"syncfs"),loadfiles),("sqlite WAL, one txn per batch",sq,loadsq)):
    d=tempfile.mkdtemp(dir=os.environ.get("TMPDIR", "/var/tmp"))
    t0=time.monotonic(); fn(d); dt=time.monotonic()-t0
    os.system("sync"); 
    t1=time.monotonic(); ld(d); lt=time.monotonic()-t1
    print("%-50s %6.2f s  %7.0f torrents/s  load(warm) %.3f s"%(name,dt,N/dt,lt),flush=True)
    shutil.rmtree(d)
