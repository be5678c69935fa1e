//! `GET /v1/cluster`: this node, its lease, the nodes etcd knows, how many objects each
//! claims, and what this node counted (forwards, takeovers, rebuilds, fenced commits, lost
//! leases). 404 on a host that is not a cluster node.

use hyper::{Response, StatusCode};
use serde_json::json;

use super::super::response::{error_response, json_response, Body};
use crate::host::Host;

pub async fn show(host: &Host) -> Response<Body> {
    let Some(cluster) = host.registry.cluster() else {
        return error_response(
            StatusCode::NOT_FOUND,
            "this host is not a cluster node (its config has no [cluster])",
        );
    };
    let (nodes, placement) = match tokio::try_join!(cluster.nodes(), cluster.placement()) {
        Ok(found) => found,
        Err(e) => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the cluster's state from etcd: {e:#}"),
            )
        }
    };
    let (lease, serving) = cluster.lease();
    let stats = &cluster.stats;
    let nodes: Vec<_> = nodes
        .into_iter()
        .map(|(node, address)| {
            let objects = placement.get(&node).copied().unwrap_or(0);
            json!({ "node": node, "address": address, "objects": objects })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "node": cluster.node,
            "advertise": cluster.advertise,
            "lease": format!("{lease:x}"),
            "serving": serving,
            "nodes": nodes,
            "counts": {
                "forwarded": stats.forwarded.get(),
                "takeovers": stats.takeovers.get(),
                "rebuilds": stats.rebuilds.get(),
                "fenced": stats.fenced.get(),
                "leasesLost": stats.leases_lost.get(),
            },
        }),
    )
}
