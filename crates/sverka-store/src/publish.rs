//! The static publication (DESIGN.md "The log"): everything a verifier or a CDN needs, as files.
//!
//! ```text
//! PUBDIR/checkpoint                  the latest signed checkpoint, with the witnesses'
//!                                    cosignatures when `sverka serve` collected them (replaced;
//!                                    serve no-cache)
//! PUBDIR/log.vkey                    the log's verifier key (signed-note)
//! PUBDIR/tile/<L>/<N>[.p/<W>]        hash tiles (C2SP tlog-tiles v1)
//! PUBDIR/tile/entries/<N>[.p/<W>]    entry bundles
//! PUBDIR/snapshot/<N>.json           results of the first N entries (from a SnapshotSource)
//! PUBDIR/blob/<sha256>               scans and other content-addressed files
//! ```
//!
//! Every file but `checkpoint` is a pure function of the log at a size: its path names what it
//! holds (a partial tile's path carries its width). So every such file is written once: an existing
//! file with the same bytes is left alone, and one with different bytes stops the publication with
//! [`StoreError::PublishedConflict`] (that would be rewriting published history). Files are written
//! to a temporary name, synced, and renamed into place; their directories are synced before the
//! new `checkpoint` replaces the old one, last, so a reader never sees a checkpoint whose tiles are
//! not there, whatever the moment of a crash.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use sverka_tlog::root_from_tiles;
use sverka_tlog::tile::{new_tiles, Tile};

use crate::db::DbTiles;
use crate::error::StoreError;
use crate::fault::FaultPoint;
use crate::store::{entry_bundle_into, hash_tile_at, sync_dir, SignedCheckpoint, Store};

/// Computes `snapshot/<N>.json` for a checkpoint: the CLI passes one built on `sverka-tally`
/// (`snapshot(N) = tabulate(entries[0..N])`, naming the checkpoint's size and root). It must be
/// deterministic: publishing the same checkpoint twice must give the same bytes.
/// It is `Sync`: `publish` writes the snapshot on its own thread beside the log's files.
pub trait SnapshotSource: Sync {
    fn snapshot(&self, store: &Store, checkpoint: &SignedCheckpoint) -> Result<Vec<u8>, String>;

    /// The same bytes handed to `sink` in order, a piece at a time, so a snapshot of a million
    /// stations is never held whole; `sink` returns `false` to stop. By default the bytes of
    /// [`SnapshotSource::snapshot`] in one piece.
    fn write_snapshot(
        &self,
        store: &Store,
        checkpoint: &SignedCheckpoint,
        sink: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), String> {
        sink(&self.snapshot(store, checkpoint)?);
        Ok(())
    }
}

impl<F> SnapshotSource for F
where
    F: Fn(&Store, &SignedCheckpoint) -> Result<Vec<u8>, String> + Sync,
{
    fn snapshot(&self, store: &Store, checkpoint: &SignedCheckpoint) -> Result<Vec<u8>, String> {
        self(store, checkpoint)
    }
}

/// What to publish besides the log itself.
#[derive(Default)]
pub struct PublishOptions<'a> {
    /// Writes `snapshot/<N>.json` when present.
    pub snapshot: Option<&'a dyn SnapshotSource>,
}

/// What a publication did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// The published checkpoint's size.
    pub size: u64,
    /// Files created.
    pub written: u64,
    /// Files that existed with the right bytes.
    pub unchanged: u64,
    /// Bytes of the files created.
    pub bytes_written: u64,
    /// Whether `checkpoint` changed.
    pub checkpoint_replaced: bool,
}

/// Writes files under one output directory and remembers which directories to sync.
struct Writer<'a> {
    out: &'a Path,
    report: PublishReport,
    dirs: BTreeSet<PathBuf>,
}

impl Writer<'_> {
    /// Writes `relative` once: skip if identical, refuse if different.
    fn write_once(&mut self, relative: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.out.join(relative);
        match fs::read(&path) {
            Ok(existing) if existing == bytes => {
                self.report.unchanged += 1;
                return Ok(());
            }
            Ok(_) => return Err(StoreError::PublishedConflict { path }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(path, e)),
        }
        self.replace(&path, bytes)?;
        self.report.written += 1;
        self.report.bytes_written += bytes.len() as u64;
        Ok(())
    }

    /// [`Writer::write_once`] of bytes that `write` hands on in pieces (returning the source's
    /// error message): compared piece by piece with an existing file, or written piece by piece
    /// to a temporary file that is synced and renamed into place.
    fn write_once_streamed(
        &mut self,
        relative: &str,
        write: impl FnOnce(&mut dyn FnMut(&[u8]) -> bool) -> Result<(), String>,
    ) -> Result<Result<(), String>, StoreError> {
        use std::io::Read;
        let path = self.out.join(relative);
        let mut failed: Option<std::io::Error> = None;
        match fs::File::open(&path) {
            Ok(file) => {
                let mut existing = std::io::BufReader::with_capacity(1 << 20, file);
                let mut same = true;
                let mut buffer = Vec::new();
                let produced = write(&mut |piece| {
                    buffer.resize(piece.len(), 0);
                    match existing.read_exact(&mut buffer) {
                        Ok(()) => same = buffer == piece,
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => same = false,
                        Err(e) => failed = Some(e),
                    }
                    same && failed.is_none()
                });
                if let Some(e) = failed {
                    return Err(StoreError::io(path, e));
                }
                if let Err(message) = produced {
                    return Ok(Err(message));
                }
                let longer = existing.read(&mut [0u8; 1]).map_err(|e| StoreError::io(&path, e))?;
                if !same || longer > 0 {
                    return Err(StoreError::PublishedConflict { path });
                }
                self.report.unchanged += 1;
                return Ok(Ok(()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(path, e)),
        }
        let dir = path.parent().expect("published files are inside the output directory");
        if !self.dirs.contains(dir) {
            fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
            self.dirs.insert(dir.to_path_buf());
        }
        let name = path.file_name().expect("a file name").to_string_lossy();
        let temporary = dir.join(format!(".{name}.tmp"));
        let file = fs::File::create(&temporary).map_err(|e| StoreError::io(&temporary, e))?;
        let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut bytes = 0u64;
        let produced = write(&mut |piece| {
            bytes += piece.len() as u64;
            failed = file.write_all(piece).err();
            failed.is_none()
        });
        let file = match (failed, file.into_inner()) {
            (Some(e), _) => return Err(StoreError::io(&temporary, e)),
            (None, Err(e)) => return Err(StoreError::io(&temporary, e.into_error())),
            (None, Ok(file)) => file,
        };
        if let Err(message) = produced {
            drop(file);
            let _ = fs::remove_file(&temporary);
            return Ok(Err(message));
        }
        file.sync_all().map_err(|e| StoreError::io(&temporary, e))?;
        fs::rename(&temporary, &path).map_err(|e| StoreError::io(&path, e))?;
        self.report.written += 1;
        self.report.bytes_written += bytes;
        Ok(Ok(()))
    }

    /// Atomically replaces `path` by `bytes`: temporary file, fsync, rename.
    fn replace(&mut self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let dir = path.parent().expect("published files are inside the output directory");
        if !self.dirs.contains(dir) {
            fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
            self.dirs.insert(dir.to_path_buf());
        }
        let name = path.file_name().expect("a file name").to_string_lossy();
        let temporary = dir.join(format!(".{name}.tmp"));
        let mut file = fs::File::create(&temporary).map_err(|e| StoreError::io(&temporary, e))?;
        file.write_all(bytes).map_err(|e| StoreError::io(&temporary, e))?;
        file.sync_all().map_err(|e| StoreError::io(&temporary, e))?;
        fs::rename(&temporary, path).map_err(|e| StoreError::io(path, e))
    }

    /// Syncs every directory written into and their parents up to the output directory,
    /// deepest first, so every new name is durable.
    fn sync_dirs(&mut self) -> Result<(), StoreError> {
        let mut all = BTreeSet::new();
        all.insert(self.out.to_path_buf());
        for dir in std::mem::take(&mut self.dirs) {
            let mut current = Some(dir.as_path());
            while let Some(d) = current.filter(|d| d.starts_with(self.out) && *d != self.out) {
                all.insert(d.to_path_buf());
                current = d.parent();
            }
        }
        let mut dirs: Vec<PathBuf> = all.into_iter().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.iter().try_for_each(|dir| sync_dir(dir))
    }
}

impl Store {
    /// The note to publish as `checkpoint`: the witnessed one (the log's signature and the
    /// witnesses' cosignatures, [`crate::cosigned`]) when the server recorded one for this very
    /// checkpoint, otherwise the log's signed checkpoint alone.
    fn published_note(&self, checkpoint: &SignedCheckpoint) -> Result<String, StoreError> {
        let witnessed = self.cosigned(crate::cosigned::Cosigned::Latest)?;
        Ok(match witnessed {
            Some(w) if w.size == checkpoint.size && w.root == checkpoint.root => w.note,
            _ => checkpoint.note.clone(),
        })
    }

    /// The log's files: every hash tile and entry bundle of `checkpoint` (after checking that the
    /// stored tiles give its root), `log.vkey` and the blobs. Stops writing tiles and bundles
    /// when `stop` is set (the snapshot failed, and its error is the one reported).
    ///
    /// The blobs come first, right after the root is checked: each is read whole (the election
    /// definition of a million stations is 233 MB, held twice while the database hands it over),
    /// and the snapshot's replay on the other thread is then still small. Written last, they met
    /// the replay at its peak and raised `publish`'s peak memory by some 420 MiB at a million
    /// stations (BENCHMARKS.md, "Session 14 (H3)").
    ///
    /// The tiles and bundles are written by two threads, this one the first half of them (in
    /// [`new_tiles`]' order) into `writer` and `sverka-publish-log-2` the rest into `second`, each
    /// reading the store through a connection of its own: each file waits for its `fsync` before
    /// it is renamed into place, and while one thread waits the other writes. A failure on
    /// either side sets `stop`, which stops the other (and the snapshot) at its next tile.
    fn publish_log(
        &self,
        writer: &mut Writer,
        second: &mut Writer,
        checkpoint: &SignedCheckpoint,
        stop: &AtomicBool,
    ) -> Result<(), StoreError> {
        let size = checkpoint.size;
        self.with_reader(|conn| {
            let root = root_from_tiles(&DbTiles(conn), size)
                .map_err(|e| StoreError::Corrupt(format!("tiles at size {size}: {e}")))?;
            if root != checkpoint.root {
                return Err(StoreError::Corrupt(format!(
                    "the tiles give root {root} at size {size}, but {} was signed",
                    checkpoint.root
                )));
            }
            Ok(())
        })?;
        writer.write_once("log.vkey", format!("{}\n", self.verifier_key()).as_bytes())?;
        for id in self.blob_ids()? {
            let bytes = self.blob(&id)?.expect("listed blob");
            writer.write_once(&format!("blob/{id}"), &bytes)?;
        }
        let tiles = new_tiles(0, size);
        let (first, rest) = tiles.split_at(tiles.len().div_ceil(2));
        let tiles_into = |writer: &mut Writer, tiles: &[Tile], faults: bool| {
            let written = self.publish_tiles(writer, tiles, size, stop, faults);
            if written.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            written
        };
        std::thread::scope(|scope| {
            let other = match rest.is_empty() {
                true => None,
                false => Some(
                    std::thread::Builder::new()
                        .name("sverka-publish-log-2".into())
                        .spawn_scoped(scope, || tiles_into(second, rest, false))
                        .map_err(|e| StoreError::io(self.dir(), e))?,
                ),
            };
            let mine = tiles_into(writer, first, true);
            let other = match other.map(|other| other.join()) {
                None => Ok(()),
                Some(Ok(other)) => other,
                Some(Err(panic)) => std::panic::resume_unwind(panic),
            };
            mine.and(other)
        })
    }

    /// Writes `tiles` of the tree of `size` entries and the entry bundles of those at level 0,
    /// stopping early when `stop` is set; `faults`: the fault point `DuringPublish` is checked
    /// after the first tile.
    fn publish_tiles(
        &self,
        writer: &mut Writer,
        tiles: &[Tile],
        size: u64,
        stop: &AtomicBool,
        faults: bool,
    ) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            let mut bundle = Vec::new();
            for (written, tile) in tiles.iter().enumerate() {
                if stop.load(Ordering::Relaxed) {
                    // The other side failed: its error is the one reported.
                    return Ok(());
                }
                let bytes = hash_tile_at(conn, tile, size)?
                    .ok_or_else(|| StoreError::Corrupt(format!("tile {tile} is missing")))?;
                writer.write_once(&tile.path(), &bytes)?;
                if let Some(at) = tile.entry_bundle() {
                    if !entry_bundle_into(conn, at.index(), at.width(), size, &mut bundle)? {
                        return Err(StoreError::Corrupt(format!("bundle {at} is missing")));
                    }
                    writer.write_once(&at.path(), &bundle)?;
                }
                if written == 0 && faults {
                    self.faults().check(FaultPoint::DuringPublish)?;
                }
            }
            Ok(())
        })
    }

    /// Publishes the latest signed checkpoint into `out`: see the module documentation.
    ///
    /// Before writing anything it checks that the stored tiles reproduce the signed root, so
    /// nothing inconsistent is ever published.
    pub fn publish(
        &self,
        out: &Path,
        options: &PublishOptions,
    ) -> Result<PublishReport, StoreError> {
        let checkpoint = self.checkpoint()?;
        let size = checkpoint.size;
        fs::create_dir_all(out).map_err(|e| StoreError::io(out, e))?;
        let new_writer = || Writer {
            out,
            report: PublishReport { size, ..PublishReport::default() },
            dirs: BTreeSet::new(),
        };
        let mut writer = new_writer();
        let mut second = new_writer();
        // The snapshot (a replay of the whole log) is written on this thread while another
        // (`sverka-publish-log`, with `sverka-publish-log-2` for half the tiles: see
        // `publish_log`) writes the tiles and bundles: they read the store through
        // separate connections and write separate files, and both finish before the directories
        // are synced and the checkpoint replaced. A failure on either side stops the other at its
        // next piece. The replay stays on the calling thread, the one that opened the store, so
        // its tally is allocated in what the open freed (the definition's parse, a gigabyte at a
        // million stations) rather than beside it: peak memory as `sverka results`'.
        let stop = AtomicBool::new(false);
        let write_snapshot = |source: &dyn SnapshotSource| {
            let mut writer = new_writer();
            let written = writer
                .write_once_streamed(&format!("snapshot/{size}.json"), |sink| {
                    let mut stopped = false;
                    let produced = source.write_snapshot(self, &checkpoint, &mut |piece| {
                        stopped = stop.load(Ordering::Relaxed);
                        !stopped && sink(piece)
                    });
                    match produced {
                        // Never a truncated snapshot in place: stopping is a failure.
                        Ok(()) if stopped => Err("stopped: the log's files failed".into()),
                        produced => produced,
                    }
                })
                .and_then(|produced| {
                    produced.map_err(|message| StoreError::Snapshot { size, message })
                });
            if written.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            written.map(|()| writer)
        };
        let (log, snapshot) = match options.snapshot {
            None => (self.publish_log(&mut writer, &mut second, &checkpoint, &stop), None),
            Some(source) => std::thread::scope(|scope| {
                let log = std::thread::Builder::new()
                    .name("sverka-publish-log".into())
                    .spawn_scoped(scope, || {
                        let log = self.publish_log(&mut writer, &mut second, &checkpoint, &stop);
                        if log.is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                        log
                    })
                    .map_err(|e| StoreError::io(out, e))?;
                let snapshot = write_snapshot(source);
                let log = match log.join() {
                    Ok(log) => log,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                Ok::<_, StoreError>((log, Some(snapshot)))
            })?,
        };
        log?;
        let snapshot = snapshot.transpose()?;
        for other in [Some(second), snapshot].into_iter().flatten() {
            writer.report.written += other.report.written;
            writer.report.unchanged += other.report.unchanged;
            writer.report.bytes_written += other.report.bytes_written;
            writer.dirs.extend(other.dirs);
        }
        writer.sync_dirs()?;
        let note = self.published_note(&checkpoint)?;
        let path = out.join("checkpoint");
        let current = fs::read(&path).ok();
        if current.as_deref() != Some(note.as_bytes()) {
            writer.replace(&path, note.as_bytes())?;
            sync_dir(out)?;
            writer.report.checkpoint_replaced = true;
        }
        Ok(writer.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a streaming snapshot source hands its pieces to.
    type Sink<'s> = dyn FnMut(&[u8]) -> bool + 's;

    /// Hands `bytes` on in pieces of `piece` bytes, as a streaming snapshot source does.
    fn pieces(bytes: &[u8], piece: usize) -> impl FnOnce(&mut Sink) -> Result<(), String> + '_ {
        move |sink| {
            for chunk in bytes.chunks(piece) {
                if !sink(chunk) {
                    break;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn a_streamed_file_is_written_once_and_a_different_one_refused() {
        let out = tempfile::tempdir().unwrap();
        let mut writer =
            Writer { out: out.path(), report: PublishReport::default(), dirs: BTreeSet::new() };
        let bytes: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        writer.write_once_streamed("snapshot/7.json", pieces(&bytes, 999)).unwrap().unwrap();
        assert_eq!(fs::read(out.path().join("snapshot/7.json")).unwrap(), bytes);
        assert_eq!((writer.report.written, writer.report.bytes_written), (1, 40_000));

        // The same bytes in other pieces: left alone.
        writer.write_once_streamed("snapshot/7.json", pieces(&bytes, 4096)).unwrap().unwrap();
        assert_eq!((writer.report.written, writer.report.unchanged), (1, 1));

        // One byte changed, one missing at the end, one more: rewriting history, refused.
        let mut changed = bytes.clone();
        changed[30_001] ^= 1;
        let shorter = &bytes[..bytes.len() - 1];
        let mut longer = bytes.clone();
        longer.push(0);
        for other in [&changed[..], shorter, &longer[..]] {
            let refused = writer.write_once_streamed("snapshot/7.json", pieces(other, 1000));
            assert!(matches!(refused, Err(StoreError::PublishedConflict { .. })), "{refused:?}");
        }
        assert_eq!(fs::read(out.path().join("snapshot/7.json")).unwrap(), bytes);

        // A source that fails leaves no file behind.
        let failed = writer.write_once_streamed("snapshot/8.json", |sink| {
            sink(b"{\"format\"");
            Err("the log could not be replayed".to_string())
        });
        assert_eq!(failed.unwrap(), Err("the log could not be replayed".to_string()));
        let names: Vec<_> = fs::read_dir(out.path().join("snapshot"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["7.json"]);
    }
}
