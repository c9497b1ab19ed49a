//! File plumbing shared by every command: atomic output files, a writer
//! that hashes what it writes, CSV field quoting, and side-file names.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// An I/O error with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {error}", .path.display())]
pub struct IoError {
    /// What was being done ("cannot read", "cannot write", ...).
    pub action: &'static str,
    /// The file.
    pub path: PathBuf,
    /// The OS error (its text is part of the message, so it is not
    /// also reported as a `source`).
    pub error: io::Error,
}

impl IoError {
    /// Wraps an OS error.
    pub fn new(action: &'static str, path: &Path, error: io::Error) -> IoError {
        IoError {
            action,
            path: path.to_path_buf(),
            error,
        }
    }
}

/// `path` with `suffix` appended to its file name: `out.csv` +
/// `.manifest.json` → `out.csv.manifest.json`.
pub fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// The manifest that sits beside a data file.
pub fn manifest_path(data: &Path) -> PathBuf {
    side_file(data, ".manifest.json")
}

/// The rejects file that sits beside a data file.
pub fn rejects_path(data: &Path) -> PathBuf {
    side_file(data, ".rejects.csv")
}

/// A file written under a temporary name in the destination directory and
/// renamed into place by [`AtomicFile::commit`]. If it is dropped without
/// being committed (an error, a panic), the temporary file is removed, so
/// an interrupted run never leaves a file that looks finished.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<HashingWriter<BufWriter<File>>>,
    /// Bytes handed to the kernel and to `syncer` to sync (see
    /// [`SYNC_EVERY`]).
    synced: u64,
    /// Syncs on another thread, started when the file first grows past
    /// [`SYNC_EVERY`].
    syncer: Option<Syncer>,
}

/// A thread that syncs a file to disk each time it is asked, so that
/// writing goes on while the disk catches up (a sync of 64 MiB can take a
/// quarter of a second, and the writer used to wait for each).
struct Syncer {
    tx: std::sync::mpsc::Sender<()>,
    handle: std::thread::JoinHandle<io::Result<()>>,
}

impl Syncer {
    fn start(file: File) -> Syncer {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            while rx.recv().is_ok() {
                // Requests that came in meanwhile are served by this sync.
                while rx.try_recv().is_ok() {}
                file.sync_data()?;
            }
            Ok(())
        });
        Syncer { tx, handle }
    }

    /// Waits for the syncs asked for; the first error of any.
    fn finish(self) -> io::Result<()> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the sync thread panicked")))
    }
}

/// While a large output is written, every this many bytes are flushed to
/// disk as they come, so that the sync in [`AtomicFile::commit`] only
/// waits for the last few rather than the whole file (for a 700 MB file,
/// a quarter of a second at the end of the run on the bench machine).
const SYNC_EVERY: u64 = 64 << 20;

impl AtomicFile {
    /// Creates the temporary file for `path`.
    ///
    /// # Errors
    /// [`IoError`] if it cannot be created.
    pub fn create(path: &Path) -> Result<AtomicFile, IoError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let nonce: u32 = rand::random();
        let tmp = path.with_file_name(format!(".{name}.{}.{nonce:08x}.tmp", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            // Encoded files are pseudonymised personal data: owner-only by
            // default; widen deliberately with chmod.
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(&tmp)
            .map_err(|e| IoError::new("cannot create", &tmp, e))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            writer: Some(HashingWriter::new(BufWriter::with_capacity(1 << 20, file))),
            synced: 0,
            syncer: None,
        })
    }

    /// Has what has been written synced, on the sync thread, when
    /// [`SYNC_EVERY`] more bytes have been written since the last time.
    fn sync_progress(&mut self) -> io::Result<()> {
        let w = self.writer.as_mut().expect("not committed");
        if w.bytes - self.synced >= SYNC_EVERY {
            w.inner.flush()?;
            if self.syncer.is_none() {
                self.syncer = Some(Syncer::start(w.inner.get_ref().try_clone()?));
            }
            let syncer = self.syncer.as_ref().expect("started");
            if syncer.tx.send(()).is_err() {
                // The thread stopped on an error: report it now.
                let e = self.syncer.take().expect("started").finish();
                return Err(e.err().unwrap_or_else(|| io::Error::other("sync stopped")));
            }
            self.synced = w.bytes;
        }
        Ok(())
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.bytes)
    }

    /// Flushes, syncs and renames into place; returns the SHA-256 of the
    /// contents and their length.
    ///
    /// # Errors
    /// [`IoError`] on any failure (the temporary file is then removed).
    pub fn commit(mut self) -> Result<([u8; 32], u64), IoError> {
        if let Some(syncer) = self.syncer.take() {
            syncer
                .finish()
                .map_err(|e| IoError::new("cannot write", &self.tmp, e))?;
        }
        let w = self.writer.take().expect("not yet committed");
        let (digest, bytes, buf) = w.finish();
        let file = buf
            .into_inner()
            .map_err(|e| IoError::new("cannot write", &self.tmp, e.into_error()))?;
        file.sync_all()
            .map_err(|e| IoError::new("cannot write", &self.tmp, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| IoError::new("cannot rename into", &self.path, e))?;
        Ok((digest, bytes))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.writer.as_mut().expect("not committed").write(buf)?;
        self.sync_progress()?;
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer
            .as_mut()
            .expect("not committed")
            .write_all(buf)?;
        self.sync_progress()
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("not committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Reads a file and hashes what is read on another thread, so that
/// SHA-256 of a large file costs no time on the parsing thread (the
/// report's reading of link tables and encoded files; `link`'s loader
/// hashes the blocks it cuts instead).
pub(crate) struct TeeReader {
    file: File,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<([u8; 32], u64)>>,
}

impl TeeReader {
    pub(crate) fn new(file: File) -> TeeReader {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let hasher = std::thread::spawn(move || {
            let mut h = Sha256::new();
            let mut bytes = 0u64;
            for block in rx {
                h.update(&block);
                bytes += block.len() as u64;
            }
            (h.finalize().into(), bytes)
        });
        TeeReader {
            file,
            tx: Some(tx),
            hasher: Some(hasher),
        }
    }

    /// The SHA-256 and length of everything read.
    pub(crate) fn finish(mut self) -> ([u8; 32], u64) {
        drop(self.tx.take());
        self.hasher
            .take()
            .expect("not finished")
            .join()
            .expect("hasher thread")
    }
}

impl Read for TeeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            if let Some(tx) = &self.tx {
                // The hasher only stops when we drop the sender.
                let _ = tx.send(buf[..n].to_vec());
            }
        }
        Ok(n)
    }
}

/// Writes through to `inner`, hashing with SHA-256 and counting bytes.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The digest, the byte count, and the inner writer.
    pub fn finish(self) -> ([u8; 32], u64, W) {
        (self.hasher.finalize().into(), self.bytes, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 of a file's contents, and its length.
///
/// # Errors
/// [`IoError`] if it cannot be read.
pub fn sha256_file(path: &Path) -> Result<([u8; 32], u64), IoError> {
    let mut f = File::open(path).map_err(|e| IoError::new("cannot read", path, e))?;
    let mut w = HashingWriter::new(io::sink());
    io::copy(&mut f, &mut w).map_err(|e| IoError::new("cannot read", path, e))?;
    let (d, n, _) = w.finish();
    Ok((d, n))
}

/// Appends `field` to `out` as one CSV field, quoted (RFC 4180) when it
/// contains a comma, quote, CR or LF, or begins or ends with a space.
pub fn write_csv_field(out: &mut Vec<u8>, field: &[u8]) {
    let needs_quotes = field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || field.first() == Some(&b' ')
        || field.last() == Some(&b' ');
    if !needs_quotes {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Writes `bytes` to a new file atomically.
///
/// # Errors
/// [`IoError`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)
        .map_err(|e| IoError::new("cannot write", path, e))?;
    f.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A sync that fails on the sync thread stops it; the writer's next
    /// request finds it stopped, and `finish` gives the error. (Linux
    /// refuses to sync `/dev/null`, which stands in for a failing disk.)
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_sync_is_reported() {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        if file.sync_data().is_ok() {
            // A kernel that syncs /dev/null (some sandboxes) cannot stand in
            // for a failing disk here.
            return;
        }
        let syncer = Syncer::start(file);
        syncer.tx.send(()).unwrap();
        // The thread ends on its error and drops the receiver.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while syncer.tx.send(()).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "the sync thread did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let e = syncer.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    }

    /// A file longer than [`SYNC_EVERY`] is synced on the way and still
    /// invisible until committed, with the digest of all its bytes.
    #[test]
    fn large_file_synced_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.csv");
        let mut f = AtomicFile::create(&p).unwrap();
        let piece: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let pieces = (SYNC_EVERY >> 20) + 3;
        for _ in 0..pieces {
            f.write_all(&piece).unwrap();
        }
        assert!(f.synced >= SYNC_EVERY && f.syncer.is_some() && !p.exists());
        let (digest, n) = f.commit().unwrap();
        assert_eq!(n, pieces << 20);
        assert_eq!(sha256_file(&p).unwrap(), (digest, n));
    }

    #[test]
    fn atomic_file_is_invisible_until_commit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"a,b\n").unwrap();
        assert!(!p.exists());
        let (digest, n) = f.commit().unwrap();
        assert_eq!(n, 4);
        assert_eq!(std::fs::read(&p).unwrap(), b"a,b\n");
        assert_eq!(sha256_file(&p).unwrap(), (digest, 4));
        let mut g = AtomicFile::create(&p).unwrap();
        g.write_all(b"partial").unwrap();
        drop(g);
        assert_eq!(std::fs::read(&p).unwrap(), b"a,b\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp removed"
        );
    }

    #[test]
    fn side_files() {
        assert_eq!(
            manifest_path(Path::new("/x/out.csv")),
            PathBuf::from("/x/out.csv.manifest.json")
        );
        assert_eq!(
            rejects_path(Path::new("out.csv")),
            PathBuf::from("out.csv.rejects.csv")
        );
    }

    proptest! {
        /// Fields written by `write_csv_field` read back unchanged with the
        /// csv crate.
        #[test]
        fn csv_quoting_round_trips(fields in proptest::collection::vec("\\PC{0,8}|[,\" \r\n]{0,3}", 1..5)) {
            // A single empty field is a blank line, which CSV skips.
            prop_assume!(!(fields.len() == 1 && fields[0].is_empty()));
            let mut out = Vec::new();
            for (i, f) in fields.iter().enumerate() {
                if i > 0 { out.push(b','); }
                write_csv_field(&mut out, f.as_bytes());
            }
            out.push(b'\n');
            let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(&out[..]);
            let rec = r.records().next().unwrap().unwrap();
            let got: Vec<&str> = rec.iter().collect();
            prop_assert_eq!(got, fields.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        }
    }
}
