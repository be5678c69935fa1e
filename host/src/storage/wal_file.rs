//! Reading an object's WAL file as SQLite lays it out (<https://sqlite.org/fileformat2.html#walformat>),
//! for what SQLite itself does not tell: which commits the file holds, and where the part
//! known durable ends. Used only when a WAL fsync has failed (`fail_stop.rs`), so it reads the
//! file with plain `std::fs` and favours clarity over speed.
//!
//! A WAL is a 32-byte header and frames of a 24-byte header plus one page. The header carries
//! two salts, which change each time the WAL restarts from its beginning; a frame is valid
//! when its salts match the header's and its checksum continues the running checksum of the
//! header and the frames before it. A frame whose `nTruncate` field is not 0 ends a commit.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

const HEADER: usize = 32;
const FRAME_HEADER: usize = 24;
const MAGIC_LITTLE: u32 = 0x377f_0682;
const MAGIC_BIG: u32 = 0x377f_0683;

/// The salts of a WAL generation: frames of another generation are not part of the log.
pub type Salt = [u8; 8];

/// What a WAL file holds: its generation, and the frame number (1-based) of every valid
/// commit frame, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WalContents {
    pub salt: Option<Salt>,
    pub page_size: u32,
    pub commits: Vec<u32>,
}

/// The salts of the WAL at `path`, if it has a valid header (a cheap read of 32 bytes).
pub fn read_salt(path: &Path) -> io::Result<Option<Salt>> {
    let mut header = [0u8; HEADER];
    match File::open(path) {
        Ok(mut file) => match file.read_exact(&mut header) {
            Ok(()) => Ok(parse_header(&header).map(|(salt, _, _)| salt)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the whole WAL at `path` and lists its valid commits.
pub fn read(path: &Path) -> io::Result<WalContents> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(WalContents::default()),
        Err(e) => return Err(e),
    };
    Ok(parse(&bytes))
}

fn parse_header(header: &[u8]) -> Option<(Salt, u32, bool)> {
    let magic = u32::from_be_bytes(header[0..4].try_into().ok()?);
    let big_endian = match magic {
        MAGIC_LITTLE => false,
        MAGIC_BIG => true,
        _ => return None,
    };
    let page_size = u32::from_be_bytes(header[8..12].try_into().ok()?);
    // A page size of 1 stands for 65,536.
    let page_size = if page_size == 1 { 65_536 } else { page_size };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return None;
    }
    let sum = checksum(big_endian, (0, 0), &header[..24]);
    let stored = (
        u32::from_be_bytes(header[24..28].try_into().ok()?),
        u32::from_be_bytes(header[28..32].try_into().ok()?),
    );
    if sum != stored {
        return None;
    }
    Some((header[16..24].try_into().ok()?, page_size, big_endian))
}

fn parse(bytes: &[u8]) -> WalContents {
    let Some(header) = bytes.get(..HEADER) else {
        return WalContents::default();
    };
    let Some((salt, page_size, big_endian)) = parse_header(header) else {
        return WalContents::default();
    };
    let stored_sum = |at: usize| {
        (
            u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")),
            u32::from_be_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")),
        )
    };
    let mut running = stored_sum(24);
    let frame_len = FRAME_HEADER + page_size as usize;
    let mut commits = Vec::new();
    let mut offset = HEADER;
    let mut frame = 0u32;
    while offset + frame_len <= bytes.len() {
        let head = &bytes[offset..offset + FRAME_HEADER];
        if head[8..16] != salt {
            break;
        }
        let sum = checksum(big_endian, running, &head[..8]);
        let sum = checksum(
            big_endian,
            sum,
            &bytes[offset + FRAME_HEADER..offset + frame_len],
        );
        if sum != stored_sum(offset + 16) {
            break;
        }
        running = sum;
        frame += 1;
        if head[4..8] != [0, 0, 0, 0] {
            commits.push(frame);
        }
        offset += frame_len;
    }
    WalContents {
        salt: Some(salt),
        page_size,
        commits,
    }
}

/// SQLite's WAL checksum: over 32-bit words taken two at a time, in the byte order the magic
/// number names. Returns the new running sums.
fn checksum(big_endian: bool, (mut s1, mut s2): (u32, u32), data: &[u8]) -> (u32, u32) {
    let word = |chunk: &[u8]| {
        let bytes: [u8; 4] = chunk.try_into().expect("4 bytes");
        if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        }
    };
    for pair in data.chunks_exact(8) {
        s1 = s1.wrapping_add(word(&pair[..4])).wrapping_add(s2);
        s2 = s2.wrapping_add(word(&pair[4..])).wrapping_add(s1);
    }
    (s1, s2)
}

/// Cuts the WAL at `path` to its first `frames` frames (0: to nothing, so the database
/// file alone is the object's state) and makes that durable.
pub fn truncate(path: &Path, frames: u32, page_size: u32) -> io::Result<()> {
    let len = if frames == 0 {
        0
    } else {
        HEADER as u64 + u64::from(frames) * (FRAME_HEADER as u64 + u64::from(page_size))
    };
    let file = match File::options().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    file.set_len(len)?;
    file.sync_all()
}
