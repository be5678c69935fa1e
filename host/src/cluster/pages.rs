//! A commit as the replicated log carries it, and how a node writes one into its own copy
//! of the object's database file.
//!
//! The log carries the WAL frames a commit appended (each a page with its number, the last
//! of a commit with the database's size in pages): written at their places in the database
//! file, in order, with the file cut to each commit's size, they turn a copy of the database
//! as it was before into the database as it was after. That needs no WAL of the same
//! lineage: a node rebuilds an object from the log into a fresh file, whatever WAL the
//! writing node had.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::commit_log::{WalFrames, FRAME_HEADER};

const VERSION: u8 = 1;
const HEAD: usize = 1 + 4 + 4;

/// The bytes of a commit (or of several back to back): a version byte, the page size, the
/// length of the base file (a new object's first commit only), the base, the frames.
pub fn encode(frames: &WalFrames) -> Vec<u8> {
    let base = frames.base.as_deref().unwrap_or_default();
    let mut out = Vec::with_capacity(HEAD + base.len() + frames.frames.len());
    out.push(VERSION);
    out.extend_from_slice(&frames.page_size.to_be_bytes());
    out.extend_from_slice(&(base.len() as u32).to_be_bytes());
    out.extend_from_slice(base);
    out.extend_from_slice(&frames.frames);
    out
}

/// A snapshot: the whole database file as a commit with a base and no frames. Written into
/// an empty file it is the database; a file rebuilt from the commits before it is left as
/// it is (the base is written only into an empty file), since they made the same database.
pub fn encode_image(page_size: u32, image: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD + image.len());
    out.push(VERSION);
    out.extend_from_slice(&page_size.to_be_bytes());
    out.extend_from_slice(&(image.len() as u32).to_be_bytes());
    out.extend_from_slice(image);
    out
}

/// The page size a database file's header names (bytes 16-17; 1 means 65536).
pub fn page_size_of(image: &[u8]) -> Option<u32> {
    let raw = u16::from_be_bytes(image.get(16..18)?.try_into().ok()?) as u32;
    let size = if raw == 1 { 65536 } else { raw };
    (image.starts_with(b"SQLite format 3\0") && size.is_power_of_two() && size >= 512)
        .then_some(size)
}

/// Writes the commit in `bytes` into `file` (not synced). Errors say what was malformed;
/// nothing is written for a malformed commit.
pub fn apply(file: &File, bytes: &[u8]) -> io::Result<()> {
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a replicated commit {what}"),
        )
    };
    if bytes.len() < HEAD || bytes[0] != VERSION {
        return Err(bad("has an unknown format"));
    }
    let page_size = u32::from_be_bytes(bytes[1..5].try_into().expect("4 bytes")) as usize;
    let base_len = u32::from_be_bytes(bytes[5..9].try_into().expect("4 bytes")) as usize;
    if !page_size.is_power_of_two() || !(512..=65536).contains(&page_size) {
        return Err(bad("has an invalid page size"));
    }
    let rest = &bytes[HEAD..];
    if rest.len() < base_len || (rest.len() - base_len) % (FRAME_HEADER + page_size) != 0 {
        return Err(bad("is cut short"));
    }
    let (base, frames) = rest.split_at(base_len);
    for frame in frames.chunks(FRAME_HEADER + page_size) {
        if u32::from_be_bytes(frame[0..4].try_into().expect("4 bytes")) == 0 {
            return Err(bad("names page 0"));
        }
    }
    if !base.is_empty() && file.metadata()?.len() == 0 {
        file.write_all_at(base, 0)?;
    }
    for frame in frames.chunks(FRAME_HEADER + page_size) {
        let page = u32::from_be_bytes(frame[0..4].try_into().expect("4 bytes")) as u64;
        let size_after = u32::from_be_bytes(frame[4..8].try_into().expect("4 bytes")) as u64;
        file.write_all_at(&frame[FRAME_HEADER..], (page - 1) * page_size as u64)?;
        if size_after != 0 {
            file.set_len(size_after * page_size as u64)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(page: u32, size_after: u32, fill: u8, page_size: usize) -> Vec<u8> {
        let mut f = vec![0u8; FRAME_HEADER + page_size];
        f[0..4].copy_from_slice(&page.to_be_bytes());
        f[4..8].copy_from_slice(&size_after.to_be_bytes());
        f[FRAME_HEADER..].fill(fill);
        f
    }

    /// An empty file in a directory that lives as long as the returned guard.
    fn new_file() -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path);
        (dir, file.unwrap())
    }

    fn commit(frames: &[Vec<u8>], base: Option<Vec<u8>>) -> Vec<u8> {
        encode(&WalFrames {
            wal_header: [0; crate::commit_log::WAL_HEADER],
            page_size: 512,
            first_frame: 0,
            frames: frames.concat(),
            base,
        })
    }

    #[test]
    fn commits_write_pages_in_order_and_cut_the_file_to_each_size() {
        let (_dir, file) = new_file();
        apply(
            &file,
            &commit(
                &[frame(1, 0, 1, 512), frame(3, 3, 3, 512)],
                Some(vec![9; 512]),
            ),
        )
        .unwrap();
        assert_eq!(file.metadata().unwrap().len(), 3 * 512);
        // Page 2 was never written: zeros (the base covered page 1 only, then page 1 came).
        let mut page = vec![0u8; 512];
        file.read_exact_at(&mut page, 512).unwrap();
        assert!(page.iter().all(|&b| b == 0));
        file.read_exact_at(&mut page, 0).unwrap();
        assert!(page.iter().all(|&b| b == 1), "the frame wins over the base");
        // A later commit shrinks the database and rewrites page 1.
        apply(&file, &commit(&[frame(1, 1, 7, 512)], None)).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 512);
        file.read_exact_at(&mut page, 0).unwrap();
        assert!(page.iter().all(|&b| b == 7));
        // The base is for a new file only.
        apply(&file, &commit(&[frame(2, 2, 2, 512)], Some(vec![5; 512]))).unwrap();
        file.read_exact_at(&mut page, 0).unwrap();
        assert!(page.iter().all(|&b| b == 7));
    }

    #[test]
    fn a_snapshot_makes_an_empty_file_the_database_and_leaves_a_rebuilt_one_alone() {
        let image: Vec<u8> = (0..3 * 512).map(|i| (i / 512) as u8 + 1).collect();
        let (_dir, empty) = new_file();
        apply(&empty, &encode_image(512, &image)).unwrap();
        apply(&empty, &commit(&[frame(2, 3, 9, 512)], None)).unwrap();
        let mut back = vec![0u8; 3 * 512];
        empty.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(&back[..512], &image[..512]);
        assert!(
            back[512..1024].iter().all(|&b| b == 9),
            "a commit after the snapshot"
        );
        assert_eq!(&back[1024..], &image[1024..]);
        let (_dir, rebuilt) = new_file();
        apply(&rebuilt, &commit(&[frame(1, 1, 4, 512)], None)).unwrap();
        apply(&rebuilt, &encode_image(512, &image)).unwrap();
        assert_eq!(rebuilt.metadata().unwrap().len(), 512);
    }

    #[test]
    fn malformed_commits_are_refused_before_anything_is_written() {
        let (_dir, file) = new_file();
        let good = commit(&[frame(1, 1, 1, 512)], None);
        for bad in [
            vec![],
            vec![2; 20],
            good[..good.len() - 1].to_vec(),
            commit(&[frame(1, 0, 1, 512), frame(0, 2, 1, 512)], None),
        ] {
            let error = apply(&file, &bad).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
        }
        assert_eq!(file.metadata().unwrap().len(), 0);
    }
}
