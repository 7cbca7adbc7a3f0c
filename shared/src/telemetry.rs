//! Logging setup of the Lambda binaries.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};

/// Lambda's advanced logging controls, as the runtime's own subscriber reads them: the level from
/// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (`info`, or per target: `warn,shared=debug`), JSON
/// lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (the template sets it). No timestamps: CloudWatch
/// stamps every line. The runtime's invocation span puts the request id on each line.
pub fn init_lambda() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).ok();
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let subscriber =
        tracing_subscriber::fmt().with_target(false).without_time().with_ansi(false).with_max_level(LevelFilter::TRACE);
    let filter = log_filter(level.as_deref());
    use tracing_subscriber::layer::SubscriberExt;
    let result = if format.eq_ignore_ascii_case("json") {
        tracing::subscriber::set_global_default(subscriber.json().finish().with(filter))
    } else {
        tracing::subscriber::set_global_default(subscriber.finish().with(filter))
    };
    // Already set (a test, or a second call): the first subscriber stays.
    let _ = result;
}

/// `info`, `DEBUG` or `warn,shared=debug`; anything unreadable means `info`, never a crash.
fn log_filter(setting: Option<&str>) -> Targets {
    let setting = setting.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("info");
    Targets::from_str(&setting.to_ascii_lowercase()).unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn levels_as_lambda_and_rust_log_write_them() {
        let default = log_filter(None);
        assert!(default.would_enable("shared", &Level::INFO));
        assert!(!default.would_enable("shared", &Level::DEBUG));

        let upper = log_filter(Some("DEBUG"));
        assert!(upper.would_enable("anything", &Level::DEBUG));

        let per_target = log_filter(Some("warn,shared=debug"));
        assert!(per_target.would_enable("shared::http", &Level::DEBUG));
        assert!(!per_target.would_enable("hyper", &Level::INFO));

        let garbage = log_filter(Some("=?!"));
        assert!(garbage.would_enable("shared", &Level::INFO));
        assert!(!garbage.would_enable("shared", &Level::DEBUG));
    }
}
