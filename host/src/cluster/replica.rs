//! The replicated commit log: one JetStream stream per cluster (`<name>`, replicated on
//! `replicas` servers), one subject per object (`<name>.log.<namespace>.<id>`).
//!
//! Every message names the epoch of the claim it was written under (`Wdo-Epoch`) and is
//! published with `Nats-Expected-Last-Subject-Sequence`: the stream takes it only if the
//! object's last message is the one its writer last saw. A new owner first appends a
//! takeover message; from then on every append of a former owner (which has not seen it)
//! is refused. That is the fencing: no writer of an older epoch can get a commit into the
//! log after a takeover, and a commit is acknowledged only once the stream has it on a
//! quorum of its servers (JetStream acknowledges a publish after its replication).
//!
//! A commit larger than a part (`PART_BYTES`) travels as several messages (`Wdo-Part: i/n`);
//! readers apply only whole commits, and a commit whose writer stopped halfway is dropped
//! when the next one (or a takeover) starts.
//!
//! A snapshot is a commit too: the whole database file as its base (`pages.rs`). Once the
//! stream holds it, the object's messages before it are purged, so that a rebuild reads the
//! snapshot and what came after, not the object's whole history.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::{self, LastRawMessageErrorKind};
use async_nats::jetstream::{self, Context};
use async_nats::HeaderMap;

/// Bytes of a commit per message (NATS servers take 1 MiB by default).
const PART_BYTES: usize = 256 << 10;

const EPOCH: &str = "Wdo-Epoch";
const KIND: &str = "Wdo-Kind";
const PART: &str = "Wdo-Part";

/// A whole entry of an object's log, as read back.
pub enum Entry {
    Commit(Vec<u8>),
    Takeover,
}

/// Why an append was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Another writer appended since: this one's epoch is over.
    #[error("the object was taken over by another node (the log refused a commit of epoch {0})")]
    Fenced(i64),
    #[error("the replicated log did not take the commit: {0}")]
    Failed(String),
}

/// The newest message of an object's log: its stream sequence and epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Last {
    pub sequence: u64,
    pub epoch: Option<i64>,
}

pub struct Log {
    js: Context,
    stream: stream::Stream,
    name: String,
}

impl Log {
    /// Connects to the NATS servers and creates the cluster's stream if it does not exist.
    pub async fn open(servers: &[String], name: &str, replicas: usize) -> anyhow::Result<Log> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_secs(5)))
            .retry_on_initial_connect()
            .connect(servers.to_vec())
            .await
            .with_context(|| format!("cannot connect to NATS at {}", servers.join(", ")))?;
        let mut js = jetstream::new(client);
        js.set_timeout(Duration::from_secs(5));
        let config = stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{name}.log.>")],
            num_replicas: replicas,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        // A JetStream cluster elects its meta leader and learns its peers after its servers
        // meet: until then creating a replicated stream fails ("no suitable peers", "JetStream
        // system temporarily unavailable"). Tried again for up to 30s; the last error is
        // the one reported.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match js.get_or_create_stream(config.clone()).await {
                Ok(stream) => break stream,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::info!("cluster: waiting for JetStream: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                    "cannot create or open the JetStream stream {name:?} with {replicas} replicas"
                )))
                }
            }
        };
        Ok(Log {
            js,
            stream,
            name: name.to_owned(),
        })
    }

    /// The subject of an object's log.
    pub fn subject(&self, namespace: &str, id: &[u8; 32]) -> String {
        format!("{}.log.{namespace}.{}", self.name, hex::encode(id))
    }

    /// The object's newest message, if it has any.
    pub async fn last(&self, subject: &str) -> anyhow::Result<Option<Last>> {
        match self.stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => Ok(Some(Last {
                sequence: message.sequence,
                epoch: epoch_of(&message.headers),
            })),
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!(
                "cannot read the replicated log of {subject}: {e}"
            )),
        }
    }

    /// Hands every whole entry after sequence `after` up to `until` to `each`, in order.
    /// Returns the sequence of the last message read.
    pub async fn read(
        &self,
        subject: &str,
        after: u64,
        until: u64,
        mut each: impl FnMut(Entry) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let mut next = after + 1;
        let mut pending = Vec::new();
        let mut expected_part = 1;
        let mut last = after;
        while next <= until {
            let message = self
                .stream
                .get_first_raw_message_by_subject(subject, next)
                .await
                .with_context(|| format!("cannot read message {next} of {subject}"))?;
            last = message.sequence;
            next = message.sequence + 1;
            let kind = message.headers.get(KIND).map(|v| v.as_str().to_owned());
            match kind.as_deref() {
                Some("takeover") => {
                    pending.clear();
                    expected_part = 1;
                    each(Entry::Takeover)?;
                }
                Some("commit") => {
                    let (part, parts) = message
                        .headers
                        .get(PART)
                        .and_then(|v| parse_part(v.as_str()))
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "message {last} of {subject} has no valid {PART} header"
                            )
                        })?;
                    if part == 1 {
                        pending.clear();
                    } else if part != expected_part {
                        // The rest of a commit whose writer stopped: never acknowledged.
                        pending.clear();
                        expected_part = 1;
                        continue;
                    }
                    pending.extend_from_slice(&message.payload);
                    if part == parts {
                        each(Entry::Commit(std::mem::take(&mut pending)))?;
                        expected_part = 1;
                    } else {
                        expected_part = part + 1;
                    }
                }
                other => {
                    anyhow::bail!("message {last} of {subject} is of an unknown kind {other:?}")
                }
            }
        }
        Ok(last)
    }

    /// Appends a commit (`Some`) or a takeover (`None`) of `epoch` after the message
    /// `expected`; returns the sequence of its last message.
    pub async fn append(
        &self,
        subject: &str,
        epoch: i64,
        mut expected: u64,
        commit: Option<&[u8]>,
    ) -> Result<u64, Refused> {
        let parts: Vec<&[u8]> = match commit {
            Some(bytes) => bytes.chunks(PART_BYTES).collect(),
            None => vec![&[]],
        };
        let count = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            let mut headers = HeaderMap::new();
            headers.insert(EPOCH, epoch.to_string().as_str());
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                expected.to_string().as_str(),
            );
            match commit {
                Some(_) => {
                    headers.insert(KIND, "commit");
                    headers.insert(PART, format!("{}/{count}", index + 1).as_str());
                }
                None => headers.insert(KIND, "takeover"),
            }
            let acked = async {
                self.js
                    .publish_with_headers(subject.to_owned(), headers, part.to_vec().into())
                    .await?
                    .await
            };
            expected = match acked.await {
                Ok(ack) => ack.sequence,
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    return Err(Refused::Fenced(epoch))
                }
                Err(e) => return Err(Refused::Failed(e.to_string())),
            };
        }
        Ok(expected)
    }
}

impl Log {
    /// Deletes the object's messages up to and including `sequence`: those before a
    /// snapshot, which a rebuild no longer needs. Returns how many went.
    pub async fn purge_through(&self, subject: &str, sequence: u64) -> anyhow::Result<u64> {
        let purged = self
            .stream
            .purge()
            .filter(subject)
            .sequence(sequence + 1)
            .await
            .with_context(|| format!("cannot purge {subject} up to message {sequence}"))?;
        Ok(purged.purged)
    }
}

fn epoch_of(headers: &HeaderMap) -> Option<i64> {
    headers.get(EPOCH)?.as_str().parse().ok()
}

/// `i/n` with 1 <= i <= n.
fn parse_part(text: &str) -> Option<(usize, usize)> {
    let (part, parts) = text.split_once('/')?;
    let (part, parts) = (part.parse().ok()?, parts.parse().ok()?);
    (1..=parts).contains(&part).then_some((part, parts))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parts_are_numbered_from_one_to_their_count() {
        assert_eq!(super::parse_part("1/1"), Some((1, 1)));
        assert_eq!(super::parse_part("3/4"), Some((3, 4)));
        for bad in ["0/1", "2/1", "1", "a/b", "1/-1", ""] {
            assert_eq!(super::parse_part(bad), None, "{bad}");
        }
    }
}
