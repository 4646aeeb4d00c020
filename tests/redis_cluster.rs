//! Redis Cluster: a real three-node cluster of the test's own; logtui subscribes through it.

mod common;

use common::redis_cluster::RedisCluster;

#[test]
fn own_cluster_starts_with_every_slot_served() {
    let c = RedisCluster::start();
    let info = c.nodes[0].cli(&["CLUSTER", "INFO"]);
    assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    assert!(info.contains("cluster_known_nodes:3"), "{info}");
    c.cli(&["SET", "a", "1"]);
    c.cli(&["SET", "b", "2"]);
    assert_eq!(c.cli(&["GET", "a"]).trim(), "1");
    // Keys live on different nodes, and each node redirects for keys it does not own.
    let owners: std::collections::BTreeSet<u16> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|k| c.owner_of(k).port)
        .collect();
    assert!(owners.len() > 1, "{owners:?}");
}
