//! The bytes of the log: segment files and the records in them.
//!
//! A segment is `<log-dir>/<number, 20 digits>.log`: a 16-byte header (`WDOLOG01` and the
//! segment's number) and records, each `len: u32 | crc: u32 | body`. The checksum (CRC-32)
//! covers the segment number, the record's offset and its body, so a record read back is
//! the one written there: a torn tail, or bytes of an earlier file at that place, end the
//! segment instead of being replayed. Integers are little-endian.
//!
//! A body is `kind: u8 | namespace: u16 length + UTF-8 | object id: 32 bytes`, then for
//! frames: `wal header: 32 bytes | page size: u32 | first frame: u32 | frame count: u32 |
//! base: u32 length + bytes | frames`, each frame as SQLite wrote it to the WAL (24-byte
//! header and page); for a time marker, `Unix milliseconds: u64`.

use std::io;

pub const SEGMENT_MAGIC: &[u8; 8] = b"WDOLOG01";
pub const SEGMENT_HEADER: u64 = 16;
/// A record's `len` and `crc`.
pub const RECORD_HEADER: usize = 8;
/// Larger bodies are refused on reading (and never written: `Entry::frames_chunks` splits).
pub const MAX_BODY: usize = 64 << 20;
pub const WAL_HEADER: usize = 32;
pub const FRAME_HEADER: usize = 24;

const KIND_FRAMES: u8 = 1;
const KIND_RESET: u8 = 2;
const KIND_TIME: u8 = 3;

/// Which object a record is about: its namespace and its 32-byte id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub id: [u8; 32],
}

/// WAL frames an object committed, as SQLite wrote them: frames `first_frame ..` of the WAL
/// generation whose header is `wal_header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalFrames {
    pub wal_header: [u8; WAL_HEADER],
    pub page_size: u32,
    pub first_frame: u32,
    /// `count * (24 + page_size)` bytes.
    pub frames: Vec<u8>,
    /// The database file as it was created (its first commit only): recovery writes it if
    /// the file did not survive.
    pub base: Option<Vec<u8>>,
}

impl WalFrames {
    pub fn frame_len(&self) -> usize {
        FRAME_HEADER + self.page_size as usize
    }

    pub fn count(&self) -> u32 {
        (self.frames.len() / self.frame_len()) as u32
    }

    /// The frame number after the last one here.
    pub fn end_frame(&self) -> u32 {
        self.first_frame + self.count()
    }

    /// The WAL generation's salts (bytes 16..24 of its header).
    pub fn salt(&self) -> [u8; 8] {
        self.wal_header[16..24].try_into().expect("8 bytes")
    }
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Frames(WalFrames),
    /// The object's database file alone holds its state, durably (it was checkpointed and
    /// synced, then replaced or removed): earlier frames of the object are void.
    Reset,
    /// The wall-clock time (Unix milliseconds) at which the writer wrote the group of records
    /// that follows, until the next one (its object key is empty): what a restore to a moment
    /// goes by. Recovery skips it.
    Time(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub object: ObjectKey,
    pub body: Body,
}

pub fn segment_name(number: u64) -> String {
    format!("{number:020}.log")
}

/// The number of a segment's file name, if it is one.
pub fn segment_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub fn segment_header(number: u64) -> [u8; SEGMENT_HEADER as usize] {
    let mut header = [0u8; SEGMENT_HEADER as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..].copy_from_slice(&number.to_le_bytes());
    header
}

/// Encodes a record's body.
pub fn encode(record: &Record) -> Vec<u8> {
    let ns = record.object.namespace.as_bytes();
    let extra = match &record.body {
        Body::Frames(f) => 48 + f.base.as_ref().map_or(0, Vec::len) + f.frames.len(),
        Body::Reset => 0,
        Body::Time(_) => 8,
    };
    let mut body = Vec::with_capacity(1 + 2 + ns.len() + 32 + extra);
    body.push(match record.body {
        Body::Frames(_) => KIND_FRAMES,
        Body::Reset => KIND_RESET,
        Body::Time(_) => KIND_TIME,
    });
    body.extend_from_slice(&(ns.len() as u16).to_le_bytes());
    body.extend_from_slice(ns);
    body.extend_from_slice(&record.object.id);
    if let Body::Time(ms) = record.body {
        body.extend_from_slice(&ms.to_le_bytes());
    }
    if let Body::Frames(f) = &record.body {
        body.extend_from_slice(&f.wal_header);
        body.extend_from_slice(&f.page_size.to_le_bytes());
        body.extend_from_slice(&f.first_frame.to_le_bytes());
        body.extend_from_slice(&f.count().to_le_bytes());
        let base = f.base.as_deref().unwrap_or_default();
        body.extend_from_slice(&(base.len() as u32).to_le_bytes());
        body.extend_from_slice(base);
        body.extend_from_slice(&f.frames);
    }
    body
}

/// The checksum of a body at `offset` of segment `segment`.
pub fn checksum(segment: u64, offset: u64, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&segment.to_le_bytes());
    hasher.update(&offset.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// Appends the framed record (`len | crc | body`) at `offset` of `segment` to `out`.
pub fn frame(segment: u64, offset: u64, body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(segment, offset, body).to_le_bytes());
    out.extend_from_slice(body);
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads a body field by field.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let bytes = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| invalid("a log record ends early"))?;
        self.at += n;
        Ok(bytes)
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

/// Decodes a body (whose checksum matched).
pub fn decode(bytes: &[u8]) -> io::Result<Record> {
    let mut cursor = Cursor { bytes, at: 0 };
    let kind = cursor.take(1)?[0];
    let ns_len = u16::from_le_bytes(cursor.take(2)?.try_into().expect("2 bytes")) as usize;
    let namespace = std::str::from_utf8(cursor.take(ns_len)?)
        .map_err(|_| invalid("a log record's namespace is not UTF-8"))?
        .to_owned();
    let id: [u8; 32] = cursor.take(32)?.try_into().expect("32 bytes");
    let body = match kind {
        KIND_RESET => Body::Reset,
        KIND_TIME => Body::Time(u64::from_le_bytes(
            cursor.take(8)?.try_into().expect("8 bytes"),
        )),
        KIND_FRAMES => {
            let wal_header: [u8; WAL_HEADER] =
                cursor.take(WAL_HEADER)?.try_into().expect("32 bytes");
            let page_size = cursor.u32()?;
            let first_frame = cursor.u32()?;
            let count = cursor.u32()? as usize;
            if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
                return Err(invalid(format!(
                    "a log record's page size {page_size} is not SQLite's"
                )));
            }
            if first_frame == 0 || count == 0 {
                return Err(invalid("a log record has no frames, or starts at frame 0"));
            }
            let base_len = cursor.u32()? as usize;
            let base = cursor.take(base_len)?.to_vec();
            let frames = cursor
                .take(count * (FRAME_HEADER + page_size as usize))?
                .to_vec();
            Body::Frames(WalFrames {
                wal_header,
                page_size,
                first_frame,
                frames,
                base: (base_len > 0).then_some(base),
            })
        }
        other => return Err(invalid(format!("unknown log record kind {other}"))),
    };
    if cursor.at != bytes.len() {
        return Err(invalid("a log record has trailing bytes"));
    }
    Ok(Record {
        object: ObjectKey { namespace, id },
        body,
    })
}

/// The records of one segment's bytes, in order, and where the valid part ends. Reading
/// stops at the first record that is torn, fails its checksum or does not decode.
pub fn read_segment(number: u64, bytes: &[u8]) -> io::Result<(Vec<Record>, u64)> {
    if bytes.len() < SEGMENT_HEADER as usize || bytes[..8] != *SEGMENT_MAGIC {
        return Ok((Vec::new(), 0));
    }
    if bytes[8..16] != number.to_le_bytes() {
        return Err(invalid(format!(
            "log segment {} says it is segment {}",
            segment_name(number),
            u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"))
        )));
    }
    let mut records = Vec::new();
    let mut offset = SEGMENT_HEADER as usize;
    while let Some(head) = bytes.get(offset..offset + RECORD_HEADER) {
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        if len == 0 || len > MAX_BODY {
            break;
        }
        let Some(body) = bytes.get(offset + RECORD_HEADER..offset + RECORD_HEADER + len) else {
            break;
        };
        if checksum(number, offset as u64, body) != crc {
            break;
        }
        match decode(body) {
            Ok(record) => records.push(record),
            Err(_) => break,
        }
        offset += RECORD_HEADER + len;
    }
    Ok((records, offset as u64))
}

impl Record {
    /// The time marker of a group written at `ms` (Unix milliseconds).
    pub fn time(ms: u64) -> Record {
        Record {
            object: ObjectKey {
                namespace: String::new(),
                id: [0; 32],
            },
            body: Body::Time(ms),
        }
    }
}
