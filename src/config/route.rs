//! The `[[route]]` rules of the config file: which records (a match) go where (one action:
//! forward to Redis, to a SocketHandler peer, to a JSON-lines file, or drop before storing).
//!
//! The match is turned into the store's own [`Filter`], so a route selects exactly what
//! `logtui query` with the same options would: one matcher, in `store::read::filter`.

use crate::record::{SourceKind, parse_level_arg};
use crate::store::Filter;
use serde::{Deserialize, Serialize};

/// One rule: a match and exactly one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// What the route is called in the stats, the status bar and the exit summary.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Which records; every condition given must hold, none given matches every record.
    #[serde(default, rename = "match")]
    pub when: RouteMatch,
    /// Publish each record to a Redis channel in Smarter's payload shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisRoute>,
    /// Send each record as a SocketHandler frame to `HOST:PORT` (another logtui, a Python receiver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<String>,
    /// Append each record as a JSON line to this file, or to stdout for `-`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jsonl: Option<String>,
    /// Do not store matching records at all (counted as ignored, and per route).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// Records waiting for a forwarding target; past it, new ones are dropped and counted.
    #[serde(default = "default_queue")]
    pub queue: usize,
}

/// Which records a route takes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// At or above this level (name or number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Logger name GLOB (`app.*`), case-sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// tcp, udp, http, redis or internal. Without it, logtui's own records (threshold alerts)
    /// are left out, as `logtui query` leaves them out: another logtui makes its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Origin GLOB (peer address, socket path, channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Exact job name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Words that must occur in the message or traceback, as `logtui query --search` reads them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Where a Redis route publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisRoute {
    /// `redis://[user:password@]HOST:PORT[/DB]` or `rediss://…`.
    pub url: String,
    /// The channel PUBLISHed to (`logs:alerts`).
    pub channel: String,
    /// Also `XADD` each payload to this stream (`MAXLEN ~ 1000`, field `data`), as Smarter
    /// does to `stream:<channel>` for its console's history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
}

/// Records a route's queue holds by default: a few seconds of a busy service's errors.
pub const DEFAULT_QUEUE: usize = 10_000;
/// The largest queue a route may ask for.
pub const MAX_QUEUE: usize = 1_000_000;

fn default_queue() -> usize {
    DEFAULT_QUEUE
}

/// What a route does with the records it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    Redis(&'a RedisRoute),
    Tcp(&'a str),
    Jsonl(&'a str),
    Drop,
}

impl RouteConfig {
    /// The route's one action, or why it has none or several.
    pub fn action(&self) -> Result<Action<'_>, String> {
        let mut found = Vec::new();
        if let Some(r) = &self.redis {
            found.push(Action::Redis(r));
        }
        if let Some(t) = &self.tcp {
            found.push(Action::Tcp(t));
        }
        if let Some(j) = &self.jsonl {
            found.push(Action::Jsonl(j));
        }
        if self.drop {
            found.push(Action::Drop);
        }
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err("needs one action: redis = { url, channel }, tcp = \"HOST:PORT\", jsonl = \"PATH\" (or \"-\"), or drop = true".into()),
            _ => Err("has more than one action; give each action a route of its own".into()),
        }
    }

    /// Its name, or `route[i]` when it has none.
    pub fn label(&self, i: usize) -> String {
        match self.name.trim() {
            "" => format!("route[{i}]"),
            n => n.to_owned(),
        }
    }
}

impl RouteMatch {
    /// The store filter that selects what this match does; `Err((field, why))` names the
    /// field it cannot use.
    pub fn filter(&self) -> Result<Filter, (&'static str, String)> {
        let min_level = match &self.level {
            Some(l) => Some(
                parse_level_arg(l)
                    .ok_or_else(|| ("level", format!("{l:?} is not a level name or number")))?,
            ),
            None => None,
        };
        let source = match &self.source {
            Some(s) => Some(SourceKind::parse(s).ok_or_else(|| {
                (
                    "source",
                    format!("{s:?} is not one of tcp, udp, http, redis, internal"),
                )
            })?),
            None => None,
        };
        let f = Filter {
            min_level,
            logger: self.logger.clone(),
            sources: source.into_iter().collect(),
            hide_internal: source.is_none(),
            origins: self.origin.iter().cloned().collect(),
            jobs: self.job.iter().cloned().collect(),
            search: self.text.clone(),
            ..Filter::default()
        };
        f.compile().map_err(|e| {
            let field = match e {
                crate::store::StoreError::GlobTooLong { field, .. } => field,
                _ => "text",
            };
            (field, e.to_string())
        })?;
        Ok(f)
    }
}

/// Checks every route as `record` will use it; the error names the key (`route[0].match.level`).
/// `own_tcp` is this logtui's TCP listener, which no route may forward to (a loop).
pub fn check_routes(routes: &[RouteConfig], own_tcp: &str) -> Result<(), (String, String)> {
    for (i, r) in routes.iter().enumerate() {
        let key = |k: &str| format!("route[{i}].{k}");
        r.when
            .filter()
            .map_err(|(field, why)| (key(&format!("match.{field}")), why))?;
        if !(1..=MAX_QUEUE).contains(&r.queue) {
            return Err((
                key("queue"),
                format!("must be between 1 and {MAX_QUEUE} records, not {}", r.queue),
            ));
        }
        match r.action().map_err(|why| (format!("route[{i}]"), why))? {
            Action::Redis(x) => {
                redis::parse_redis_url(&x.url).ok_or_else(|| {
                    (
                        key("redis.url"),
                        format!(
                            "{:?} is not a Redis URL (redis://HOST:PORT[/DB], rediss://…)",
                            x.url
                        ),
                    )
                })?;
                if x.channel.trim().is_empty() {
                    return Err((key("redis.channel"), "cannot be empty".into()));
                }
                if x.stream.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    return Err((
                        key("redis.stream"),
                        "cannot be empty (leave it out for no XADD)".into(),
                    ));
                }
            }
            Action::Tcp(t) => {
                let t = t.trim();
                match t.rsplit_once(':') {
                    Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
                    _ => {
                        return Err((
                            key("tcp"),
                            format!("{t:?} is not HOST:PORT (for example 10.0.0.5:9020)"),
                        ));
                    }
                }
                if t == own_tcp.trim() {
                    return Err((
                        key("tcp"),
                        format!(
                            "{t} is this logtui's own --tcp listener: forwarding to it would loop"
                        ),
                    ));
                }
            }
            Action::Jsonl(p) => {
                if p.trim().is_empty() {
                    return Err((key("jsonl"), "needs a file path, or - for stdout".into()));
                }
            }
            Action::Drop => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(toml_text: &str) -> Vec<RouteConfig> {
        #[derive(Deserialize)]
        struct F {
            route: Vec<RouteConfig>,
        }
        toml::from_str::<F>(toml_text).unwrap().route
    }

    #[test]
    fn the_alerts_example_reads_and_checks() {
        let r = routes(
            "[[route]]\nname = \"alerts\"\nmatch = { level = \"ERROR\" }\nredis = { url = \"redis://127.0.0.1:6379\", channel = \"logs:alerts\", stream = \"stream:logs:alerts\" }\n",
        );
        assert_eq!(check_routes(&r, "127.0.0.1:9020"), Ok(()));
        assert_eq!(r[0].queue, DEFAULT_QUEUE);
        assert!(matches!(r[0].action(), Ok(Action::Redis(x)) if x.channel == "logs:alerts"));
        assert_eq!(r[0].when.filter().unwrap().min_level, Some(40));
    }

    #[test]
    fn routes_round_trip_through_the_printed_config() {
        let c = crate::config::Config {
            route: routes(
                "[[route]]\nname = \"a\"\nmatch = { level = \"ERROR\", logger = \"app.*\" }\ntcp = \"10.0.0.5:9020\"\nqueue = 5\n[[route]]\ndrop = true\nmatch = { text = \"healthcheck\" }\n",
            ),
            ..Default::default()
        };
        let back: crate::config::Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn bad_routes_name_their_key() {
        let key = |t: &str| check_routes(&routes(t), "127.0.0.1:9020").unwrap_err().0;
        assert_eq!(
            key("[[route]]\nmatch = { level = \"LOUD\" }\ndrop = true\n"),
            "route[0].match.level"
        );
        assert_eq!(
            key("[[route]]\ndrop = true\n[[route]]\nmatch = { source = \"smtp\" }\ndrop = true\n"),
            "route[1].match.source"
        );
        assert_eq!(key("[[route]]\nname = \"x\"\n"), "route[0]");
        assert_eq!(key("[[route]]\ntcp = \"a:1\"\ndrop = true\n"), "route[0]");
        assert_eq!(key("[[route]]\ntcp = \"nowhere\"\n"), "route[0].tcp");
        assert_eq!(key("[[route]]\ntcp = \"127.0.0.1:9020\"\n"), "route[0].tcp");
        assert_eq!(
            key("[[route]]\nredis = { url = \"http://x\", channel = \"c\" }\n"),
            "route[0].redis.url"
        );
        assert_eq!(
            key("[[route]]\njsonl = \"-\"\nqueue = 0\n"),
            "route[0].queue"
        );
        assert!(toml::from_str::<RouteMatch>("levle = \"ERROR\"\n").is_err());
    }
}
