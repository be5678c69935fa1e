//! Why a command failed, and the exit code that tells a script which kind of failure it was.

/// A failed command. Each kind has its own exit code ([`Error::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host answered with an error status; `message` is its `{"error": ...}`.
    #[error("{message} (HTTP {status})")]
    Host { status: u16, message: String },
    /// No answer: the connection was refused, or the host did not answer in time.
    #[error("cannot reach the admin API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The command as given cannot run (a bad argument, a file in the way, no confirmation).
    #[error("{0}")]
    Usage(String),
    /// Anything else: a local file that cannot be written, an answer that makes no sense.
    #[error("{0}")]
    Failed(String),
}

/// The host failed (5xx), or something unexpected happened.
pub const EXIT_FAILED: u8 = 1;
/// A usage error (clap's own code is 2 too), or the host refused the input (400, 413, 422).
pub const EXIT_USAGE: u8 = 2;
/// No such namespace, object, key or table (404).
pub const EXIT_NOT_FOUND: u8 = 3;
/// The admin token is missing or wrong (401, 403).
pub const EXIT_UNAUTHORIZED: u8 = 4;
/// The host cannot be reached: connection refused, or no answer in time.
pub const EXIT_UNREACHABLE: u8 = 5;

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Host { status, .. } => match status {
                401 | 403 => EXIT_UNAUTHORIZED,
                404 => EXIT_NOT_FOUND,
                400..=499 => EXIT_USAGE,
                _ => EXIT_FAILED,
            },
            Error::Unreachable { .. } => EXIT_UNREACHABLE,
            Error::Usage(_) => EXIT_USAGE,
            Error::Failed(_) => EXIT_FAILED,
        }
    }

    /// A failed transfer from or to the host: unreachable if it never answered in time.
    pub fn transport(url: &str, error: &reqwest::Error) -> Error {
        let reason = innermost(error);
        if error.is_connect() || error.is_timeout() {
            Error::Unreachable {
                url: url.to_string(),
                reason,
            }
        } else {
            Error::Failed(format!("the connection to {url} failed: {reason}"))
        }
    }
}

/// The innermost cause of an error ("Connection refused (os error 111)"), which says more
/// than reqwest's outer "error sending request".
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_failure_has_its_own_exit_code() {
        let host = |status| Error::Host {
            status,
            message: String::new(),
        };
        assert_eq!(host(500).exit_code(), 1);
        assert_eq!(host(503).exit_code(), 1);
        assert_eq!(host(400).exit_code(), 2);
        assert_eq!(host(413).exit_code(), 2);
        assert_eq!(host(422).exit_code(), 2);
        assert_eq!(host(404).exit_code(), 3);
        assert_eq!(host(401).exit_code(), 4);
        assert_eq!(host(403).exit_code(), 4);
        let unreachable = Error::Unreachable {
            url: String::new(),
            reason: String::new(),
        };
        assert_eq!(unreachable.exit_code(), 5);
        assert_eq!(Error::Usage(String::new()).exit_code(), 2);
        assert_eq!(Error::Failed(String::new()).exit_code(), 1);
    }
}
