//! Runtime configuration: command-line flags, each with an environment variable fallback.
//! Secrets (the database URL may hold a password) never appear in `Debug` output.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Options every subcommand shares, so `serve`, `import`, `users`, ... all work on the same
/// database (SQLite allows this while the server runs: WAL plus a busy timeout).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 200 * 1024 * 1024;
pub const DEFAULT_MAX_DECODED_SECS: u64 = 8 * 3600;
pub const DEFAULT_SHORT_CALL_MS: u64 = 5_000;
pub const DEFAULT_SESSION_HOURS: u64 = 12;
pub const DEFAULT_DRAW_INTERVAL_SECS: u64 = 600;
/// A grader must have heard this share of a call before submitting its evaluation.
pub const DEFAULT_LISTEN_REQUIRED_PERCENT: u32 = 90;
/// A poor or severe call's flag shows as overdue when the lead has not coached within this.
pub const DEFAULT_FLAG_OVERDUE_DAYS: u32 = 7;
/// The product is built for Chinese contact centers first; other centers set their zone.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

#[derive(Args, Clone)]
pub struct ConfigArgs {
    /// Folder for the SQLite database and the recordings.
    #[arg(
        long,
        global = true,
        env = "CALLGRADE_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
    /// `postgres://...` to run on PostgreSQL; without it an SQLite file in the data dir is used.
    #[arg(
        long,
        global = true,
        env = "CALLGRADE_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The contact center's time zone (IANA name): months and displayed times use it.
    #[arg(
        long,
        global = true,
        env = "CALLGRADE_TIME_ZONE",
        default_value = "Asia/Shanghai"
    )]
    pub time_zone: String,
    /// Largest accepted recording upload, in bytes.
    #[arg(long, global = true, env = "CALLGRADE_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD_BYTES)]
    pub max_upload_bytes: u64,
    /// Longest accepted decoded recording, in seconds (protects against decode bombs).
    #[arg(long, global = true, env = "CALLGRADE_MAX_DECODED_SECS", default_value_t = DEFAULT_MAX_DECODED_SECS)]
    pub max_decoded_secs: u64,
    /// Calls shorter than this are kept but marked `short_call` (misdials, not worth sampling).
    #[arg(
        long,
        global = true,
        env = "CALLGRADE_SHORT_CALL_MS",
        default_value_t = 5_000
    )]
    pub short_call_ms: u64,
    /// How many recordings are decoded at the same time (default: the number of cores).
    #[arg(long, global = true, env = "CALLGRADE_DECODE_WORKERS")]
    pub decode_workers: Option<usize>,
    /// Session lifetime in hours.
    #[arg(
        long,
        global = true,
        env = "CALLGRADE_SESSION_HOURS",
        default_value_t = 12
    )]
    pub session_hours: u64,
    /// Mark the session cookie `Secure` (set this when served over HTTPS; implied by an
    /// https `--public-url`).
    #[arg(long, global = true, env = "CALLGRADE_SECURE_COOKIE")]
    pub secure_cookie: bool,
    /// The address people open the app at, e.g. `https://qa.example.com`. Behind a reverse
    /// proxy this is what browsers call the app's origin: state changes must come from it.
    /// An https address makes the session cookie `Secure` with the `__Host-` prefix.
    #[arg(long, global = true, env = "CALLGRADE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Seconds between background draws of the sampling plans (new calls join the open
    /// weeks' provisional picks; closed weeks freeze into graders' queues).
    #[arg(long, global = true, env = "CALLGRADE_DRAW_INTERVAL_SECS", default_value_t = DEFAULT_DRAW_INTERVAL_SECS)]
    pub draw_interval_secs: u64,
    /// Share of a call (percent) a grader must have listened to before submitting.
    #[arg(long, global = true, env = "CALLGRADE_LISTEN_REQUIRED_PERCENT", default_value_t = DEFAULT_LISTEN_REQUIRED_PERCENT, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub listen_required_percent: u32,
    /// Days a team lead has to coach a flagged (poor or severe) call before it is overdue.
    #[arg(long, global = true, env = "CALLGRADE_FLAG_OVERDUE_DAYS", default_value_t = DEFAULT_FLAG_OVERDUE_DAYS)]
    pub flag_overdue_days: u32,
    /// URL that receives every notification event as a JSON POST (published, appeal filed,
    /// decided or overdue, acknowledgements missing, evaluation corrected).
    #[arg(long, global = true, env = "CALLGRADE_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Behind a reverse proxy: the request header that carries the client's address (e.g.
    /// `X-Forwarded-For`; its first address is used). Without it the connection's address
    /// counts, which behind a proxy is the proxy's for everyone.
    #[arg(long, global = true, env = "CALLGRADE_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
}

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub time_zone: chrono_tz::Tz,
    pub max_upload_bytes: u64,
    pub max_decoded_secs: u64,
    pub short_call_ms: u64,
    pub decode_workers: usize,
    pub session_ttl: Duration,
    pub secure_cookie: bool,
    /// `host[:port]` of `--public-url`, the origin state changes must come from; without
    /// it, the request's own `Host`.
    pub public_host: Option<String>,
    /// Time between background draws of the open sampling plans (the first runs at start,
    /// to catch up after downtime). `None` runs none: whoever embeds the app draws itself.
    pub draw_interval: Option<Duration>,
    /// Share of a call (0..=1) a grader must have heard before submitting.
    pub listen_required: f64,
    pub flag_overdue_days: u32,
    pub webhook_url: Option<String>,
    /// The header naming the client's address behind a proxy (lower-case), if any.
    pub client_ip_header: Option<String>,
    pub clock: crate::clock::Clock,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<hidden>"),
            )
            .field("time_zone", &self.time_zone)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("max_decoded_secs", &self.max_decoded_secs)
            .field("short_call_ms", &self.short_call_ms)
            .field("decode_workers", &self.decode_workers)
            .field("session_ttl", &self.session_ttl)
            .field("secure_cookie", &self.secure_cookie)
            .field("draw_interval", &self.draw_interval)
            .field("listen_required", &self.listen_required)
            .field("flag_overdue_days", &self.flag_overdue_days)
            .field("webhook_url", &self.webhook_url.as_ref().map(|_| "<set>"))
            .field("clock", &self.clock)
            .finish()
    }
}

impl Config {
    pub fn from_args(args: &ConfigArgs) -> anyhow::Result<Config> {
        let time_zone: chrono_tz::Tz = args
            .time_zone
            .parse()
            .map_err(|_| anyhow::anyhow!("unknown time zone {:?}", args.time_zone))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let webhook_url = args.webhook_url.clone().filter(|u| !u.trim().is_empty());
        // The HTTP client is built without TLS (the receiver is expected inside the center's
        // network); an https URL would fail on every delivery, so it is refused at start.
        if let Some(url) = webhook_url.as_ref().filter(|u| !u.starts_with("http://")) {
            anyhow::bail!(
                "--webhook-url must be an http:// URL (https is not supported; use a relay inside the network): {url:?}"
            );
        }
        let public = args
            .public_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(parse_public_url)
            .transpose()?;
        Ok(Config {
            data_dir: args.data_dir.clone(),
            database_url: args.database_url.clone().filter(|u| !u.is_empty()),
            time_zone,
            max_upload_bytes: args.max_upload_bytes,
            max_decoded_secs: args.max_decoded_secs,
            short_call_ms: args.short_call_ms,
            decode_workers: args.decode_workers.unwrap_or(cores).max(1),
            session_ttl: Duration::from_secs(args.session_hours.max(1) * 3600),
            secure_cookie: args.secure_cookie || public.as_ref().is_some_and(|(https, _)| *https),
            public_host: public.map(|(_, host)| host),
            draw_interval: Some(Duration::from_secs(args.draw_interval_secs.max(1))),
            listen_required: f64::from(args.listen_required_percent) / 100.0,
            flag_overdue_days: args.flag_overdue_days,
            webhook_url,
            client_ip_header: args
                .client_ip_header
                .as_deref()
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase),
            clock: crate::clock::Clock::system(),
        })
    }

    /// Defaults for a given data folder (tests, benchmark), ignoring the environment.
    pub fn for_data_dir(data_dir: PathBuf, database_url: Option<String>) -> Config {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Config {
            data_dir,
            database_url,
            time_zone: chrono_tz::Asia::Shanghai,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            max_decoded_secs: DEFAULT_MAX_DECODED_SECS,
            short_call_ms: DEFAULT_SHORT_CALL_MS,
            decode_workers: cores,
            session_ttl: Duration::from_secs(DEFAULT_SESSION_HOURS * 3600),
            secure_cookie: false,
            public_host: None,
            draw_interval: Some(Duration::from_secs(DEFAULT_DRAW_INTERVAL_SECS)),
            listen_required: f64::from(DEFAULT_LISTEN_REQUIRED_PERCENT) / 100.0,
            flag_overdue_days: DEFAULT_FLAG_OVERDUE_DAYS,
            webhook_url: None,
            client_ip_header: None,
            clock: crate::clock::Clock::system(),
        }
    }
}

/// (https?, `host[:port]`) of a public URL such as `https://qa.example.com/`.
fn parse_public_url(url: &str) -> anyhow::Result<(bool, String)> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        anyhow::bail!("--public-url must start with http:// or https://: {url:?}");
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') {
        anyhow::bail!(
            "--public-url must be the app's address without a path, e.g. https://qa.example.com: {url:?}"
        );
    }
    Ok((https, host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_give_the_scheme_and_the_host() {
        assert_eq!(
            parse_public_url("https://QA.example.com/").expect("valid"),
            (true, "qa.example.com".to_string())
        );
        assert_eq!(
            parse_public_url("http://10.0.0.5:8080").expect("valid"),
            (false, "10.0.0.5:8080".to_string())
        );
        assert!(parse_public_url("qa.example.com").is_err());
        assert!(parse_public_url("https://qa.example.com/callgrade").is_err());
        assert!(parse_public_url("https://").is_err());
    }
}
