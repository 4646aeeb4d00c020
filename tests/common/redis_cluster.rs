//! A real three-node Redis Cluster of the test's own: three `redis-server --cluster-enabled yes`
//! on free loopback ports, joined by `redis-cli --cluster create`, waited on until `cluster_state:ok`.

use super::redis_server::RedisServer;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Three primaries holding every slot, no replicas; killed on drop with their servers.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "2000",
                ])
            })
            .collect();
        // Each node writes its own nodes.conf into its working directory (the server's temp dir).
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let c = RedisCluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !c
            .nodes
            .iter()
            .all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(
                Instant::now() < deadline,
                "the cluster did not reach cluster_state:ok within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    /// Seed URLs, one per node (`redis://127.0.0.1:PORT`).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.url()).collect()
    }

    /// `redis-cli -c` against the first node: follows MOVED redirections to the slot's owner.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args([
                "-c",
                "-h",
                "127.0.0.1",
                "-p",
                &self.nodes[0].port.to_string(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli -c");
        assert!(out.status.success(), "redis-cli -c {args:?} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The node that owns `key`'s slot: the one that answers for it rather than redirecting.
    pub fn owner_of(&self, key: &str) -> &RedisServer {
        self.nodes
            .iter()
            .find(|n| !n.cli(&["EXISTS", key]).contains("MOVED"))
            .expect("a node owns every slot")
    }

    /// A node other than `node` (the seed for a test whose subject lives on `node`).
    pub fn other_than(&self, node: &RedisServer) -> &RedisServer {
        self.nodes
            .iter()
            .find(|n| n.port != node.port)
            .expect("three nodes")
    }

    /// For i = 0, 1, …, the first `name(i)` whose `key(name)` each node owns, in node order.
    pub fn one_per_node(
        &self,
        name: impl Fn(usize) -> String,
        key: impl Fn(&str) -> String,
    ) -> Vec<String> {
        let mut found: Vec<Option<String>> = vec![None; self.nodes.len()];
        for i in 0..1000 {
            let n = name(i);
            let port = self.owner_of(&key(&n)).port;
            let at = self
                .nodes
                .iter()
                .position(|node| node.port == port)
                .expect("the owner is one of the nodes");
            if found[at].is_none() {
                found[at] = Some(n);
            }
            if found.iter().all(Option::is_some) {
                break;
            }
        }
        found
            .into_iter()
            .map(|n| n.expect("some name hashes to every node"))
            .collect()
    }
}
