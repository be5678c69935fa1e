//! Command-line errors in the one-line form of every other `wdo` error:
//! `wdo: error: <what clap found> (see --help)`, exit code 2. Help and version go to stdout
//! as clap prints them.

use std::process::ExitCode;

/// Prints `error` and answers the exit code.
pub fn report(error: clap::Error) -> ExitCode {
    if !error.use_stderr() {
        // --help, --version.
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    eprintln!("wdo: error: {} (see --help)", one_line(&error.to_string()));
    ExitCode::from(2)
}

/// Clap's message without its usage section, on one line.
fn one_line(text: &str) -> String {
    let message = text
        .split("\n\nUsage:")
        .next()
        .unwrap_or(text)
        .split("\n\nFor more information")
        .next()
        .unwrap_or(text);
    let message = message.trim().strip_prefix("error: ").unwrap_or(message);
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn clap_messages_become_one_line_without_the_usage() {
        let text = "error: the following required arguments were not provided:\n  <KEY>\n\n\
                    Usage: wdo kv get <NAMESPACE> <OBJECT> <KEY>\n\n\
                    For more information, try '--help'.\n";
        assert_eq!(
            one_line(text),
            "the following required arguments were not provided: <KEY>"
        );
        let text = "error: invalid value '0' for '--limit <LIMIT>': 0 is not in 1..=1000\n\n\
                    For more information, try '--help'.\n";
        assert_eq!(
            one_line(text),
            "invalid value '0' for '--limit <LIMIT>': 0 is not in 1..=1000"
        );
    }
}
