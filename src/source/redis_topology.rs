//! A Redis Cluster's primaries, read from `CLUSTER NODES`: what `logtui channels` asks every
//! node about, and where a gap's backfill SCANs for streams (SCAN lists one node's keys only).

/// The URLs of the primaries `nodes` (a `CLUSTER NODES` reply) names, with the seed URL's
/// scheme, credentials and database (a node that has failed, or has no address yet, is left
/// out).
pub fn primary_urls(seed: &str, nodes: &str) -> redis::RedisResult<Vec<String>> {
    let base = redis::parse_redis_url(seed).ok_or_else(|| {
        redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, "not a Redis URL"))
    })?;
    let urls: Vec<String> = primary_addrs(nodes)
        .into_iter()
        .filter_map(|(host, port)| {
            let mut u = base.clone();
            let host = match host.contains(':') {
                true => format!("[{host}]"),
                false => host,
            };
            u.set_host(Some(&host)).ok()?;
            u.set_port(Some(port)).ok()?;
            Some(u.to_string())
        })
        .collect();
    match urls.is_empty() {
        true => Err(redis::RedisError::from((
            redis::ErrorKind::ClusterConnectionNotFound,
            "CLUSTER NODES named no primary with an address",
        ))),
        false => Ok(urls),
    }
}

/// `(host, port)` of each primary in `CLUSTER NODES` output, that is neither failed nor
/// without an address. A line: `id ip:port@cport[,hostname] flags master-id ping pong epoch
/// link-state slot…`.
fn primary_addrs(nodes: &str) -> Vec<(String, u16)> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_id, addr, flags) = (f.next()?, f.next()?, f.next()?);
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master")
                || flags
                    .iter()
                    .any(|x| x.starts_with("fail") || *x == "noaddr")
            {
                return None;
            }
            let addr = addr.split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
            (!host.is_empty()).then(|| (host.to_owned(), port))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c3 127.0.0.1:30004@31004 slave e7d1 0 1426238317239 4 connected
67ed 127.0.0.1:30002@31002,node-b master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:30003@31003 myself,master - 0 0 3 connected 10923-16383
6ec2 127.0.0.1:30005@31005 master,fail - 1426238316232 1426238315000 5 disconnected
824f :0@0 master,noaddr - 0 0 0 disconnected
e7d1 ::1:30001@31001 master - 0 0 1 connected 0-5460
";

    #[test]
    fn cluster_nodes_give_the_primaries_that_can_answer() {
        assert_eq!(
            primary_addrs(NODES),
            [
                ("127.0.0.1".to_string(), 30002),
                ("127.0.0.1".to_string(), 30003),
                ("::1".to_string(), 30001),
            ]
        );
    }

    #[test]
    fn primary_urls_keep_the_seeds_credentials() {
        let urls = primary_urls("redis://lt:pw@127.0.0.1:7000/0", NODES).unwrap();
        assert_eq!(
            urls,
            [
                "redis://lt:pw@127.0.0.1:30002/0",
                "redis://lt:pw@127.0.0.1:30003/0",
                "redis://lt:pw@[::1]:30001/0",
            ]
        );
        assert!(primary_urls("redis://h:1", "").is_err());
    }
}
