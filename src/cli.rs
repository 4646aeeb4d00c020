//! Command-line arguments. Every flag here has a config key; flags win over the file.
//! `apply` folds the flags into the typed [`Config`].

use crate::config::Config;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The heading global options go under, so each subcommand's `--help` lists its own first.
const GLOBAL: &str = "Global options";

const TOP_EXAMPLES: &str = "\
Examples:
  logtui                                 # the UI, recording as `logtui record` does
  logtui demo                            # the UI fed by a built-in generator: see it work
  logtui view --db ./app.db              # the UI over a store another logtui writes
  logtui record                          # listen on 127.0.0.1:9020 (tcp), :9021 (udp), :9022 (http)
  logtui emit --tcp 127.0.0.1:9020       # send ten synthetic records
  logtui query --since 5m --level warning
  logtui completions bash > ~/.local/share/bash-completion/completions/logtui";

const RECORD_EXAMPLES: &str = "\
Examples:
  logtui record
  logtui record --tcp unix:/tmp/logtui.sock --udp off --http off
  logtui record --http 0.0.0.0:9022 --http-auth user:secret --stats-interval 10
  logtui record --db ./app.db --echo | jq .message
  logtui record --redis redis://:pw@10.0.0.5:6379/1 --channel 'logs:*' --list-key redis
  logtui record --tcp off --udp off --http off --redis redis+cluster://10.0.0.5:7000";

const VIEW_EXAMPLES: &str = "\
Examples:
  logtui record --db ./app.db &   # a recorder writes the store…
  logtui view --db ./app.db       # …and the UI follows it";

const DEMO_EXAMPLES: &str = "\
Examples:
  logtui demo
  logtui demo --rate 2000         # a busier service";

const QUERY_EXAMPLES: &str = "\
Examples:
  logtui query --level WARNING --logger 'billing*' --since 2h
  logtui query -f --level error                 # keep printing new errors, like tail -f
  logtui query --search \"disk full\" --format jsonl
  logtui query --search=--dry-run               # a term starting with --
  logtui query --source internal                # logtui's own records: threshold alerts
  logtui query --sql \"SELECT logger, count(*) FROM records GROUP BY logger\"";

const CHANNELS_EXAMPLES: &str = "\
Examples:
  logtui channels                                # the default Redis, channels logs:*
  logtui channels --redis redis://:pw@10.0.0.5:6379/1 --channel 'app:*'
  logtui channels --sample 0 --format jsonl | jq -r 'select(.errors > 0) | .name'";

const EMIT_EXAMPLES: &str = "\
Examples:
  logtui emit --tcp 127.0.0.1:9020 --count 1000 --rate 200
  logtui emit --http 127.0.0.1:9022/log --method POST --auth user:pw
  tail -f app.log | logtui emit --udp 127.0.0.1:9021 --stdin
  python3 benches/make_frames.py frames.bin 10000 && logtui emit --tcp 127.0.0.1:9020 --replay frames.bin";

const CONFIG_EXAMPLES: &str = "\
Examples:
  logtui config > ~/.config/logtui/config.toml   # start a config file from the defaults
  logtui config --config ./mine.toml --udp off   # check a file: invalid values are refused";

#[derive(Debug, Parser)]
#[command(
    name = "logtui",
    version,
    about = "Receive Python logging records, store every one in SQLite, and watch or query them",
    after_help = TOP_EXAMPLES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Configuration file (TOML). Default: $XDG_CONFIG_HOME/logtui/config.toml if it exists.
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// The SQLite store. Default: $XDG_DATA_HOME/logtui/logtui.db.
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub db: Option<PathBuf>,
    /// More of logtui's own log on stderr (-v info, -vv debug). LOGTUI_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// With no subcommand: the UI, with `record`'s options.
    #[command(flatten)]
    pub record: RecordArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The UI over a store another process writes (read-only), following new records.
    #[command(after_help = VIEW_EXAMPLES)]
    View,
    /// The UI fed by a built-in generator through the real listeners, on free loopback ports.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Headless record mode: run the listeners and the store, no UI.
    #[command(after_help = RECORD_EXAMPLES)]
    Record(RecordArgs),
    /// Search the store.
    #[command(after_help = QUERY_EXAMPLES)]
    Query(QueryArgs),
    /// List the Redis channels, streams and lists: live rate, subscribers, stream length,
    /// records stored and last seen, from Redis and the store together.
    #[command(after_help = CHANNELS_EXAMPLES)]
    Channels(ChannelsArgs),
    /// Send synthetic or stdin records to a listener, encoded as Python's handlers do.
    #[command(after_help = EMIT_EXAMPLES)]
    Emit(EmitArgs),
    /// Print the effective configuration as TOML (refusing invalid values).
    #[command(after_help = CONFIG_EXAMPLES)]
    Config(ListenArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  logtui completions bash > ~/.local/share/bash-completion/completions/logtui\n  logtui completions zsh > ~/.zfunc/_logtui\n  logtui completions fish > ~/.config/fish/completions/logtui.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the manual page (roff).
    #[command(
        after_help = "Examples:\n  logtui man | man -l -\n  logtui man > ~/.local/share/man/man1/logtui.1"
    )]
    Man,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Records per second the generator sends.
    #[arg(long, default_value_t = 25.0)]
    pub rate: f64,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Listener addresses: `ADDR`, or `off`.
#[derive(Debug, Args, Default)]
pub struct ListenArgs {
    /// SocketHandler listener: HOST:PORT, unix:/path, or off [default: 127.0.0.1:9020]
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<String>,
    /// DatagramHandler listener: HOST:PORT or off [default: 127.0.0.1:9021]
    #[arg(long, value_name = "ADDR")]
    pub udp: Option<String>,
    /// HTTPHandler listener: HOST:PORT or off [default: 127.0.0.1:9022]
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Require HTTPHandler credentials: user:password (checked against the Basic header).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub http_auth: Option<String>,
    /// Largest frame or HTTP body accepted, in bytes [default: 16777216]
    #[arg(long, value_name = "BYTES")]
    pub max_frame: Option<usize>,
    /// Flush the store when this many records are buffered [default: 2000]
    #[arg(long, value_name = "N")]
    pub buffer_size: Option<usize>,
    /// Flush at once for records at or above this level [default: WARNING]
    #[arg(long, value_name = "LEVEL")]
    pub flush_level: Option<String>,
    /// Flush buffered records after this many seconds [default: 1]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub flush_interval: Option<f64>,
    /// Redis to read: redis://[user:pw@]HOST:PORT[/DB], rediss://… (TLS), redis+cluster://SEED,
    /// or off [default: redis://127.0.0.1:6379]
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Redis channel or glob pattern to subscribe to; repeatable [default: logs:*]
    #[arg(long = "channel", value_name = "NAME|PATTERN")]
    pub channels: Vec<String>,
    /// Redis Cluster sharded channel to subscribe to (SSUBSCRIBE, for SPUBLISH): an exact
    /// name, no patterns; repeatable; needs a redis+cluster:// URL
    #[arg(long = "shard-channel", value_name = "NAME")]
    pub shard_channels: Vec<String>,
    /// Redis list to consume (Logbook's RedisHandler): KEY, KEY:rpush or KEY:lpush, after the
    /// producer's push side [default side: rpush]; repeatable
    #[arg(long = "list-key", value_name = "KEY")]
    pub list_keys: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// After SIGINT/SIGTERM, keep reading open connections this long [default: 5]
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub drain_timeout: Option<f64>,
    /// Print a stats line to stderr every SECS seconds.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    pub stats_interval: Option<f64>,
    /// Write every stored record to stdout as JSON lines.
    #[arg(long)]
    pub echo: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Minimum level: a name (WARNING) or a number (25).
    #[arg(long, value_name = "NAME|N")]
    pub level: Option<String>,
    /// Logger name glob (app.*).
    #[arg(long, value_name = "GLOB")]
    pub logger: Option<String>,
    /// Source kind: tcp, udp, http, redis or internal (logtui's own records, such as
    /// threshold alerts, which are left out unless asked for here or with --all).
    #[arg(long, value_name = "KIND")]
    pub source: Option<String>,
    /// Include logtui's own records (threshold alerts, drop notices) with the rest.
    #[arg(long)]
    pub all: bool,
    /// Origin glob: peer address, socket path or channel (127.0.0.1:*).
    #[arg(long, value_name = "GLOB")]
    pub origin: Option<String>,
    /// Job id.
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
    /// Search message and traceback: every term must appear, case-insensitively, its words
    /// in order (`10.0.0.7`); `word*` matches a prefix. A term starting with `-` needs
    /// `--search=--term`.
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub search: Option<String>,
    /// Regular expression over message and traceback.
    #[arg(long, value_name = "RE")]
    pub regex: Option<String>,
    /// Records at or after this time: RFC 3339 or a span back from now (15m, 2h, 3d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Records before this time: RFC 3339 or a span back from now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// At most N records.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Arrival order: oldest first (asc) or newest first (desc).
    #[arg(long, value_enum, default_value = "asc")]
    pub order: Order,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Print only the number of matching records.
    #[arg(long)]
    pub count: bool,
    /// Keep printing new matching records as they are stored, like `tail -f`, until Ctrl-C.
    #[arg(short, long, conflicts_with_all = ["count", "sql"])]
    pub follow: bool,
    /// Times in UTC (the table shows local time by default; jsonl and csv are always UTC).
    #[arg(long)]
    pub utc: bool,
    /// Show multi-line messages and tracebacks whole in the table, instead of their first line.
    #[arg(long)]
    pub full: bool,
    /// Run a read-only SQL query against the store instead (table `records`).
    #[arg(long, value_name = "QUERY", conflicts_with_all = ["level", "logger", "source", "origin", "job", "search", "regex", "since", "until", "count", "limit"])]
    pub sql: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ChannelsFormat {
    Table,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ChannelsArgs {
    /// Redis to ask: redis://[user:pw@]HOST:PORT[/DB], rediss://…, redis+cluster://SEED (every
    /// primary is asked), or off (the store only) [default: redis://127.0.0.1:6379]
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Channel or glob pattern to list; repeatable [default: logs:*]
    #[arg(long = "channel", value_name = "NAME|PATTERN")]
    pub channels: Vec<String>,
    /// List key to report (KEY, KEY:rpush, KEY:lpush); repeatable.
    #[arg(long = "list-key", value_name = "KEY")]
    pub list_keys: Vec<String>,
    /// Listen this many seconds to measure each channel's live rate; 0 skips the sample.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = sample_secs)]
    pub sample: f64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ChannelsFormat,
}

/// A sample of 0 to 60 seconds: long enough to see a rate, short enough to stay a command.
fn sample_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=60.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds from 0 to 60")),
    }
}

impl ChannelsArgs {
    pub fn apply(&self, cfg: &mut Config) {
        set(&mut cfg.redis.url, &self.redis);
        if !self.channels.is_empty() {
            cfg.redis.channels = self.channels.clone();
        }
        if !self.list_keys.is_empty() {
            cfg.redis.list_keys = self.list_keys.clone();
        }
    }
}

#[derive(Debug, Args)]
pub struct EmitArgs {
    /// Send to a SocketHandler listener (HOST:PORT or unix:/path).
    #[arg(long, value_name = "ADDR", group = "target")]
    pub tcp: Option<String>,
    /// Send to a DatagramHandler listener.
    #[arg(long, value_name = "ADDR", group = "target")]
    pub udp: Option<String>,
    /// Send to an HTTPHandler listener: HOST:PORT[/path].
    #[arg(long, value_name = "ADDR", group = "target")]
    pub http: Option<String>,
    /// HTTP method, as HTTPHandler's `method`.
    #[arg(long, default_value = "GET", value_parser = ["GET", "POST"])]
    pub method: String,
    /// HTTP Basic credentials, as HTTPHandler's `credentials`.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub auth: Option<String>,
    /// How many synthetic records to send.
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Records per second; 0 sends as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Send each line of standard input as one record's message instead.
    #[arg(long)]
    pub stdin: bool,
    /// Replay a file of ready-made SocketHandler frames (TCP only), `--count` times over;
    /// `python3 benches/make_frames.py FILE N` writes one.
    #[arg(long, value_name = "FILE", conflicts_with = "stdin")]
    pub replay: Option<PathBuf>,
    /// Logger name of the records sent.
    #[arg(long, default_value = "logtui.emit")]
    pub logger: String,
    /// Level of the records sent (name or number).
    #[arg(long, default_value = "INFO")]
    pub level: String,
}

impl ListenArgs {
    /// Folds these flags into `cfg`.
    pub fn apply(&self, cfg: &mut Config) {
        let l = &mut cfg.listen;
        set(&mut l.tcp, &self.tcp);
        set(&mut l.udp, &self.udp);
        set(&mut l.http, &self.http);
        set(&mut l.http_auth, &self.http_auth);
        set(&mut cfg.limits.max_frame, &self.max_frame);
        set(&mut cfg.store.buffer_size, &self.buffer_size);
        set(&mut cfg.store.flush_level, &self.flush_level);
        set(&mut cfg.store.flush_interval, &self.flush_interval);
        set(&mut cfg.redis.url, &self.redis);
        if !self.channels.is_empty() {
            cfg.redis.channels = self.channels.clone();
        }
        if !self.shard_channels.is_empty() {
            cfg.redis.shard_channels = self.shard_channels.clone();
        }
        if !self.list_keys.is_empty() {
            cfg.redis.list_keys = self.list_keys.clone();
        }
    }
}

impl RecordArgs {
    pub fn apply(&self, cfg: &mut Config) {
        self.listen.apply(cfg);
        set(&mut cfg.record.drain_timeout, &self.drain_timeout);
        set(&mut cfg.record.stats_interval, &self.stats_interval);
        cfg.record.echo |= self.echo;
    }
}

fn set<T: Clone>(slot: &mut T, v: &Option<T>) {
    if let Some(v) = v {
        *slot = v.clone();
    }
}
