//! Typed configuration: one struct per section, a default for every key, TOML on disk.
//! Command-line flags override the file; `logtui config` prints the effective result.

use crate::limits::Limits;
pub use crate::store::StoreConfig;
pub use crate::tui::keymap::KeysConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub mod route;
pub use route::{RouteConfig, RouteMatch};

/// Everything logtui can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The SQLite store. Default: `logtui.db` under the XDG data dir.
    pub db: PathBuf,
    pub listen: ListenConfig,
    pub limits: Limits,
    pub store: StoreConfig,
    pub record: RecordConfig,
    pub redis: RedisConfig,
    pub ui: UiConfig,
    /// `[[route]]` rules: forward matching records, or drop them before storing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteConfig>,
}

/// The Redis source: one server (or `off`), the pub/sub channels and the lists it reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]HOST:PORT[/DB]`, `rediss://…` for TLS, or `off`.
    pub url: String,
    /// Channels or glob patterns to subscribe to (`logs:*` covers `logs:global` and every job).
    pub channels: Vec<String>,
    /// Sharded channels to subscribe to (SSUBSCRIBE), by exact name: a Redis Cluster only.
    /// Sharded pub/sub has no patterns; each channel is read from the node owning its slot.
    pub shard_channels: Vec<String>,
    /// Lists to consume, as Logbook's `RedisHandler` fills them: `KEY` (its default `RPUSH`)
    /// or `KEY:lpush` / `KEY:rpush` to name the producer's push side.
    pub list_keys: Vec<String>,
}

/// The Redis server logtui reads by default: the local one, where a developer's service is.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Smarter's job channels and `logs:global`.
pub const DEFAULT_REDIS_CHANNELS: &str = "logs:*";

impl RedisConfig {
    /// The URL to connect to, or `None` when the source is off.
    pub fn enabled(&self) -> Option<&str> {
        let u = self.url.trim();
        (!u.is_empty() && !u.eq_ignore_ascii_case("off")).then_some(u)
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: DEFAULT_REDIS_URL.into(),
            channels: vec![DEFAULT_REDIS_CHANNELS.into()],
            shard_channels: Vec::new(),
            list_keys: Vec::new(),
        }
    }
}

/// Where the listeners bind. Each is `ADDR`, or `off`; TCP also takes `unix:/path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    pub tcp: String,
    pub udp: String,
    pub http: String,
    /// `user:password` that HTTPHandler's `credentials` must match; empty means no check.
    pub http_auth: String,
    /// Most TCP (or Unix-socket) connections served at once.
    pub tcp_max_connections: usize,
    /// Once the listener is full, most of them one peer (an IPv4 address, an IPv6 /64, or all
    /// Unix-socket clients) may keep: past it, its connections give way to other peers' first.
    pub tcp_max_per_peer: usize,
    /// Most HTTP connections served at once.
    pub http_max_connections: usize,
    /// The same share for HTTP.
    pub http_max_per_peer: usize,
    /// Seconds without a complete frame or request after which a connection gives way to a
    /// new one when its listener (or its peer) is full.
    pub idle_after: f64,
}

/// `logtui record` behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordConfig {
    /// After SIGINT/SIGTERM, how long open connections may keep sending, in seconds.
    pub drain_timeout: f64,
    /// Print a stats line this often, in seconds; 0 means never.
    pub stats_interval: f64,
    /// Write every stored record to stdout as JSON lines.
    pub echo: bool,
}

/// The interactive UI (`logtui`, `view`, `demo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// The theme at start: a builtin (default-dark, light, high-contrast, gruvbox-dark,
    /// solarized-dark) or the stem of a file in `$XDG_CONFIG_HOME/logtui/themes/`.
    pub theme: String,
    /// How the time column shows times at start (`T` cycles them).
    pub time: TimeMode,
    /// Key overrides: `action = ["key", …]` replaces that action's default keys.
    pub keys: KeysConfig,
}

/// How the time column shows a record's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeMode {
    /// Local wall-clock time.
    Local,
    Utc,
    /// How long ago, relative to now.
    Relative,
}

impl TimeMode {
    /// The next mode in the order `T` visits them.
    pub fn next(self) -> TimeMode {
        match self {
            TimeMode::Local => TimeMode::Utc,
            TimeMode::Utc => TimeMode::Relative,
            TimeMode::Relative => TimeMode::Local,
        }
    }
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            theme: crate::tui::theme::DEFAULT_THEME.into(),
            time: TimeMode::Local,
            keys: KeysConfig::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db: default_db_path(),
            listen: ListenConfig::default(),
            limits: Limits::default(),
            store: StoreConfig::default(),
            record: RecordConfig::default(),
            redis: RedisConfig::default(),
            ui: UiConfig::default(),
            route: Vec::new(),
        }
    }
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            tcp: "127.0.0.1:9020".into(),
            udp: "127.0.0.1:9021".into(),
            http: "127.0.0.1:9022".into(),
            http_auth: String::new(),
            tcp_max_connections: crate::source::tcp::MAX_CONNECTIONS,
            tcp_max_per_peer: crate::source::tcp::MAX_PER_PEER,
            http_max_connections: crate::source::http::MAX_CONNECTIONS,
            http_max_per_peer: crate::source::http::MAX_PER_PEER,
            idle_after: crate::source::tcp::IDLE_AFTER.as_secs_f64(),
        }
    }
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            drain_timeout: 5.0,
            stats_interval: 0.0,
            echo: false,
        }
    }
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("config file {path}: {source}")]
    Invalid { path: PathBuf, source: Invalid },
}

/// One setting whose value logtui cannot use, named by its key in the file (`store.flush_interval`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct Invalid {
    pub key: String,
    pub why: String,
}

impl Invalid {
    /// The command-line flag that sets this key, when there is one.
    pub fn flag(&self) -> Option<&'static str> {
        FLAGS.iter().find(|(k, _)| *k == self.key).map(|(_, f)| *f)
    }
}

/// Config keys and the flags that override them (see `cli::ListenArgs::apply`).
const FLAGS: [(&str, &str); 14] = [
    ("listen.tcp", "--tcp"),
    ("listen.udp", "--udp"),
    ("listen.http", "--http"),
    ("listen.http_auth", "--http-auth"),
    ("limits.max_frame", "--max-frame"),
    ("store.buffer_size", "--buffer-size"),
    ("store.flush_level", "--flush-level"),
    ("store.flush_interval", "--flush-interval"),
    ("record.drain_timeout", "--drain-timeout"),
    ("record.stats_interval", "--stats-interval"),
    ("redis.url", "--redis"),
    ("redis.channels", "--channel"),
    ("redis.shard_channels", "--shard-channel"),
    ("redis.list_keys", "--list-key"),
];

/// The longest span any seconds setting of `record` may have (a day): keeps `Duration`
/// conversions finite whatever a config file says.
pub const MAX_SECONDS: f64 = 86_400.0;

impl Config {
    /// Loads `path`, or the default file if it exists, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (default_config_path(), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let cfg: Config = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.clone(),
            source: Box::new(source),
        })?;
        // Checked here, so `logtui config` refuses what `record` would refuse.
        cfg.validate()
            .map_err(|source| ConfigError::Invalid { path, source })?;
        Ok(cfg)
    }

    /// Checks every value logtui would otherwise refuse only when it uses it: levels,
    /// seconds, counts, listener addresses, credentials, the theme and the keys.
    pub fn validate(&self) -> Result<(), Invalid> {
        let bad = |key: &str, why: String| Invalid {
            key: key.to_owned(),
            why,
        };
        // The store's own rules (levels, seconds, thresholds) are read in one place.
        crate::store::check_config(&self.store).map_err(|e| match e {
            crate::store::StoreError::Config { key, why } => bad(&format!("store.{key}"), why),
            other => bad("store", other.to_string()),
        })?;
        for (key, n) in [
            ("store.buffer_size", self.store.buffer_size),
            ("store.queue_batches", self.store.queue_batches),
            ("limits.max_frame", self.limits.max_frame),
            (
                "listen.tcp_max_connections",
                self.listen.tcp_max_connections,
            ),
            ("listen.tcp_max_per_peer", self.listen.tcp_max_per_peer),
            (
                "listen.http_max_connections",
                self.listen.http_max_connections,
            ),
            ("listen.http_max_per_peer", self.listen.http_max_per_peer),
        ] {
            if n == 0 {
                return Err(bad(key, "must be at least 1, not 0".into()));
            }
        }
        for (key, v) in [
            ("record.drain_timeout", self.record.drain_timeout),
            ("record.stats_interval", self.record.stats_interval),
            ("listen.idle_after", self.listen.idle_after),
        ] {
            if !(0.0..=MAX_SECONDS).contains(&v) {
                return Err(bad(
                    key,
                    format!("must be between 0 and {MAX_SECONDS} seconds, not {v}"),
                ));
            }
        }
        for (key, v, unix) in [
            ("listen.tcp", &self.listen.tcp, true),
            ("listen.udp", &self.listen.udp, false),
            ("listen.http", &self.listen.http, false),
        ] {
            check_listen_addr(v, unix).map_err(|why| bad(key, why))?;
        }
        if let Some(url) = self.redis.enabled() {
            // The redis crate's own parser, so what is accepted here is what connects; a
            // cluster URL is checked as its seed node's.
            let seed = crate::source::redis::cluster_seed(url);
            redis::parse_redis_url(seed.as_deref().unwrap_or(url)).ok_or_else(|| {
                bad(
                    "redis.url",
                    format!(
                        "{url:?} is not a Redis URL (redis://HOST:PORT[/DB], rediss://…, redis+cluster://SEED) or off"
                    ),
                )
            })?;
            if seed.is_some() && !self.redis.list_keys.is_empty() {
                return Err(bad(
                    "redis.list_keys",
                    "lists are not consumed from a Redis Cluster yet; give a single server's URL for --list-key".into(),
                ));
            }
        }
        if let Some(c) = self.redis.channels.iter().find(|c| c.trim().is_empty()) {
            return Err(bad(
                "redis.channels",
                format!("{c:?}: a channel name or pattern cannot be empty"),
            ));
        }
        check_shard_channels(&self.redis).map_err(|why| bad("redis.shard_channels", why))?;
        for k in &self.redis.list_keys {
            let key = match k.rsplit_once(':') {
                Some((key, side))
                    if side.eq_ignore_ascii_case("lpush") || side.eq_ignore_ascii_case("rpush") =>
                {
                    key
                }
                _ => k.as_str(),
            };
            if key.is_empty() {
                return Err(bad(
                    "redis.list_keys",
                    format!("{k:?}: a list key cannot be empty"),
                ));
            }
        }
        route::check_routes(&self.route, &self.listen.tcp).map_err(|(k, why)| bad(&k, why))?;
        let auth = &self.listen.http_auth;
        if !auth.is_empty() && !auth.contains(':') {
            return Err(bad(
                "listen.http_auth",
                "must be user:password (or empty for no check)".into(),
            ));
        }
        // A builtin theme is known without reading the disk; a user theme must load.
        let themes = crate::tui::theme::user_theme_dir();
        crate::tui::theme::check_name(&self.ui.theme, themes.as_deref())
            .map_err(|e| bad("ui.theme", e.to_string()))?;
        crate::tui::keymap::KeyMap::from_config(&self.ui.keys).map_err(|e| match e {
            crate::tui::keymap::KeyMapError::Conflict { .. } => bad("ui.keys", e.to_string()),
            _ => bad(&format!("ui.keys.{}", e.action()), e.to_string()),
        })?;
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// Sharded channels need a cluster, exact names (SSUBSCRIBE has no patterns) and a name not
/// also given as a plain channel (each confirmation is matched by name). A Redis 7 single
/// server takes SSUBSCRIBE too, and delivers SPUBLISH only to it, but redis-rs's
/// `ConnectionManager` (the single-server subscriber, which resubscribes after a reconnect) has
/// no SSUBSCRIBE, and a raw one would be neither confirmed nor resubscribed.
fn check_shard_channels(r: &RedisConfig) -> Result<(), String> {
    if r.shard_channels.is_empty() {
        return Ok(());
    }
    if r.enabled()
        .and_then(crate::source::redis::cluster_seed)
        .is_none()
    {
        return Err("sharded channels are read from a Redis Cluster only (give a redis+cluster://SEED URL); on a single server, have the publishers PUBLISH and use --channel".into());
    }
    for c in &r.shard_channels {
        if c.trim().is_empty() {
            return Err(format!("{c:?}: a sharded channel name cannot be empty"));
        }
        if crate::source::redis_dedupe::is_pattern(c) {
            return Err(format!(
                "{c:?} is a glob pattern, and sharded channels have no patterns (SSUBSCRIBE takes exact names); name each channel"
            ));
        }
        if r.channels.contains(c) {
            return Err(format!(
                "{c:?} is given both as a channel and as a sharded channel; give it once, as the kind its publishers use (PUBLISH or SPUBLISH)"
            ));
        }
    }
    Ok(())
}

/// A listener address must be `off`, `HOST:PORT` (a name or an IP, with a port number) or,
/// for TCP, `unix:/path`; the bind itself reports what the network refuses.
fn check_listen_addr(v: &str, unix: bool) -> Result<(), String> {
    let v = v.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") {
        return Ok(());
    }
    if let Some(path) = v.strip_prefix("unix:") {
        return match (unix, path.is_empty()) {
            (false, _) => Err(format!("{v:?}: only the tcp listener takes unix:/path")),
            (true, true) => Err("unix: needs a socket path, as in unix:/tmp/logtui.sock".into()),
            (true, false) => Ok(()),
        };
    }
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(format!(
            "{v:?} is not HOST:PORT (for example 127.0.0.1:9020) or off"
        )),
    }
}

/// `$XDG_CONFIG_HOME/logtui/config.toml`.
pub fn default_config_path() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("logtui")
        .join("config.toml")
}

/// `$XDG_DATA_HOME/logtui/logtui.db`.
pub fn default_db_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("logtui")
        .join("logtui.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let c = Config::default();
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Config>("[store]\nbuffer_sise = 3\n").is_err());
        let c: Config = toml::from_str("[store]\nbuffer_size = 3\n").unwrap();
        assert_eq!(c.store.buffer_size, 3);
        assert_eq!(c.listen.tcp, "127.0.0.1:9020");
    }

    #[test]
    fn validation_names_the_key_and_its_flag() {
        assert_eq!(Config::default().validate(), Ok(()));
        let mut c = Config::default();
        c.store.flush_interval = -1.0;
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "store.flush_interval");
        assert_eq!(e.flag(), Some("--flush-interval"));
        let mut c = Config::default();
        c.listen.udp = "9021".into();
        assert_eq!(c.validate().unwrap_err().key, "listen.udp");
        c.listen.udp = "[::1]:9021".into();
        assert_eq!(c.validate(), Ok(()));
        c.listen.tcp = "unix:/tmp/x.sock".into();
        c.record.drain_timeout = f64::NAN;
        assert_eq!(c.validate().unwrap_err().key, "record.drain_timeout");
        let mut c = Config::default();
        c.store.thresholds.insert("LOUD".into(), 1);
        assert_eq!(c.validate().unwrap_err().key, "store.thresholds");
    }

    #[test]
    fn sharded_channels_need_a_cluster_exact_names_and_one_kind() {
        let mut c = Config::default();
        c.redis.shard_channels = vec!["logs:job_1".into()];
        let e = c.validate().unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.flag()),
            ("redis.shard_channels", Some("--shard-channel"))
        );
        assert!(e.why.contains("Redis Cluster only"), "{}", e.why);
        c.redis.url = "redis+cluster://127.0.0.1:7000".into();
        assert_eq!(c.validate(), Ok(()));
        c.redis.shard_channels.push("logs:job_?".into());
        assert!(c.validate().unwrap_err().why.contains("no patterns"));
        c.redis.shard_channels = vec![" ".into()];
        assert!(c.validate().unwrap_err().why.contains("cannot be empty"));
        c.redis.shard_channels = vec!["logs:global".into()];
        c.redis.channels = vec!["logs:global".into()];
        assert!(c.validate().unwrap_err().why.contains("both as a channel"));
        let t: Config = toml::from_str(
            "[redis]\nurl = \"redis+cluster://h:7000\"\nshard_channels = [\"logs:a\"]\n",
        )
        .unwrap();
        assert_eq!(t.redis.shard_channels, ["logs:a"]);
    }

    #[test]
    fn the_redis_section_is_checked_by_the_redis_crate() {
        let mut c = Config::default();
        assert_eq!(c.redis.enabled(), Some(DEFAULT_REDIS_URL));
        c.redis.url = "rediss://user:pw@example.com:6380/2".into();
        assert_eq!(c.validate(), Ok(()));
        c.redis.url = "http://example.com".into();
        let e = c.validate().unwrap_err();
        assert_eq!((e.key.as_str(), e.flag()), ("redis.url", Some("--redis")));
        c.redis.url = "redis+cluster://127.0.0.1:7000".into();
        assert_eq!(c.validate(), Ok(()));
        c.redis.list_keys = vec!["q".into()];
        assert_eq!(c.validate().unwrap_err().key, "redis.list_keys");
        c.redis.list_keys.clear();
        c.redis.url = "OFF".into();
        assert_eq!((c.redis.enabled(), c.validate()), (None, Ok(())));
        c.redis.list_keys = vec!["redis".into(), "q:lpush".into()];
        assert_eq!(c.validate(), Ok(()));
        c.redis.list_keys = vec![":rpush".into()];
        assert_eq!(c.validate().unwrap_err().key, "redis.list_keys");
        c.redis.list_keys.clear();
        c.redis.channels = vec![" ".into()];
        assert_eq!(c.validate().unwrap_err().key, "redis.channels");
    }

    #[test]
    fn the_ui_section_reads_theme_time_and_keys() {
        let c: Config = toml::from_str(
            "[ui]\ntheme = \"light\"\ntime = \"relative\"\n[ui.keys]\nsearch = [\"ctrl-s\"]\n",
        )
        .unwrap();
        assert_eq!(c.ui.theme, "light");
        assert_eq!(c.ui.time, TimeMode::Relative);
        assert_eq!(c.ui.keys[&crate::tui::keymap::Action::Search], ["ctrl-s"]);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(TimeMode::Relative.next(), TimeMode::Local);
        let e = toml::from_str::<Config>("[ui]\ntime = \"utc+2\"\n").unwrap_err();
        assert!(e.message().contains("utc+2"), "{e}");
        let e = toml::from_str::<Config>("[ui.keys]\nqiut = [\"x\"]\n").unwrap_err();
        assert!(e.message().contains("did you mean quit?"), "{e}");
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn a_bad_theme_or_key_names_its_key() {
        let mut c = Config::default();
        c.ui.theme = "no-such-theme".into();
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "ui.theme");
        assert!(
            e.why.contains("default-dark, light, high-contrast"),
            "{}",
            e.why
        );
        let mut c = Config::default();
        c.ui.keys
            .insert(crate::tui::keymap::Action::Filter, vec!["hyper-f".into()]);
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "ui.keys.filter");
        assert!(
            e.why.contains("\"hyper-f\" (for filter) is not a key"),
            "{}",
            e.why
        );
        let mut c = Config::default();
        c.ui.keys
            .insert(crate::tui::keymap::Action::Filter, vec!["q".into()]);
        let e = c.validate().unwrap_err();
        assert_eq!(e.key, "ui.keys");
        assert_eq!(
            e.why,
            "the key q is bound to both quit and filter; give one of them other keys"
        );
    }
}
